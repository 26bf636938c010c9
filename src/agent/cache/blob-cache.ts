/**
 * The cache interfaces the layer filesystem depends on. A key names one
 * immutable blob (a decompressed chunk); callers verify what they read back,
 * the cache only stores bytes.
 */

/** One blob being added: write its bytes, then commit (visible) or abort (gone). */
export interface CacheWriter {
  write(data: Uint8Array): void;
  /** Makes the blob readable under its key; resolves once it is durable. */
  commit(): Promise<void>;
  /** Discards what was written. Idempotent; safe after a failed commit. */
  abort(): Promise<void>;
}

export interface BlobCache {
  /** Whether the key is (as far as this process knows) present. Synchronous and cheap. */
  has(key: string): boolean;
  /** The blob's bytes, or undefined when absent or unreadable (a broken entry is dropped). */
  get(key: string, signal?: AbortSignal): Promise<Buffer | undefined>;
  add(key: string): CacheWriter;
  /** Drops an entry, e.g. one that failed verification. */
  remove(key: string): Promise<void>;
}

/** Keys become file names: only these characters, never a path separator. */
export function checkCacheKey(key: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(key)) {
    throw new Error(`invalid cache key ${JSON.stringify(key)}`);
  }
}
