import { test } from "node:test";
import assert from "node:assert/strict";
import { parseChallenges } from "../../../src/registry/auth-challenge.ts";

test("bearer challenge with quoted params, including commas inside quotes", () => {
  const [c] = parseChallenges(
    'Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push"',
  );
  assert.equal(c?.scheme, "bearer");
  assert.deepEqual(c?.params, {
    realm: "https://auth.io/token",
    service: "registry.io",
    scope: "repository:a/b:pull,push",
  });
});

test("several challenges, token params, escapes, and an array of headers", () => {
  const out = parseChallenges([
    'Basic realm="x \\"y\\""',
    "Bearer realm=https://t, error=invalid_token",
  ]);
  assert.deepEqual(out, [
    { scheme: "basic", params: { realm: 'x "y"' } },
    { scheme: "bearer", params: { realm: "https://t", error: "invalid_token" } },
  ]);
  assert.deepEqual(
    parseChallenges('Basic realm="a", Bearer realm="b"').map((c) => c.scheme),
    ["basic", "bearer"],
  );
  assert.deepEqual(parseChallenges(undefined), []);
});
