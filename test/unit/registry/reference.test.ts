import { test } from "node:test";
import assert from "node:assert/strict";
import { formatReference, parseReference } from "../../../src/registry/reference.ts";

const d = "sha256:" + "a".repeat(64);

test("docker.io defaults: library/ and latest", () => {
  assert.deepEqual(parseReference("busybox"), {
    registry: "docker.io",
    repository: "library/busybox",
    tag: "latest",
    digest: undefined,
  });
  assert.equal(parseReference("user/app:1.0").repository, "user/app");
  assert.equal(parseReference("docker.io/busybox").repository, "library/busybox");
  assert.equal(parseReference("index.docker.io/library/busybox").registry, "docker.io");
});

test("hosts, ports, localhost, tags and digests", () => {
  assert.deepEqual(parseReference("localhost:5000/a/b:t"), {
    registry: "localhost:5000",
    repository: "a/b",
    tag: "t",
    digest: undefined,
  });
  assert.deepEqual(parseReference("localhost/x"), {
    registry: "localhost",
    repository: "x",
    tag: "latest",
    digest: undefined,
  });
  assert.deepEqual(parseReference(`ghcr.io/o/r@${d}`), {
    registry: "ghcr.io",
    repository: "o/r",
    tag: undefined,
    digest: d,
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/r:v@${d}`), {
    registry: "127.0.0.1:5000",
    repository: "r",
    tag: "v",
    digest: d,
  });
  assert.equal(formatReference(parseReference("busybox")), "docker.io/library/busybox:latest");
});

test("malformed references are INVALID_ARGUMENT", () => {
  for (const bad of ["", "UPPER/case", "a//b", "x:bad tag", `x@sha256:short`, "host:5000/"]) {
    assert.throws(() => parseReference(bad), { code: "INVALID_ARGUMENT" }, bad);
  }
});
