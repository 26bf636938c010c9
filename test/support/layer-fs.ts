/**
 * Mounting test layers through the real FUSE layer filesystem. The mount is
 * served by this process, so tests must only look at it from child
 * processes (run("cat", …)); cleanup always ends with `fusermount -u`.
 */
import { createHash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { buildLayer, openLayer, type BuildOptions } from "../../src/estargz/index.ts";
import { DiskCache } from "../../src/agent/cache/index.ts";
import {
  ChunkCache,
  FuseLayerMounter,
  type FuseLayerMounterOptions,
  type LayerBlobSource,
} from "../../src/agent/fs/index.ts";
import { silentLogger } from "../../src/util/log.ts";
import { memoryBlob, memorySink, streamOf } from "./memory-blob.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { buildTar, type TestEntry } from "./tar-builder.ts";

export interface TestLayer {
  blob: Buffer;
  digest: string;
}

export async function buildTestLayer(
  entries: readonly TestEntry[],
  options: BuildOptions = {},
): Promise<TestLayer> {
  const tar = buildTar(entries);
  const sink = memorySink();
  const input = options.prioritizedFiles ? memoryBlob(tar) : streamOf(tar);
  const result = await buildLayer(input, sink, { compressionLevel: 1, ...options });
  return { blob: sink.bytes(), digest: result.digest };
}

/** A blob source over a buffer that counts what is fetched and can be made to fail or hang. */
export interface TestSource extends LayerBlobSource {
  bytesRead: number;
  requests: number;
  mode: "ok" | "fail" | "hang" | "corrupt";
  /** When each request started and ended (ms since the epoch), in start order. */
  calls: { start: number; end: number; ranges: number }[];
  /** Milliseconds each request takes. */
  delayMs: number;
}

export function testSource(blob: Buffer): TestSource {
  const source: TestSource = {
    size: blob.length,
    bytesRead: 0,
    requests: 0,
    mode: "ok",
    delayMs: 0,
    calls: [],
    readRanges: async (ranges, signal) => {
      source.requests += 1;
      const call = { start: Date.now(), end: 0, ranges: ranges.length };
      source.calls.push(call);
      if (source.mode === "hang") return new Promise<Buffer[]>(() => {});
      if (source.delayMs > 0) await new Promise((r) => setTimeout(r, source.delayMs));
      signal.throwIfAborted();
      if (source.mode === "fail") throw new Error("registry unreachable (test)");
      call.end = Date.now();
      return ranges.map((r) => {
        source.bytesRead += r.length;
        const data = Buffer.from(blob.subarray(r.offset, r.offset + r.length));
        if (source.mode === "corrupt")
          for (let i = 0; i < data.length; i += 97) data[i] = data[i]! ^ 0xff;
        return data;
      });
    },
  };
  return source;
}

export interface MountedTestLayer {
  mountpoint: string;
  mounter: FuseLayerMounter;
  source: TestSource;
  layer: TestLayer;
  unmount(): Promise<void>;
}

export interface MountTestOptions extends Partial<FuseLayerMounterOptions> {
  /** A disk cache directory (shared across mounts to test reuse). */
  cacheDir?: string;
  memoryMaxBytes?: number;
}

export async function mountTestLayer(
  dir: string,
  layer: TestLayer,
  options: MountTestOptions = {},
): Promise<MountedTestLayer> {
  const mountpoint = join(dir, `mnt-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(mountpoint, { recursive: true });
  const source = testSource(layer.blob);
  const reader = await openLayer(memoryBlob(layer.blob), { layerName: layer.digest });
  const logger = options.logger ?? silentLogger();
  const disk = options.cacheDir
    ? await DiskCache.open({ dir: options.cacheDir, maxBytes: 1 << 30 })
    : undefined;
  const cache = new ChunkCache({
    memoryMaxBytes: options.memoryMaxBytes ?? 64 << 20,
    disk,
    logger,
  });
  const mounter = new FuseLayerMounter({ cache, logger, noBackgroundFetch: true, ...options });
  await mounter.mount(
    mountpoint,
    { digest: layer.digest, reader, source },
    AbortSignal.timeout(10_000),
  );
  return {
    mountpoint,
    mounter,
    source,
    layer,
    unmount: async () => {
      await mounter.unmount(mountpoint).catch(() => {});
      await run("fusermount", ["-u", mountpoint]).catch(() => {});
    },
  };
}

const execFileAsync = promisify(execFile);

/**
 * Runs a command to completion (no stdin, so a child that never reads it
 * cannot fail with EPIPE); rejects with stderr in the message.
 */
export async function run(
  command: string,
  args: string[],
): Promise<{ stdout: Buffer; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      encoding: "buffer",
      maxBuffer: 1 << 30,
    });
    return { stdout, stderr: stderr.toString() };
  } catch (err) {
    const e = err as { stderr?: Buffer; code?: unknown };
    throw new Error(
      `${command} ${args.join(" ")} exited ${String(e.code)}: ${e.stderr?.toString() ?? ""}`,
      { cause: err },
    );
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Reads a file through the mount from a child process. */
export async function catFile(path: string): Promise<Buffer> {
  return (await run("cat", [path])).stdout;
}
