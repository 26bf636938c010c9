/**
 * The remote path of `stargz image rpull` through a real containerd 1.6: a
 * proxy snapshotter that "mounts" every layer (records Prepare and answers
 * ALREADY_EXISTS, see recording-snapshotter.ts). Checks that no layer is
 * downloaded, that the labels the snapshotter receives are exactly those
 * the Go `ctr-remote image rpull` sends, and that GC labels and the image
 * record are in place.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { missingForIntegration, hasCommand } from "../support/gates.ts";
import {
  startRecordingSnapshotter,
  type RecordingSnapshotter,
} from "../support/recording-snapshotter.ts";
import {
  busyboxImage,
  hasBusybox,
  parseJsonLines,
  pushImage,
  stargz,
} from "../support/rpull-fixture.ts";
import { RegistryClient, parseReference, type ImageManifest } from "../../src/registry/index.ts";
import { ContainerdClient } from "../../src/containerd/index.ts";
import { chainIds } from "../../src/pull/index.ts";
import { isErrorCode } from "../../src/util/errors.ts";

const skip =
  missingForIntegration(["containerd", "ctr", "docker-registry"]) ??
  (hasBusybox() ? undefined : "needs /bin/busybox (busybox-static)");

let tmp: TempDir;
let registry: TestRegistry;
let containerd: TestContainerd;
let snapshotter: RecordingSnapshotter;
let client: RegistryClient;
let cd: ContainerdClient;
let esgzRef: string;
let manifest: ImageManifest;
let chain: string[];

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  snapshotter = await startRecordingSnapshotter(join(tmp.path, "rec.sock"));
  containerd = await startContainerd({
    dir: join(tmp.path, "containerd"),
    proxySnapshotters: { stargz: snapshotter.socket },
  });
  client = new RegistryClient();
  cd = new ContainerdClient({ address: containerd.address });
  const legacyRef = `${registry.host}/test/remote:v1`;
  esgzRef = `${registry.host}/test/remote:v1-esgz`;
  await pushImage(client, await busyboxImage(), legacyRef);
  const conv = await stargz([
    "image",
    "convert",
    "--plain-http",
    "--progress",
    "plain",
    legacyRef,
    esgzRef,
  ]);
  assert.equal(conv.code, 0, conv.stderr);
  const ref = parseReference(esgzRef);
  manifest = (await client.getManifest(ref)).manifest!;
  const config = JSON.parse(
    Buffer.from(await client.fetchBlob(ref, manifest.config)).toString(),
  ) as {
    rootfs: { diff_ids: string[] };
  };
  chain = chainIds(config.rootfs.diff_ids);
});

after(async () => {
  if (skip) return;
  cd.close();
  await client.close();
  await containerd.stop();
  await snapshotter.stop();
  await registry.stop();
  await tmp.remove();
});

test(
  "every layer mounts remotely: nothing but index, manifest and config is downloaded",
  { skip },
  async () => {
    const res = await stargz([
      "image",
      "rpull",
      "--address",
      containerd.address,
      "--plain-http",
      esgzRef,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const lines = parseJsonLines(res.stdout);
    assert.deepEqual(
      lines.slice(0, 2).map((l) => [l.layer, l.mode, l.bytesDownloaded]),
      manifest.layers.map((l) => [l.digest, "remote", 0]),
    );
    const summary = lines[2]!;
    assert.equal(summary.remote, 2);
    assert.ok(
      Number(summary.bytesDownloaded) < 10_000,
      `downloaded ${String(summary.bytesDownloaded)}`,
    );
    for (const layer of manifest.layers) {
      await assert.rejects(cd.content.info(layer.digest), (err: unknown) =>
        isErrorCode(err, "NOT_FOUND"),
      );
    }
    const cInfo = await cd.content.info(manifest.config.digest);
    assert.equal(cInfo.labels["containerd.io/gc.ref.snapshot.stargz"], chain[1]);
    assert.equal((await cd.images.get(esgzRef)).target?.digest, summary.digest);
    const top = await cd.snapshots("stargz").stat(chain[1]!);
    assert.equal(top.parent, chain[0]);
    assert.deepEqual(await cd.leases.list(), []);
  },
);

test(
  "the snapshotter receives exactly the labels containerd and the Go rpull give it",
  { skip },
  () => {
    assert.equal(snapshotter.prepares.length, 2);
    const layers = manifest.layers;
    for (const [i, p] of snapshotter.prepares.entries()) {
      const expected: Record<string, string> = {
        "containerd.io/snapshot.ref": chain[i]!,
        "containerd.io/snapshot/remote/stargz.reference": esgzRef,
        "containerd.io/snapshot/remote/stargz.digest": layers[i]!.digest,
        "containerd.io/snapshot/remote/stargz.layers": layers
          .slice(i)
          .map((l) => l.digest)
          .join(","),
        "containerd.io/snapshot/remote/stargz.prefetch": "10485760",
        "containerd.io/snapshot/remote/urls": "",
        "containerd.io/snapshot/stargz/toc.digest":
          layers[i]!.annotations!["containerd.io/snapshot/stargz/toc.digest"]!,
      };
      for (let j = 0; j < layers.length - i; j++)
        expected[`containerd.io/snapshot/remote/urls.${j}`] = "";
      assert.deepEqual(p.labels, expected, `layer ${i}`);
      // containerd names the backend snapshot "<namespace>/<seq>/extract-<unique> <chainID>".
      assert.match(p.key, new RegExp(`^default/\\d+/extract-\\d+-[A-Za-z0-9_-]{4} ${chain[i]}$`));
    }
    assert.equal(snapshotter.prepares[1]!.parent, chain[0]);
  },
);

test(
  "Go's ctr-remote image rpull sends the same labels",
  { skip: skip ?? (hasCommand("ctr-remote") ? undefined : "needs ctr-remote") },
  async () => {
    const ours = snapshotter.prepares.splice(0);
    await containerd.ctrRemote(["image", "rpull", "--plain-http", esgzRef], { namespace: "goref" });
    const theirs = snapshotter.prepares.splice(0);
    assert.equal(theirs.length, ours.length);
    for (const [i, p] of theirs.entries()) {
      assert.deepEqual(p.labels, ours[i]!.labels, `layer ${i}`);
      assert.equal(p.parent, ours[i]!.parent);
    }
  },
);

test("a second rpull finds every snapshot and prepares nothing", { skip }, async () => {
  snapshotter.prepares.splice(0);
  const res = await stargz([
    "image",
    "rpull",
    "--address",
    containerd.address,
    "--plain-http",
    esgzRef,
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    parseJsonLines(res.stdout)
      .slice(0, 2)
      .map((l) => l.mode),
    ["present", "present"],
  );
  assert.equal(snapshotter.prepares.length, 0);
});
