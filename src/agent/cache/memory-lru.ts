/**
 * A byte-bounded least-recently-used map of buffers. Synchronous, so the FUSE
 * read path can serve a hit without awaiting anything.
 */
export interface MemoryLruOptions {
  /** Upper bound on the sum of stored buffer lengths. */
  maxBytes: number;
}

export class MemoryLru {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(options: MemoryLruOptions) {
    this.#maxBytes = options.maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The buffer, now most recently used; undefined when absent. */
  get(key: string): Buffer | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Stores a buffer, evicting the least recently used; a buffer larger than the bound is not kept. */
  set(key: string, value: Buffer): void {
    this.delete(key);
    if (value.length > this.#maxBytes) return;
    this.#entries.set(key, value);
    this.#bytes += value.length;
    for (const [oldKey, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldKey);
      this.#bytes -= old.length;
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= old.length;
  }
}
