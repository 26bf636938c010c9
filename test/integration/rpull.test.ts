/**
 * `stargz image rpull` against a real containerd 1.6 and a real registry,
 * with containerd's built-in overlayfs snapshotter: every layer falls back
 * (downloaded and unpacked through containerd's diff service), and the
 * result must be a complete image that `ctr run` runs, kept by GC labels
 * once the pull's lease is gone.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { missingForIntegration } from "../support/gates.ts";
import {
  busyboxImage,
  hasBusybox,
  parseJsonLines,
  pushImage,
  stargz,
} from "../support/rpull-fixture.ts";
import type { TestImage } from "../support/test-image.ts";
import { RegistryClient, parseReference } from "../../src/registry/index.ts";
import { ContainerdClient } from "../../src/containerd/index.ts";
import { chainIds } from "../../src/pull/index.ts";

const skip =
  missingForIntegration(["containerd", "ctr", "runc", "docker-registry"]) ??
  (hasBusybox() ? undefined : "needs /bin/busybox (busybox-static)");

let tmp: TempDir;
let registry: TestRegistry;
let containerd: TestContainerd;
let client: RegistryClient;
let cd: ContainerdClient;
let image: TestImage;
let legacyRef: string;
let esgzRef: string;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  client = new RegistryClient();
  cd = new ContainerdClient({ address: containerd.address });
  image = await busyboxImage();
  legacyRef = `${registry.host}/test/busybox:v1`;
  esgzRef = `${registry.host}/test/busybox:v1-esgz`;
  await pushImage(client, image, legacyRef);
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
});

after(async () => {
  if (skip) return;
  cd.close();
  await client.close();
  await containerd.stop();
  await registry.stop();
  await tmp.remove();
});

function rpullArgs(ref: string, extra: string[] = []): string[] {
  return [
    "image",
    "rpull",
    "--address",
    containerd.address,
    "--snapshotter",
    "overlayfs",
    "--plain-http",
    ...extra,
    ref,
  ];
}

test(
  "rpull of an eStargz image on overlayfs falls back for every layer and runs",
  { skip },
  async () => {
    const res = await stargz(rpullArgs(esgzRef));
    assert.equal(res.code, 0, res.stderr);
    const lines = parseJsonLines(res.stdout);
    assert.equal(lines.length, 3, res.stdout);
    const manifest = (await client.getManifest(parseReference(esgzRef))).manifest!;
    for (const [i, line] of lines.slice(0, 2).entries()) {
      assert.equal(line.layer, manifest.layers[i]!.digest);
      assert.equal(line.mode, "fallback");
      assert.match(String(line.reason), /snapshotter "overlayfs" did not mount it remotely/);
      assert.equal(line.bytesDownloaded, manifest.layers[i]!.size);
    }
    const summary = lines[2]!;
    assert.equal(summary.image, esgzRef);
    assert.equal(summary.fallback, 2);
    assert.equal(summary.remote, 0);

    const out = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "overlayfs",
      esgzRef,
      "rpull-run-1",
    ]);
    assert.equal(out, "hello from rpull\n");

    // The image record and GC labels: manifest -> config + layers, config -> top snapshot.
    const record = await cd.images.get(esgzRef);
    assert.equal(record.target?.digest, summary.digest);
    const mInfo = await cd.content.info(String(summary.digest));
    assert.equal(mInfo.labels["containerd.io/gc.ref.content.config"], manifest.config.digest);
    assert.equal(mInfo.labels["containerd.io/gc.ref.content.l.0"], manifest.layers[0]!.digest);
    assert.equal(mInfo.labels["containerd.io/gc.ref.content.l.1"], manifest.layers[1]!.digest);
    assert.equal(mInfo.labels[`containerd.io/distribution.source.127.0.0.1`], "test/busybox");
    const configDoc = JSON.parse(
      Buffer.from(await client.fetchBlob(parseReference(esgzRef), manifest.config)).toString(),
    ) as { rootfs: { diff_ids: string[] } };
    const diffIds = configDoc.rootfs.diff_ids;
    const chain = chainIds(diffIds);
    const cInfo = await cd.content.info(manifest.config.digest);
    assert.equal(cInfo.labels["containerd.io/gc.ref.snapshot.overlayfs"], chain[1]);
    const lInfo = await cd.content.info(manifest.layers[1]!.digest);
    assert.equal(lInfo.labels["containerd.io/uncompressed"], diffIds[1]);

    // The lease is gone and no extraction snapshot is left behind.
    assert.deepEqual(await cd.leases.list(), []);
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "overlayfs", "ls"]);
    assert.doesNotMatch(snaps, /extract-/);
    for (const id of chain) assert.match(snaps, new RegExp(`${id}\\s`));
    const top = await cd.snapshots("overlayfs").stat(chain[1]!);
    assert.equal(top.kind, "COMMITTED");
    assert.equal(top.parent, chain[0]);
    assert.equal(top.labels["containerd.io/snapshot/remote/stargz.reference"], esgzRef);
    assert.equal(
      top.labels["containerd.io/snapshot/remote/stargz.digest"],
      manifest.layers[1]!.digest,
    );
    assert.equal(
      top.labels["containerd.io/snapshot/stargz/toc.digest"],
      manifest.layers[1]!.annotations?.["containerd.io/snapshot/stargz/toc.digest"],
    );

    // Garbage collection (forced by a synchronous lease delete) keeps everything the image needs.
    const dummy = await cd.leases.create();
    await cd.leases.delete(dummy.id, { sync: true });
    const again = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "overlayfs",
      esgzRef,
      "rpull-run-2",
    ]);
    assert.equal(again, "hello from rpull\n");
    assert.ok((await cd.content.info(manifest.layers[0]!.digest)).size > 0);
  },
);

test("rpull again is a no-op: every layer is already present", { skip }, async () => {
  const res = await stargz(rpullArgs(esgzRef));
  assert.equal(res.code, 0, res.stderr);
  const lines = parseJsonLines(res.stdout);
  assert.deepEqual(
    lines.slice(0, 2).map((l) => [l.mode, l.bytesDownloaded]),
    [
      ["present", 0],
      ["present", 0],
    ],
  );
  assert.deepEqual(await cd.leases.list(), []);
});

test("a legacy gzip image falls back with the reason: not eStargz", { skip }, async () => {
  const res = await stargz(rpullArgs(legacyRef, ["--namespace", "legacy"]));
  assert.equal(res.code, 0, res.stderr);
  const lines = parseJsonLines(res.stdout);
  // Same diffIDs as the converted image, but another namespace: nothing is shared.
  assert.equal(lines[0]!.mode, "fallback");
  assert.match(String(lines[0]!.reason), /not eStargz/);
  const out = await containerd.ctr(
    ["run", "--rm", "--snapshotter", "overlayfs", legacyRef, "rpull-legacy"],
    {
      namespace: "legacy",
    },
  );
  assert.equal(out, "hello from rpull\n");
});

test("stargz run pulls and runs, passing the command through to ctr", { skip }, async () => {
  const res = await stargz([
    "run",
    "--address",
    containerd.address,
    "--namespace",
    "runner",
    "--snapshotter",
    "overlayfs",
    "--plain-http",
    "--rm",
    esgzRef,
    "rpull-run-cmd",
    "/bin/sh",
    "-c",
    "echo ran; cat /srv/hello.txt",
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, "ran\nhello from rpull\n");
  assert.match(res.stderr, /"mode":"fallback"/);
  const containers = await containerd.ctr(["containers", "ls", "-q"], { namespace: "runner" });
  assert.equal(containers.trim(), "", "--rm removed the container");
});

test(
  "an index: the platform's manifest is pulled, the index is the record's target with m.<i> GC labels",
  { skip },
  async () => {
    const ref = parseReference(esgzRef);
    const fetched = await client.getManifest(ref);
    const armManifest = Buffer.from(
      JSON.stringify({ ...fetched.manifest!, annotations: { "test.platform": "arm64" } }),
    );
    const armRef = parseReference(`${registry.host}/test/busybox:arm-only`);
    await client.putManifest(armRef, "application/vnd.oci.image.manifest.v1+json", armManifest);
    const armDigest = (await client.getManifest(armRef)).descriptor.digest;
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: armDigest,
            size: armManifest.length,
            platform: { os: "linux", architecture: "arm64" },
          },
          { ...fetched.descriptor, platform: { os: "linux", architecture: "amd64" } },
        ],
      }),
    );
    const indexRef = `${registry.host}/test/busybox:multi`;
    await client.putManifest(
      parseReference(indexRef),
      "application/vnd.oci.image.index.v1+json",
      index,
    );
    const res = await stargz(
      rpullArgs(indexRef, ["--namespace", "indexed", "--platform", "linux/amd64"]),
    );
    assert.equal(res.code, 0, res.stderr);
    const summary = parseJsonLines(res.stdout).at(-1)!;
    const indexed = new ContainerdClient({ address: containerd.address, namespace: "indexed" });
    try {
      const record = await indexed.images.get(indexRef);
      assert.equal(record.target?.media_type, "application/vnd.oci.image.index.v1+json");
      assert.equal(record.target?.digest, summary.digest);
      const labels = (await indexed.content.info(String(summary.digest))).labels;
      assert.equal(labels["containerd.io/gc.ref.content.m.0"], armDigest);
      assert.equal(labels["containerd.io/gc.ref.content.m.1"], fetched.descriptor.digest);
    } finally {
      indexed.close();
    }
    const out = await containerd.ctr(
      ["run", "--rm", "--snapshotter", "overlayfs", indexRef, "rpull-index"],
      { namespace: "indexed" },
    );
    assert.equal(out, "hello from rpull\n");
  },
);
