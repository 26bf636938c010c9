import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { matchesAny, parseFilter, parseFilters } from "../../../src/agent/snapshot/filters.ts";
import type { SnapshotInfo } from "../../../src/agent/snapshot/types.ts";
import { StargzError } from "../../../src/util/errors.ts";

const info = (over: Partial<SnapshotInfo>): SnapshotInfo => ({
  name: "n",
  parent: "",
  kind: "committed",
  labels: {},
  createdUs: 0,
  updatedUs: 0,
  ...over,
});

const match = (filters: string[], i: SnapshotInfo): boolean => matchesAny(parseFilters(filters), i);

test("equality, inequality, regex and presence on name, parent, kind, labels", () => {
  const s = info({
    name: "default/1/sha256:ab",
    parent: "p",
    kind: "active",
    labels: { "a.b/c": "x y", plain: "1" },
  });
  assert.ok(match(["name==default/1/sha256:ab"], s));
  assert.ok(match(["parent==p,kind==active"], s));
  assert.ok(!match(["parent==p,kind==view"], s));
  assert.ok(match(["kind!=view"], s));
  assert.ok(match(['labels."a.b/c"=="x y"'], s));
  assert.ok(match(["labels.plain==1"], s));
  assert.ok(match(['labels."a.b/c"'], s));
  assert.ok(!match(["labels.missing"], s));
  assert.ok(!match(["labels.missing!=1"], s));
  assert.ok(match(["name~=^default/"], s));
  assert.ok(match(["name~=/sha256:[a-f]+$/"], s));
  assert.ok(match(['labels."a.b/c"~=|^x|'], s));
  assert.ok(match(["name==nope", "kind==active"], s), "filters are ORed");
  assert.ok(match([], s));
  assert.ok(match([" kind == active , parent==p "], s), "spaces around tokens");
});

test("quoted values keep commas and escaped quotes", () => {
  const s = info({ labels: { k: 'a,"b"' } });
  assert.ok(match(['labels.k=="a,\\"b\\""'], s));
});

test("malformed filters are INVALID_ARGUMENT", () => {
  for (const bad of [
    "name==",
    "==x",
    "name==a,",
    'labels."unterminated',
    "name~=(",
    "name=x",
    "kind==a b",
  ]) {
    assert.throws(
      () => parseFilter(bad),
      (err: unknown) => err instanceof StargzError && err.code === "INVALID_ARGUMENT",
      bad,
    );
  }
});

test("any label value round-trips through a quoted equality filter", () => {
  fc.assert(
    fc.property(fc.string(), fc.string({ minLength: 1 }), (value, key) => {
      const quote = (s: string): string => `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
      const s = info({ labels: { [key]: value } });
      return match([`labels.${quote(key)}==${quote(value)}`], s);
    }),
  );
});
