/**
 * Random operation sequences against the Snapshotter and against a small
 * model of containerd's rules; every call must agree on the outcome (the
 * error code, or success and the shape of the mounts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Snapshotter } from "../../../src/agent/snapshot/snapshotter.ts";
import type { Kind } from "../../../src/agent/snapshot/types.ts";
import { StargzError } from "../../../src/util/errors.ts";
import { makeTempDir } from "../../support/tmp.ts";

type Op =
  | { op: "prepare" | "view"; key: string; parent: string }
  | { op: "commit"; name: string; key: string }
  | { op: "remove" | "mounts" | "stat"; key: string };

interface Entry {
  kind: Kind;
  parent: string;
}

const names = fc.constantFrom("a", "b", "c", "d", "e");
const parents = fc.constantFrom("", "a", "b", "c", "d", "e");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constantFrom("prepare" as const, "view" as const),
    key: names,
    parent: parents,
  }),
  fc.record({ op: fc.constant("commit" as const), name: names, key: names }),
  fc.record({
    op: fc.constantFrom("remove" as const, "mounts" as const, "stat" as const),
    key: names,
  }),
);

/** The outcome containerd's rules give, applying the change to `m` on success. */
function expected(m: Map<string, Entry>, o: Op): string {
  switch (o.op) {
    case "prepare":
    case "view":
      return expectCreate(m, o.op === "prepare" ? "active" : "view", o.key, o.parent);
    case "commit":
      return expectCommit(m, o.name, o.key);
    case "remove":
      return expectRemove(m, o.key);
    case "mounts":
      return expectMounts(m, o.key);
    case "stat": {
      const e = m.get(o.key);
      return e ? `ok ${e.kind} ${e.parent}` : "NOT_FOUND";
    }
  }
}

function expectCreate(m: Map<string, Entry>, kind: Kind, key: string, parent: string): string {
  if (m.has(key)) return "ALREADY_EXISTS";
  if (parent !== "" && !m.has(parent)) return "NOT_FOUND";
  if (parent !== "" && m.get(parent)?.kind !== "committed") return "INVALID_ARGUMENT";
  m.set(key, { kind, parent });
  return `ok ${mountShape(m, key)}`;
}

function expectCommit(m: Map<string, Entry>, name: string, key: string): string {
  const e = m.get(key);
  if (!e) return "NOT_FOUND";
  if (m.has(name)) return "ALREADY_EXISTS";
  if (e.kind !== "active") return "FAILED_PRECONDITION";
  m.delete(key);
  m.set(name, { kind: "committed", parent: e.parent });
  return "ok";
}

function expectRemove(m: Map<string, Entry>, key: string): string {
  if (!m.has(key)) return "NOT_FOUND";
  if ([...m.values()].some((c) => c.parent === key)) return "FAILED_PRECONDITION";
  m.delete(key);
  return "ok";
}

function expectMounts(m: Map<string, Entry>, key: string): string {
  const e = m.get(key);
  if (!e) return "NOT_FOUND";
  if (e.kind === "committed") return "FAILED_PRECONDITION";
  return `ok ${mountShape(m, key)}`;
}

function mountShape(m: Map<string, Entry>, key: string): string {
  const e = m.get(key) as Entry;
  let depth = 0;
  for (let p = e.parent; p !== ""; p = (m.get(p) as Entry).parent) depth++;
  if (depth === 0) return `bind ${e.kind === "view" ? "ro" : "rw"}`;
  if (e.kind === "view" && depth === 1) return "bind ro";
  return `overlay ${depth}${e.kind === "active" ? " upper" : ""}`;
}

async function actual(sn: Snapshotter, o: Op): Promise<string> {
  try {
    switch (o.op) {
      case "prepare":
        return `ok ${shape(await sn.prepare(o.key, o.parent, {}))}`;
      case "view":
        return `ok ${shape(await sn.view(o.key, o.parent, {}))}`;
      case "commit":
        await sn.commit(o.name, o.key, {});
        return "ok";
      case "remove":
        await sn.remove(o.key);
        return "ok";
      case "mounts":
        return `ok ${shape(await sn.mounts(o.key))}`;
      case "stat": {
        const i = await sn.stat(o.key);
        return `ok ${i.kind} ${i.parent}`;
      }
    }
  } catch (err) {
    if (err instanceof StargzError) return err.code;
    throw err;
  }
}

function shape(mounts: { type: string; options: readonly string[] }[]): string {
  const [m] = mounts;
  if (!m) return "none";
  if (m.type === "bind") return `bind ${m.options[0]}`;
  const lower = m.options.find((o) => o.startsWith("lowerdir=")) ?? "";
  const upper = m.options.some((o) => o.startsWith("upperdir=")) ? " upper" : "";
  return `overlay ${lower.split(":").length}${upper}`;
}

test("the snapshotter agrees with a model of containerd's rules", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const tmp = await makeTempDir("sgz-unit-");
      const sn = await Snapshotter.open({ root: tmp.path });
      try {
        const model = new Map<string, Entry>();
        for (const [i, o] of ops.entries()) {
          assert.equal(await actual(sn, o), expected(model, o), `step ${i}: ${JSON.stringify(o)}`);
        }
      } finally {
        await sn.close();
        await tmp.remove();
      }
    }),
    { numRuns: 60 },
  );
});
