import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePlatform, platformMatches, selectPlatform } from "../../../src/registry/platform.ts";

test("platform normalization and matching as containerd does", () => {
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.ok(
    platformMatches(
      { os: "linux", architecture: "x86_64" },
      { os: "linux", architecture: "amd64" },
    ),
  );
  assert.ok(
    !platformMatches(
      { os: "linux", architecture: "arm", variant: "v6" },
      { os: "linux", architecture: "arm" },
    ),
  );
  assert.throws(() => parsePlatform("linux"), { code: "INVALID_ARGUMENT" });
  const entries = [
    { mediaType: "m", digest: "d1", size: 1, platform: { os: "linux", architecture: "amd64" } },
    {
      mediaType: "m",
      digest: "d2",
      size: 1,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
    { mediaType: "m", digest: "d3", size: 1 },
  ];
  assert.equal(selectPlatform(entries, parsePlatform("linux/arm64"))?.digest, "d2");
  assert.equal(selectPlatform(entries, parsePlatform("windows/amd64")), undefined);
});
