/**
 * Compresses gzip members in parallel and writes them in order. Each member
 * is independent, so zlib's async calls run on libuv's worker threads while
 * the caller keeps parsing; at most `concurrency` members are in flight, which
 * bounds memory to about concurrency × the largest member.
 */
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { LayerSink } from "./types.ts";

const gzip = promisify(gzipCallback);

export interface MemberWriterOptions {
  sink: LayerSink;
  level: number;
  concurrency: number;
  signal?: AbortSignal | undefined;
}

export interface MemberWriterResult {
  /** Compressed offset of every member, by index. */
  memberOffsets: readonly number[];
  size: number;
  digest: string;
  diffID: string;
  uncompressedSize: number;
}

export class MemberWriter {
  readonly #options: MemberWriterOptions;
  readonly #inFlight: Promise<Buffer>[] = [];
  readonly #memberOffsets: number[] = [];
  readonly #blobHash = createHash("sha256");
  readonly #diffHash = createHash("sha256");
  #written = 0;
  #uncompressed = 0;
  #members = 0;

  constructor(options: MemberWriterOptions) {
    this.#options = options;
  }

  /** How many members have been queued; the next one gets this index. */
  get queuedMembers(): number {
    return this.#members;
  }

  /** Compressed offsets of the members written so far (all of them after flush()). */
  get memberOffsets(): readonly number[] {
    return this.#memberOffsets;
  }

  /** Queues one member made of these bytes; returns its index. Waits when too many are in flight. */
  async addMember(parts: readonly Buffer[]): Promise<number> {
    this.#options.signal?.throwIfAborted();
    const input = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.#diffHash.update(input);
    this.#uncompressed += input.length;
    const pending = gzip(input, { level: this.#options.level });
    // Observed when drained; this keeps an early failure from being reported as unhandled.
    void pending.catch(() => undefined);
    this.#inFlight.push(pending);
    while (this.#inFlight.length >= this.#options.concurrency) await this.#drainOne();
    return this.#members++;
  }

  /** Bytes that are already a complete gzip member (the footer). */
  async addRaw(bytes: Buffer): Promise<number> {
    this.#inFlight.push(Promise.resolve(bytes));
    return this.#members++;
  }

  /** The compressed offset the next member will start at, once everything queued is written. */
  async flush(): Promise<number> {
    while (this.#inFlight.length > 0) await this.#drainOne();
    return this.#written;
  }

  async finish(): Promise<MemberWriterResult> {
    await this.flush();
    return {
      memberOffsets: this.#memberOffsets,
      size: this.#written,
      digest: `sha256:${this.#blobHash.digest("hex")}`,
      diffID: `sha256:${this.#diffHash.digest("hex")}`,
      uncompressedSize: this.#uncompressed,
    };
  }

  async #drainOne(): Promise<void> {
    const compressed = await this.#inFlight[0]!;
    void this.#inFlight.shift();
    this.#options.signal?.throwIfAborted();
    this.#memberOffsets.push(this.#written);
    this.#blobHash.update(compressed);
    this.#written += compressed.length;
    await this.#options.sink.write(compressed);
  }
}
