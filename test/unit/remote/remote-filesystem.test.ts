/**
 * RemoteFileSystem with a fake mounter and a fake resolver: labels to layer,
 * every fallback reason, the availability check (rate limit, one refresh),
 * the bounded prefetch wait, neighbours, stale mounts and restore reports.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EStargzError, type LayerReader } from "../../../src/estargz/index.ts";
import type { Layer, LayerMounter, LayerStateJson } from "../../../src/agent/fs/types.ts";
import {
  ImageStates,
  RemoteFileSystem,
  RemoteMountError,
  type FallbackReason,
  type LayerResolving,
  type RemoteMetrics,
} from "../../../src/agent/remote/index.ts";
import { StargzError } from "../../../src/util/errors.ts";
import { silentLogger } from "../../../src/util/log.ts";

const toc = `sha256:${"a".repeat(64)}`;
const l1 = `sha256:${"1".repeat(64)}`;
const l2 = `sha256:${"2".repeat(64)}`;
const l3 = `sha256:${"3".repeat(64)}`;
const image = "127.0.0.1:5000/app:v1";

function labels(extra: Record<string, string> = {}): Record<string, string> {
  return {
    "containerd.io/snapshot/remote/stargz.reference": image,
    "containerd.io/snapshot/remote/stargz.digest": l2,
    "containerd.io/snapshot/remote/stargz.layers": `${l1},${l2},${l3}`,
    "containerd.io/snapshot/stargz/toc.digest": toc,
    ...extra,
  };
}

function fakeLayer(digest: string, tocDigest = toc): Layer {
  return {
    digest,
    reader: { tocDigest } as unknown as LayerReader,
    source: { size: 100, readRanges: async () => [] },
  };
}

class FakeMounter implements LayerMounter {
  readonly mounted = new Set<string>();
  readonly waits: number[] = [];
  stale = new Set<string>();
  prefetchDone = true;
  async mount(mountpoint: string): Promise<void> {
    if (this.stale.has(mountpoint))
      throw new StargzError("FAILED_PRECONDITION", "something is already mounted here");
    this.mounted.add(mountpoint);
  }
  async check(mountpoint: string): Promise<void> {
    if (!this.mounted.has(mountpoint)) throw new StargzError("UNAVAILABLE", "gone");
  }
  async unmount(mountpoint: string): Promise<void> {
    this.mounted.delete(mountpoint);
  }
  async waitForPrefetch(_mountpoint: string, timeoutMs: number): Promise<boolean> {
    this.waits.push(timeoutMs);
    return this.prefetchDone;
  }
  state(): LayerStateJson {
    throw new Error("unused");
  }
}

class FakeResolver implements LayerResolving {
  readonly resolved: string[] = [];
  readonly forgotten: string[] = [];
  probes = 0;
  failResolve: Error | undefined;
  tocDigest = toc;
  probeResults: boolean[] = [];
  async resolve(_image: string, digest: string): Promise<Layer> {
    this.resolved.push(digest);
    if (this.failResolve && digest === l2) throw this.failResolve;
    return fakeLayer(digest, this.tocDigest);
  }
  forget(_image: string, digest: string): void {
    this.forgotten.push(digest);
  }
  async probe(): Promise<void> {
    this.probes++;
    if (this.probeResults.shift() === false) throw new StargzError("UNAVAILABLE", "refused");
  }
}

interface Counts {
  mounted: number;
  fallback: FallbackReason[];
  restore: FallbackReason[];
  checks: string[];
}

async function setup(
  options: Partial<ConstructorParameters<typeof RemoteFileSystem>[0]> = {},
): Promise<{
  fs: RemoteFileSystem;
  mounter: FakeMounter;
  resolver: FakeResolver;
  states: ImageStates;
  counts: Counts;
  clock: { now: number };
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "sgz-remote-unit-"));
  const mounter = new FakeMounter();
  const resolver = new FakeResolver();
  const states = new ImageStates({ dir, logger: silentLogger() });
  const counts: Counts = { mounted: 0, fallback: [], restore: [], checks: [] };
  const metrics: RemoteMetrics = {
    mounted: () => counts.mounted++,
    fallback: (r) => counts.fallback.push(r),
    restoreFailed: (r) => counts.restore.push(r),
    check: (r) => counts.checks.push(r),
  };
  const clock = { now: 1_000_000 };
  const fs = new RemoteFileSystem({
    mounter,
    resolver,
    states,
    metrics,
    logger: silentLogger(),
    now: () => clock.now,
    ...options,
  });
  return {
    fs,
    mounter,
    resolver,
    states,
    counts,
    clock,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

const signal = new AbortController().signal;

test("rpull labels mount the layer; neighbours are resolved too; the image state says remote", async () => {
  const t = await setup();
  try {
    await t.fs.mount("/mnt/a", labels(), signal);
    assert.ok(t.mounter.mounted.has("/mnt/a"));
    assert.equal(t.counts.mounted, 1);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual([...t.resolver.resolved].sort(), [l1, l2, l3].sort());
    await t.states.flush();
    assert.equal((await t.states.read(image))?.layers[l2]?.mode, "remote");
  } finally {
    await t.cleanup();
  }
});

test("CRI labels are read as well", async () => {
  const t = await setup();
  try {
    await t.fs.mount(
      "/mnt/a",
      {
        "containerd.io/snapshot/cri.image-ref": image,
        "containerd.io/snapshot/cri.layer-digest": l1,
        "containerd.io/snapshot/stargz/toc.digest": toc,
      },
      signal,
    );
    assert.ok(t.mounter.mounted.has("/mnt/a"));
  } finally {
    await t.cleanup();
  }
});

async function reasonFor(
  setupOptions: Parameters<typeof setup>[0],
  arrange: (t: Awaited<ReturnType<typeof setup>>) => void,
  mountLabels: Record<string, string> = labels(),
): Promise<{ reason: FallbackReason; counted: FallbackReason[]; state: unknown }> {
  const t = await setup(setupOptions);
  try {
    arrange(t);
    const err = await t.fs.mount("/mnt/a", mountLabels, signal).then(
      () => assert.fail("mount should fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RemoteMountError, String(err));
    assert.equal(t.mounter.mounted.size, 0);
    await t.states.flush();
    const state = await t.states.read(image);
    return { reason: err.reason, counted: t.counts.fallback, state: state?.layers[l2] };
  } finally {
    await t.cleanup();
  }
}

test("each reason a layer cannot be mounted remotely is typed, counted and recorded", async () => {
  const none = () => {};
  assert.equal((await reasonFor({}, none, {})).reason, "no_source_labels");
  const noToc = labels();
  delete noToc["containerd.io/snapshot/stargz/toc.digest"];
  const missing = await reasonFor({}, none, noToc);
  assert.equal(missing.reason, "no_toc_digest");
  assert.deepEqual(missing.counted, ["no_toc_digest"]);
  assert.equal((missing.state as { mode: string }).mode, "fallback");
  const mismatch = await reasonFor({}, (t) => (t.resolver.tocDigest = `sha256:${"b".repeat(64)}`));
  assert.equal(mismatch.reason, "toc_digest_mismatch");
  const cases: [Error, FallbackReason][] = [
    [new EStargzError("bad-footer", "not an eStargz blob"), "not_estargz"],
    [new StargzError("UNAUTHENTICATED", "401"), "auth_refused"],
    [new StargzError("PERMISSION_DENIED", "403"), "auth_refused"],
    [new StargzError("UNAVAILABLE", "connection refused"), "registry_unreachable"],
    [new StargzError("NOT_FOUND", "404"), "blob_not_found"],
    [new StargzError("DEADLINE_EXCEEDED", "slow"), "timeout"],
    [new StargzError("INTERNAL", "odd"), "mount_failed"],
  ];
  for (const [error, reason] of cases) {
    const r = await reasonFor({}, (t) => (t.resolver.failResolve = error));
    assert.equal(r.reason, reason, error.message);
    assert.deepEqual(r.counted, [reason]);
  }
});

test("disable_verification mounts without a TOC digest label", async () => {
  const t = await setup({ disableVerification: true });
  try {
    const l = labels();
    delete l["containerd.io/snapshot/stargz/toc.digest"];
    await t.fs.mount("/mnt/a", l, signal);
    assert.ok(t.mounter.mounted.has("/mnt/a"));
  } finally {
    await t.cleanup();
  }
});

test("check waits once for the prefetch, bounded by prefetch_timeout_sec", async () => {
  const t = await setup({ prefetchTimeoutSec: 7 });
  try {
    await t.fs.mount("/mnt/a", labels(), signal);
    t.mounter.prefetchDone = false;
    await t.fs.check("/mnt/a", labels());
    await t.fs.check("/mnt/a", labels());
    assert.deepEqual(t.mounter.waits, [7000]);
  } finally {
    await t.cleanup();
  }
});

test("the registry is probed at most every valid_interval, with one refresh on failure", async () => {
  const t = await setup({ validIntervalSec: 60 });
  try {
    await t.fs.mount("/mnt/a", labels(), signal);
    await t.fs.check("/mnt/a", labels());
    assert.equal(t.resolver.probes, 0, "just mounted: no probe");
    t.clock.now += 61_000;
    await t.fs.check("/mnt/a", labels());
    assert.equal(t.resolver.probes, 1);
    await t.fs.check("/mnt/a", labels());
    assert.equal(t.resolver.probes, 1, "within the interval");
    t.clock.now += 61_000;
    t.resolver.probeResults = [false, true];
    await t.fs.check("/mnt/a", labels());
    assert.equal(t.resolver.probes, 3);
    assert.deepEqual(t.resolver.forgotten.slice(-1), [l2]);
    t.clock.now += 61_000;
    t.resolver.probeResults = [false, false];
    await assert.rejects(t.fs.check("/mnt/a", labels()), /unavailable/);
    assert.deepEqual(t.counts.checks, ["ok", "refreshed", "failed"]);
  } finally {
    await t.cleanup();
  }
});

test("check fails for a layer this filesystem does not serve, or whose mount is gone", async () => {
  const t = await setup();
  try {
    await assert.rejects(t.fs.check("/mnt/none", labels()), /no remote layer/);
    await t.fs.mount("/mnt/a", labels(), signal);
    t.mounter.mounted.delete("/mnt/a");
    await assert.rejects(t.fs.check("/mnt/a", labels()), /gone/);
  } finally {
    await t.cleanup();
  }
});

test("a stale mount left by an earlier agent is detached and the layer mounted again", async () => {
  const detached: string[] = [];
  const t = await setup({
    detachStale: async (mp) => {
      detached.push(mp);
      t.mounter.stale.delete(mp);
    },
  });
  try {
    t.mounter.stale.add("/mnt/a");
    await t.fs.mount("/mnt/a", labels(), signal);
    assert.deepEqual(detached, ["/mnt/a"]);
    assert.ok(t.mounter.mounted.has("/mnt/a"));
  } finally {
    await t.cleanup();
  }
});

test("a restore failure is counted and recorded for the image", async () => {
  const t = await setup();
  try {
    t.fs.reportRestoreFailure(labels(), "/mnt/a", new StargzError("UNAVAILABLE", "down"));
    assert.deepEqual(t.counts.restore, ["registry_unreachable"]);
    await t.states.flush();
    const layer = (await t.states.read(image))?.layers[l2];
    assert.equal(layer?.mode, "restore_failed");
    assert.equal(layer?.reason, "registry_unreachable");
  } finally {
    await t.cleanup();
  }
});

test("unmountAll unmounts every served layer", async () => {
  const t = await setup();
  try {
    await t.fs.mount("/mnt/a", labels(), signal);
    await t.fs.mount(
      "/mnt/b",
      labels({ "containerd.io/snapshot/remote/stargz.digest": l1 }),
      signal,
    );
    await t.fs.unmountAll();
    assert.equal(t.mounter.mounted.size, 0);
  } finally {
    await t.cleanup();
  }
});
