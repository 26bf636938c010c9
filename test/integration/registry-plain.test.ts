import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";
import { buildImage, digestOf, tarArchive, type TestImage } from "../support/test-image.ts";
import { RegistryClient, parseReference, type ImageReference } from "../../src/registry/index.ts";

const skip = missingForIntegration(["docker-registry"], false);

let tmp: TempDir;
let registry: TestRegistry;
let client: RegistryClient;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  client = new RegistryClient({ sleep: async () => {} });
});

after(async () => {
  if (skip) return;
  await client.close();
  await registry.stop();
  await tmp.remove();
});

async function pushImage(ref: ImageReference, image: TestImage): Promise<void> {
  for (const b of [image.config, ...image.layers]) {
    await client.pushBlob(ref, b, b.bytes);
  }
  await client.putManifest(ref, image.manifest.mediaType, image.manifest.bytes);
}

function sampleImage(): TestImage {
  return buildImage([
    tarArchive([{ path: "a.txt", data: "hello" }]),
    tarArchive([{ path: "b.bin", data: randomBytes(300_000) }]),
  ]);
}

test("push an image, then read it back by tag and by digest", { skip }, async () => {
  const ref = parseReference(`${registry.host}/demo/app:v1`);
  const image = sampleImage();
  await pushImage(ref, image);
  const fetched = await client.getManifest(ref);
  assert.equal(fetched.kind, "manifest");
  assert.equal(fetched.descriptor.digest, image.manifest.digest);
  const byDigest = await client.getManifest({ ...ref, digest: image.manifest.digest });
  assert.deepEqual(byDigest.manifest, fetched.manifest);
  const layer = image.layers[1]!;
  assert.deepEqual(Buffer.from(await client.fetchBlob(ref, layer)), layer.bytes);
  const head = await client.headManifest(ref);
  assert.equal(head?.digest, image.manifest.digest);
  // skopeo (the Go client) agrees about what was pushed.
  const { stdout } = await run("skopeo", [
    "inspect",
    "--raw",
    "--tls-verify=false",
    `docker://${registry.host}/demo/app:v1`,
  ]);
  assert.equal(digestOf(stdout), image.manifest.digest);
});

test("several ranges travel in one multi-range request and match the blob", { skip }, async () => {
  const ref = parseReference(`${registry.host}/demo/ranges:v1`);
  const data = randomBytes(2_000_000);
  const blob = { digest: digestOf(data), size: data.length };
  await client.pushBlob(ref, blob, data);
  const ranges = [
    { offset: 1_500_000, length: 1000 },
    { offset: 0, length: 10 },
    { offset: 10, length: 5 },
    { offset: 700_000, length: 65_536 },
    { offset: 1_999_990, length: 10 },
  ];
  const parts = await client.readRanges(ref, blob, ranges);
  parts.forEach((p, i) => {
    const r = ranges[i]!;
    assert.deepEqual(Buffer.from(p), data.subarray(r.offset, r.offset + r.length), `range ${i}`);
  });
  const buf = new Uint8Array(100);
  const reader = client.blobReadAt(ref, blob);
  assert.equal(await reader.readAt(buf, 1_999_950), 50);
  assert.deepEqual(Buffer.from(buf.subarray(0, 50)), data.subarray(1_999_950));
});

test(
  "re-pushing finds the blob, another repository mounts it, chunked upload works",
  { skip },
  async () => {
    const a = parseReference(`${registry.host}/demo/one:v1`);
    const b = parseReference(`${registry.host}/demo/two:v1`);
    const c = parseReference(`${registry.host}/demo/three:v1`);
    const data = randomBytes(1_234_567);
    const blob = { digest: digestOf(data), size: data.length };
    assert.equal(await client.pushBlob(a, blob, data), "uploaded");
    assert.equal(await client.pushBlob(a, blob, data), "exists");
    assert.equal(await client.pushBlob(b, blob, data, { mountFrom: "demo/one" }), "mounted");
    assert.equal(await client.blobExists(b, blob.digest), true);
    const source = {
      open: async function* () {
        for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
      },
    };
    assert.equal(await client.pushBlob(c, blob, source, { chunkSize: 256 * 1024 }), "uploaded");
    assert.deepEqual(Buffer.from(await client.fetchBlob(c, blob)), data);
  },
);

test("an index resolves to the requested platform", { skip }, async () => {
  const ref = parseReference(`${registry.host}/demo/multi:v1`);
  const amd = sampleImage();
  const arm = buildImage([tarArchive([{ path: "arm.txt", data: "arm" }])]);
  await pushImage({ ...ref, tag: undefined, digest: amd.manifest.digest }, amd);
  await pushImage({ ...ref, tag: undefined, digest: arm.manifest.digest }, arm);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: amd.manifest.mediaType,
        digest: amd.manifest.digest,
        size: amd.manifest.size,
        platform: { os: "linux", architecture: "amd64" },
      },
      {
        mediaType: arm.manifest.mediaType,
        digest: arm.manifest.digest,
        size: arm.manifest.size,
        platform: { os: "linux", architecture: "arm64", variant: "v8" },
      },
    ],
  };
  await client.putManifest(ref, index.mediaType, Buffer.from(JSON.stringify(index)));
  const resolved = await client.resolve(ref, {
    platform: { os: "linux", architecture: "aarch64" },
  });
  assert.equal(resolved.index?.kind, "index");
  assert.equal(resolved.manifest.descriptor.digest, arm.manifest.digest);
  await assert.rejects(client.resolve(ref, { platform: { os: "linux", architecture: "s390x" } }), {
    code: "NOT_FOUND",
  });
});

test("missing things are NOT_FOUND and name the image", { skip }, async () => {
  const ref = parseReference(`${registry.host}/demo/none:v1`);
  await assert.rejects(client.getManifest(ref), (err: Error & { code?: string }) => {
    assert.equal(err.code, "NOT_FOUND");
    assert.match(err.message, /demo\/none/);
    return true;
  });
  const blob = { digest: digestOf(Buffer.from("x")), size: 1 };
  await assert.rejects(client.fetchBlob(ref, blob), { code: "NOT_FOUND" });
});
