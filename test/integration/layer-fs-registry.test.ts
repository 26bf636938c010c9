/**
 * The layer filesystem fed by a real docker-registry through the registry
 * client: a layer pushed with skopeo is opened by range requests, mounted,
 * read lazily from child processes, and fails with EIO (cached files still
 * readable) once the registry is stopped.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { openLayer } from "../../src/estargz/index.ts";
import { parseReference, RegistryClient } from "../../src/registry/index.ts";
import {
  ChunkCache,
  FuseLayerMounter,
  registryBlobSource,
  type LayerBlobSource,
} from "../../src/agent/fs/index.ts";
import { silentLogger } from "../../src/util/log.ts";
import { missingForIntegration } from "../support/gates.ts";
import { pushOciLayout, writeOciLayout } from "../support/oci-image.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { noise } from "../support/tar-builder.ts";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { buildTestLayer, run, sha256Hex } from "../support/layer-fs.ts";

const skip = missingForIntegration(["fusermount", "docker-registry", "skopeo", "sha256sum"]);
const files = Array.from({ length: 20 }, (_, i) => ({
  name: `f${i}`,
  content: noise(50_000, i + 1),
}));

let tmp: TempDir;
let registry: TestRegistry;
let client: RegistryClient;
let mounter: FuseLayerMounter;
let mountpoint: string;
let counted: LayerBlobSource & { bytes: number; requests: number };
let blobSize: number;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir("sgz-fsreg-");
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  const layer = await buildTestLayer(
    files.map((f) => ({ type: "reg" as const, ...f })),
    { chunkSize: 16 << 10 },
  );
  blobSize = layer.blob.length;
  const layout = await writeOciLayout(join(tmp.path, "oci"), [{ blob: layer.blob }]);
  await pushOciLayout(layout, `${registry.host}/lazy:latest`);
  client = new RegistryClient({ retry: { maxAttempts: 1 } });
  const ref = parseReference(`${registry.host}/lazy:latest`);
  const blob = { digest: layer.digest, size: layer.blob.length };
  const reader = await openLayer(client.blobReadAt(ref, blob), { layerName: layer.digest });
  const inner = registryBlobSource(client, ref, blob);
  counted = {
    size: inner.size,
    bytes: 0,
    requests: 0,
    readRanges: async (ranges, signal) => {
      counted.requests += 1;
      const out = await inner.readRanges(ranges, signal);
      counted.bytes += out.reduce((sum, b) => sum + b.length, 0);
      return out;
    },
  };
  const logger = silentLogger();
  mounter = new FuseLayerMounter({
    cache: new ChunkCache({ memoryMaxBytes: 64 << 20, logger }),
    logger,
    fetchTimeoutMs: 5000,
    noBackgroundFetch: true,
  });
  mountpoint = join(tmp.path, "mnt");
  await mkdir(mountpoint);
  await mounter.mount(
    mountpoint,
    { digest: layer.digest, reader, source: counted },
    AbortSignal.timeout(10_000),
  );
});

after(async () => {
  if (skip) return;
  await mounter?.unmount(mountpoint).catch(() => {});
  await run("fusermount", ["-u", mountpoint]).catch(() => {});
  await client?.close();
  await registry?.stop();
  await tmp?.remove();
});

test("files read lazily from a registry match, fetching only what is read", { skip }, async () => {
  const { stdout } = await run("sha256sum", [join(mountpoint, "f3"), join(mountpoint, "f4")]);
  const sums = stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(sums, [sha256Hex(files[3]!.content), sha256Hex(files[4]!.content)]);
  assert.ok(counted.bytes < blobSize / 4, `${counted.bytes} of ${blobSize}`);
});

test("a file spanning several chunks is fetched in one request", { skip }, async () => {
  const before = counted.requests;
  const { stdout } = await run("sha256sum", [join(mountpoint, "f10")]);
  assert.equal(stdout.toString().split(" ")[0], sha256Hex(files[10]!.content));
  assert.equal(counted.requests - before, 1);
});

test(
  "with the registry gone, uncached files give EIO and cached ones still read",
  { skip },
  async () => {
    await registry.stop();
    await assert.rejects(run("cat", [join(mountpoint, "f15")]), /Input\/output error/);
    const { stdout } = await run("sha256sum", [join(mountpoint, "f3")]);
    assert.equal(stdout.toString().split(" ")[0], sha256Hex(files[3]!.content));
    assert.match(mounter.state(mountpoint).error ?? "", /fetch failed/);
  },
);
