/**
 * Decompressed chunks in two tiers: a memory LRU (synchronous hits for the
 * FUSE read path) over an optional disk cache that survives restarts. Keys
 * are the chunk's sha256 when the TOC has one, so identical chunks of
 * different layers share an entry; anything read back from disk is verified
 * against that digest before it is served.
 */
import { verifyChunk, type ChunkRef } from "../../estargz/index.ts";
import type { BlobCache } from "../cache/blob-cache.ts";
import { MemoryLru } from "../cache/memory-lru.ts";
import type { Logger } from "../../util/log.ts";
import type { LayerFsMetrics } from "./metrics.ts";

export interface ChunkCacheOptions {
  memoryMaxBytes: number;
  disk?: BlobCache | undefined;
  metrics?: LayerFsMetrics | undefined;
  logger: Logger;
}

/** What verifying a chunk read from disk needs. */
export interface ChunkCheck {
  layer: string;
  fileDigest?: string | undefined;
  allowUnverified?: boolean | undefined;
}

export class ChunkCache {
  readonly #memory: MemoryLru;
  readonly #disk: BlobCache | undefined;
  readonly #metrics: LayerFsMetrics | undefined;
  readonly #logger: Logger;
  /** Chunks whose disk write has not committed yet: still servable, so a read never misses them. */
  readonly #writing = new Map<string, Buffer>();

  constructor(options: ChunkCacheOptions) {
    this.#memory = new MemoryLru({ maxBytes: options.memoryMaxBytes });
    this.#disk = options.disk;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
  }

  get hasDisk(): boolean {
    return this.#disk !== undefined;
  }

  /** A memory hit, synchronously. */
  memory(key: string): Buffer | undefined {
    const hit = this.#memory.get(key);
    this.#metrics?.cacheLookups.inc({ tier: "memory", result: hit ? "hit" : "miss" });
    return hit;
  }

  /** Present in some tier (no I/O). */
  has(key: string): boolean {
    return this.#memory.has(key) || this.#writing.has(key) || (this.#disk?.has(key) ?? false);
  }

  /** A verified disk hit, promoted to memory; a corrupt entry is dropped and reported as a miss. */
  async disk(
    key: string,
    ref: ChunkRef,
    check: ChunkCheck,
    signal: AbortSignal,
  ): Promise<Buffer | undefined> {
    const writing = this.#writing.get(key);
    if (writing) return writing;
    if (!this.#disk?.has(key)) return undefined;
    const data = await this.#disk.get(key, signal);
    if (data === undefined || !verifies(ref, data, check)) {
      this.#metrics?.cacheLookups.inc({ tier: "disk", result: data ? "corrupt" : "miss" });
      if (data) await this.#disk.remove(key);
      return undefined;
    }
    this.#metrics?.cacheLookups.inc({ tier: "disk", result: "hit" });
    this.#memory.set(key, data);
    return data;
  }

  /**
   * Stores a verified chunk: in memory when `inMemory` (on-demand data is
   * likely read again soon), on disk in the background when there is one.
   */
  put(key: string, data: Buffer, inMemory: boolean): Promise<void> {
    if (inMemory || !this.#disk) this.#memory.set(key, data);
    if (!this.#disk || this.#disk.has(key) || this.#writing.has(key)) return Promise.resolve();
    const writer = this.#disk.add(key);
    writer.write(data);
    this.#writing.set(key, data);
    return writer
      .commit()
      .catch(async (err: unknown) => {
        this.#logger.warn("disk cache write failed", { error: err });
        await writer.abort().catch(() => {});
      })
      .finally(() => this.#writing.delete(key));
  }
}

/** The cache key of a chunk within a layer. */
export function chunkKey(ref: ChunkRef, layerDigest: string): string {
  if (ref.digest?.startsWith("sha256:")) return ref.digest.slice("sha256:".length);
  const layer = layerDigest.replace(/^sha256:/, "");
  return `${layer}-${ref.compressedOffset}-${ref.innerOffset}-${ref.chunkSize}`;
}

function verifies(ref: ChunkRef, data: Buffer, check: ChunkCheck): boolean {
  if (data.length !== ref.chunkSize) return false;
  try {
    verifyChunk(ref, data, {
      layer: check.layer,
      fileDigest: check.fileDigest,
      allowUnverified: check.allowUnverified,
    });
    return true;
  } catch {
    return false;
  }
}
