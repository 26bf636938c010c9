/**
 * Blobs as files under one directory (`<dir>/<first two key chars>/<key>`),
 * bounded in total size with least-recently-used eviction. Writes go to a
 * `.partial-*` file renamed on commit, so a crash never leaves a half blob
 * under a real key; leftovers are removed when the cache is opened. What is
 * on disk is trusted only as bytes: callers verify what they read.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkCacheKey, type BlobCache, type CacheWriter } from "./blob-cache.ts";

export interface DiskCacheOptions {
  dir: string;
  /** Upper bound on the sum of blob sizes; least recently used blobs are removed past it. */
  maxBytes: number;
  /** Called when a background removal fails (eviction is best effort). */
  onError?: (err: unknown) => void;
}

export class DiskCache implements BlobCache {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #onError: (err: unknown) => void;
  /** key -> size, in least-recently-used order. */
  readonly #entries = new Map<string, number>();
  #bytes = 0;

  private constructor(options: DiskCacheOptions) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#onError = options.onError ?? (() => {});
  }

  /** Opens (creating) the directory and indexes what an earlier run left, oldest first. */
  static async open(options: DiskCacheOptions): Promise<DiskCache> {
    const cache = new DiskCache(options);
    await mkdir(options.dir, { recursive: true });
    const found: { key: string; size: number; mtimeMs: number }[] = [];
    for (const shard of await readdir(options.dir)) {
      const shardDir = join(options.dir, shard);
      for (const name of await readdir(shardDir).catch(() => [])) {
        const file = join(shardDir, name);
        if (name.includes(".partial-")) await rm(file, { force: true });
        else {
          const info = await stat(file);
          found.push({ key: name, size: info.size, mtimeMs: info.mtimeMs });
        }
      }
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const { key, size } of found) cache.#track(key, size);
    await cache.#evict();
    return cache;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  async get(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    if (!this.#entries.has(key)) return undefined;
    try {
      const data = await readFile(this.#path(key), { signal });
      this.#touch(key);
      return data;
    } catch (err) {
      if (signal?.aborted) throw err;
      this.#untrack(key);
      return undefined;
    }
  }

  add(key: string): CacheWriter {
    checkCacheKey(key);
    const parts: Uint8Array[] = [];
    const partial = `${this.#path(key)}.partial-${randomBytes(6).toString("hex")}`;
    let done = false;
    return {
      write: (data) => {
        if (done) throw new Error("cache writer already finished");
        parts.push(data);
      },
      commit: async () => {
        if (done) throw new Error("cache writer already finished");
        done = true;
        const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        await mkdir(join(this.#dir, key.slice(0, 2)), { recursive: true });
        await writeFile(partial, data);
        await rename(partial, this.#path(key));
        this.#untrack(key);
        this.#track(key, data.byteLength);
        await this.#evict();
      },
      abort: async () => {
        done = true;
        await rm(partial, { force: true });
      },
    };
  }

  async remove(key: string): Promise<void> {
    this.#untrack(key);
    await rm(this.#path(key), { force: true });
  }

  #path(key: string): string {
    return join(this.#dir, key.slice(0, 2), key);
  }

  #track(key: string, size: number): void {
    this.#entries.set(key, size);
    this.#bytes += size;
  }

  #untrack(key: string): void {
    const size = this.#entries.get(key);
    if (size === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= size;
  }

  #touch(key: string): void {
    const size = this.#entries.get(key);
    if (size === undefined) return;
    this.#entries.delete(key);
    this.#entries.set(key, size);
  }

  async #evict(): Promise<void> {
    const victims: string[] = [];
    for (const key of this.#entries.keys()) {
      if (this.#bytes <= this.#maxBytes) break;
      victims.push(key);
      this.#untrack(key);
    }
    for (const key of victims) {
      await rm(this.#path(key), { force: true }).catch(this.#onError);
    }
  }
}
