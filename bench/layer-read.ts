/**
 * Benchmark: sequential reads of one large file through the FUSE layer
 * filesystem. A layer holding one file (real bytes from /usr, so it
 * compresses like a binary image layer) is built with our builder, pushed to
 * a local docker-registry and mounted; a child process then reads the file
 * with dd, cold (everything fetched from the registry) and warm (cached),
 * next to the same file on local disk.
 *
 *   node bench/layer-read.ts [--size-mb 200] [--source registry|file] [--level 6]
 *                            [--read-ahead 3] [--no-disk-cache]
 *
 * Needs root, fuse, docker-registry and skopeo. This process serves the
 * mount, so it only ever touches the mount from child processes.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, statSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Registry } from "prom-client";
import { parseReference, RegistryClient } from "../src/registry/index.ts";
import { buildLayer, openLayer } from "../src/estargz/index.ts";
import { DiskCache } from "../src/agent/cache/index.ts";
import {
  ChunkCache,
  createLayerFsMetrics,
  FuseLayerMounter,
  openFileBlobSource,
  registryBlobSource,
  type LayerBlobSource,
} from "../src/agent/fs/index.ts";
import { openFileBlob } from "../src/util/file-blob.ts";
import { silentLogger } from "../src/util/log.ts";
import { memoryBlob, memorySink } from "../test/support/memory-blob.ts";
import { pushOciLayout, writeOciLayout } from "../test/support/oci-image.ts";
import { startRegistry } from "../test/support/registry.ts";
import { buildTar } from "../test/support/tar-builder.ts";
import { makeTempDir } from "../test/support/tmp.ts";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "200" },
    source: { type: "string", default: "registry" },
    level: { type: "string", default: "6" },
    "read-ahead": { type: "string", default: "3" },
    "no-disk-cache": { type: "boolean", default: false },
  },
});
const size = Number(values["size-mb"]) * 1e6;
const exec = promisify(execFile);

/** Bytes of real files under /usr, concatenated up to `want`. */
function realBytes(want: number): Buffer {
  const out = Buffer.alloc(want);
  let filled = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (filled >= want) return;
      const path = join(dir, name);
      const info = statSync(path, { throwIfNoEntry: false });
      if (info?.isDirectory()) walk(path);
      else if (info?.isFile() && info.size > 0) filled += readFileSync(path).copy(out, filled);
    }
  };
  walk("/usr/lib");
  if (filled < want) throw new Error(`only ${filled} bytes under /usr/lib`);
  return out;
}

/** Seconds and MB/s of `dd` reading a file, in a child process. */
async function ddRead(
  path: string,
): Promise<{ seconds: number; mbps: number; cpuSeconds: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await exec("dd", [`if=${path}`, "of=/dev/null", "bs=1M"]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  // CPU time of this process (the FUSE server), not of dd or the registry.
  return { seconds, mbps: size / 1e6 / seconds, cpuSeconds: (used.user + used.system) / 1e6 };
}

const tmp = await makeTempDir("sgz-bench-");
const mountpoint = join(tmp.path, "mnt");
let mounter: FuseLayerMounter | undefined;
let stopRegistry: (() => Promise<void>) | undefined;
let closeClient: (() => Promise<void>) | undefined;
try {
  const content = realBytes(size);
  const diskFile = join(tmp.path, "big.bin");
  await writeFile(diskFile, content);
  const sink = memorySink();
  const tar = buildTar([{ type: "reg", name: "big.bin", content }]);
  const built = await buildLayer(memoryBlob(tar), sink, { compressionLevel: Number(values.level) });
  const blob = sink.bytes();
  const blobFile = join(tmp.path, "layer.esgz");
  await writeFile(blobFile, blob);
  console.error(`layer: ${blob.length} bytes compressed, ${size} bytes of content`);

  let source: LayerBlobSource;
  if (values.source === "registry") {
    const registry = await startRegistry({ dir: join(tmp.path, "registry") });
    stopRegistry = () => registry.stop();
    const layout = await writeOciLayout(join(tmp.path, "oci"), [{ blob, diffID: built.diffID }]);
    await pushOciLayout(layout, `${registry.host}/bench:latest`);
    const client = new RegistryClient();
    closeClient = () => client.close();
    const ref = parseReference(`${registry.host}/bench:latest`);
    source = registryBlobSource(client, ref, { digest: built.digest, size: blob.length });
  } else source = await openFileBlobSource(blobFile);

  const logger = silentLogger();
  const metricsRegistry = new Registry();
  const disk = await DiskCache.open({ dir: join(tmp.path, "cache"), maxBytes: 1 << 30 });
  const cache = new ChunkCache({
    memoryMaxBytes: 256 << 20,
    disk: values["no-disk-cache"] ? undefined : disk,
    logger,
  });
  mounter = new FuseLayerMounter({
    cache,
    logger,
    metrics: createLayerFsMetrics(metricsRegistry),
    noPrefetch: true,
    readAheadChunks: Number(values["read-ahead"]),
    noBackgroundFetch: true,
  });
  const reader = await openLayer(await openFileBlob(blobFile), { layerName: built.digest });
  await exec("mkdir", ["-p", mountpoint]);
  await mounter.mount(
    mountpoint,
    { digest: built.digest, reader, source },
    AbortSignal.timeout(10_000),
  );

  const cold = await ddRead(join(mountpoint, "big.bin"));
  const warm = await ddRead(join(mountpoint, "big.bin"));
  await ddRead(diskFile);
  const disk2 = await ddRead(diskFile);
  const { stdout } = await exec("sha256sum", [join(mountpoint, "big.bin")]);
  const contentOk = stdout.split(" ")[0] === createHash("sha256").update(content).digest("hex");
  const fetched = (
    await metricsRegistry.getSingleMetricAsString("stargz_fs_fetched_bytes_total")
  ).trim();
  const result = {
    source: values.source,
    sizeMB: size / 1e6,
    compressedMB: blob.length / 1e6,
    cold,
    warm,
    diskWarm: disk2,
    warmVsDisk: warm.seconds / disk2.seconds,
    cpus: cpus().length,
    node: process.version,
    fetched,
    contentOk,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `| ${values.source} | ${result.sizeMB} MB | ${cold.mbps.toFixed(0)} MB/s (${cold.seconds.toFixed(2)} s) | ${warm.mbps.toFixed(0)} MB/s | ${disk2.mbps.toFixed(0)} MB/s | ${result.warmVsDisk.toFixed(2)}x |`,
  );
} finally {
  if (mounter) await mounter.unmount(mountpoint).catch(() => {});
  await exec("fusermount", ["-u", mountpoint]).catch(() => {});
  await closeClient?.();
  await stopRegistry?.();
  await tmp.remove();
}
