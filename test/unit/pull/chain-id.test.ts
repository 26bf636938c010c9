import { test } from "node:test";
import assert from "node:assert/strict";
import { chainIds } from "../../../src/pull/index.ts";

// The vectors of the image spec's identity.ChainID tests.
test("chain IDs follow the OCI image spec", () => {
  assert.deepEqual(chainIds([]), []);
  assert.deepEqual(chainIds(["sha256:a"]), ["sha256:a"]);
  assert.deepEqual(chainIds(["sha256:a", "sha256:b", "sha256:c"]), [
    "sha256:a",
    "sha256:970a948bffa8de94d6e22d747ba8c95030e6e546909f98f54e99a13005e173a8",
    "sha256:dee159b33409cefa3f6eda71539f006014283e9d9130c18a1dea7bd8a33c9b1b",
  ]);
});
