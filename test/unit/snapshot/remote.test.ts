/**
 * The seam for issue 5: a fake FileSystem stands in for FUSE. Prepare with
 * containerd.io/snapshot.ref mounts the layer, commits it under the target and
 * answers ALREADY_EXISTS; a refusing filesystem falls back to a normal
 * active snapshot; removal unmounts; a restart remounts what fails its check.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { rejectsWith, startFixture } from "./fixture.ts";
import type { FileSystem, Labels } from "../../../src/agent/snapshot/types.ts";
import { StargzError } from "../../../src/util/errors.ts";

class FakeFs implements FileSystem {
  readonly mounted = new Map<string, Labels>();
  readonly calls: string[] = [];
  refuse = (labels: Labels): boolean => labels["test/remote"] !== "yes";

  async mount(mountpoint: string, labels: Labels, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.calls.push(`mount ${mountpoint}`);
    if (this.refuse(labels)) throw new Error("not an eStargz layer");
    this.mounted.set(mountpoint, labels);
  }
  async check(mountpoint: string): Promise<void> {
    this.calls.push(`check ${mountpoint}`);
    if (!this.mounted.has(mountpoint)) throw new StargzError("NOT_FOUND", "not mounted");
  }
  async unmount(mountpoint: string): Promise<void> {
    this.calls.push(`unmount ${mountpoint}`);
    this.mounted.delete(mountpoint);
  }
}

test("remote prepare commits under the target and answers ALREADY_EXISTS", async () => {
  const fs = new FakeFs();
  const f = await startFixture({ fileSystem: fs });
  try {
    const labels = { "containerd.io/snapshot.ref": "sha256:layer1", "test/remote": "yes" };
    await rejectsWith(f.client.prepare("extract-1", "", labels), status.ALREADY_EXISTS);
    const info = await f.client.stat("sha256:layer1");
    assert.equal(info.kind, "COMMITTED");
    assert.equal(info.labels["containerd.io/snapshot/remote"], "remote snapshot");
    await rejectsWith(f.client.stat("extract-1"), status.NOT_FOUND);
    assert.equal(fs.mounted.size, 1);
    await rejectsWith(f.client.prepare("extract-2", "", labels), status.ALREADY_EXISTS);
    assert.equal(
      fs.calls.filter((c) => c.startsWith("mount")).length,
      1,
      "an existing target is not mounted again",
    );

    const mounts = await f.client.prepare("container", "sha256:layer1");
    assert.equal(mounts[0]?.type, "overlay");
    assert.ok(
      mounts[0]?.options.some((o) => o.startsWith("lowerdir=") && fs.mounted.has(o.slice(9))),
    );

    fs.mounted.clear();
    await f.restart();
    assert.equal(fs.mounted.size, 1, "restart remounts a remote snapshot whose check fails");

    await f.client.remove("container");
    await f.client.remove("sha256:layer1");
    assert.equal(fs.mounted.size, 0, "removal unmounts");
  } finally {
    await f.close();
  }
});

test("a layer the filesystem refuses falls back to an ordinary active snapshot", async () => {
  const fs = new FakeFs();
  const f = await startFixture({ fileSystem: fs });
  try {
    const mounts = await f.client.prepare("extract-x", "", {
      "containerd.io/snapshot.ref": "sha256:plain",
    });
    assert.equal(mounts[0]?.type, "bind");
    assert.equal((await f.client.stat("extract-x")).kind, "ACTIVE");
    await f.client.commit("sha256:plain", "extract-x");
    assert.equal(
      (await f.client.stat("sha256:plain")).labels["containerd.io/snapshot/remote"],
      undefined,
    );
  } finally {
    await f.close();
  }
});

test("Prepare, View and Mounts on a remote chain check the remote layers first", async () => {
  const fs = new FakeFs();
  const f = await startFixture({ fileSystem: fs });
  try {
    const labels = { "containerd.io/snapshot.ref": "sha256:l1", "test/remote": "yes" };
    await rejectsWith(f.client.prepare("extract-1", "", labels), status.ALREADY_EXISTS);
    fs.calls.length = 0;
    await f.client.prepare("c1", "sha256:l1");
    await f.client.view("v1", "sha256:l1");
    await f.client.mounts("c1");
    assert.equal(fs.calls.filter((c) => c.startsWith("check")).length, 3);

    fs.mounted.clear();
    fs.refuse = () => true;
    await rejectsWith(f.client.prepare("c2", "sha256:l1"), status.UNAVAILABLE);
    await rejectsWith(f.client.stat("c2"), status.NOT_FOUND);
    await rejectsWith(f.client.mounts("c1"), status.UNAVAILABLE);
  } finally {
    await f.close();
  }
});

test("a remote snapshot that cannot be remounted at start is reported, kept, and mounted on demand later", async () => {
  const fs = new FakeFs();
  const reported: string[] = [];
  const f = await startFixture({
    fileSystem: fs,
    onRestoreFailure: (_labels, mountpoint) => reported.push(mountpoint),
  });
  try {
    const labels = { "containerd.io/snapshot.ref": "sha256:l1", "test/remote": "yes" };
    await rejectsWith(f.client.prepare("extract-1", "", labels), status.ALREADY_EXISTS);
    fs.mounted.clear();
    fs.refuse = () => true;
    await f.restart();
    assert.equal(reported.length, 1);
    assert.equal((await f.client.stat("sha256:l1")).kind, "COMMITTED");
    await rejectsWith(f.client.prepare("c1", "sha256:l1"), status.UNAVAILABLE);
    fs.refuse = () => false;
    const mounts = await f.client.prepare("c1", "sha256:l1");
    assert.equal(mounts[0]?.type, "overlay", "mounted again on demand once it can be");
    assert.equal(fs.mounted.size, 1);
  } finally {
    await f.close();
  }
});
