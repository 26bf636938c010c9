/**
 * File content of one layer, served from the chunk cache or fetched: the
 * chunks a read needs that are not cached are fetched in one request
 * (neighbours merged), inflated, verified, cached and returned. Concurrent
 * readers of a chunk share its fetch. A fetch is bounded by the fetch
 * timeout even if the source ignores its signal, and its failure is recorded
 * in the layer state; nothing unverified is ever returned.
 */
import type { ChunkRef, FileNode } from "../../estargz/index.ts";
import { StargzError, errorMessage } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { chunkKey, type ChunkCache } from "./chunk-cache.ts";
import type { LayerState } from "./layer-state.ts";
import type { ErrorReason, FetchKind, LayerFsMetrics } from "./metrics.ts";
import { mergeSpans, sliceFetched, toByteRanges, type Span } from "./ranges.ts";
import type { Layer } from "./types.ts";

export interface LayerContentOptions {
  layer: Layer;
  cache: ChunkCache;
  state: LayerState;
  logger: Logger;
  metrics?: LayerFsMetrics | undefined;
  /** Bound on one fetch (request, inflation, verification), in milliseconds. */
  fetchTimeoutMs: number;
  /** Gaps up to this many bytes between needed chunks are fetched rather than split (default 64 KiB). */
  mergeGapBytes?: number;
  /** Chunks fetched ahead of a sequential reader, not awaited (default 3). */
  readAheadChunks?: number;
  /** Aborted when the layer is unmounted. */
  signal: AbortSignal;
}

export interface LoadOptions {
  kind: FetchKind;
  /** Keep in memory (on-demand reads) or only on disk (prefetch, background). */
  inMemory: boolean;
  mergeGap: number;
  /** More blob ranges to fetch in the same request (counted as fetched, not decoded). */
  extraSpans?: readonly Span[] | undefined;
}

/** A chunk some readers wait for, and how to answer them. */
interface Waiter {
  ref: ChunkRef;
  resolve: (data: Buffer) => void;
  reject: (err: unknown) => void;
}

export class LayerContent {
  readonly #o: LayerContentOptions;
  readonly #inflight = new Map<string, Promise<Buffer>>();
  #onDemandWaiting = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(options: LayerContentOptions) {
    this.#o = options;
  }

  /** Number of on-demand reads waiting for a fetch; background fetch pauses while it is not 0. */
  get onDemandWaiting(): number {
    return this.#onDemandWaiting;
  }

  /** Resolves once no on-demand read is waiting. */
  idle(): Promise<void> {
    if (this.#onDemandWaiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Bytes [offset, offset+length) of a regular file when every chunk is in memory, else undefined. */
  cached(node: FileNode, offset: number, length: number): Buffer | undefined {
    const refs = this.#o.layer.reader.chunksCovering(node, offset, length);
    const parts: Buffer[] = [];
    for (const ref of refs) {
      const data = this.#o.cache.memory(this.key(ref));
      if (data === undefined) return undefined;
      parts.push(data);
    }
    return assemble(refs, parts, offset, Math.min(length, node.size - offset));
  }

  /** Bytes [offset, offset+length) of a regular file, fetching what is missing. Rejects with the cause. */
  async read(node: FileNode, offset: number, length: number, sequential = false): Promise<Buffer> {
    const refs = this.#o.layer.reader.chunksCovering(node, offset, length);
    if (sequential) this.readAhead(node, offset, length);
    this.#onDemandWaiting += 1;
    try {
      const parts = await Promise.all(
        this.load(refs, {
          kind: "on_demand",
          inMemory: true,
          mergeGap: this.#o.mergeGapBytes ?? 64 << 10,
        }),
      );
      return assemble(refs, parts, offset, Math.min(length, node.size - offset));
    } finally {
      this.#onDemandWaiting -= 1;
      if (this.#onDemandWaiting === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** Whether the chunk is cached in some tier; if so its compressed range counts as fetched. */
  isLocal(ref: ChunkRef): boolean {
    const local = this.#o.cache.has(this.key(ref));
    if (local) this.#o.state.markFetched(compressedSpan(ref));
    return local;
  }

  key(ref: ChunkRef): string {
    return chunkKey(ref, this.#o.layer.digest);
  }

  /**
   * One promise per chunk: a memory hit, a fetch already in flight, or a new
   * disk lookup / fetch shared by everyone asking for that chunk meanwhile.
   */
  load(refs: readonly ChunkRef[], options: LoadOptions): Promise<Buffer>[] {
    const out: Promise<Buffer>[] = [];
    const missing: Waiter[] = [];
    for (const ref of refs) {
      const key = this.key(ref);
      const hit = options.inMemory ? this.#o.cache.memory(key) : undefined;
      const pending = this.#inflight.get(key);
      if (hit) out.push(Promise.resolve(hit));
      else if (pending) out.push(pending);
      else {
        const { promise, resolve, reject } = deferred<Buffer>();
        promise.catch(() => {});
        this.#inflight.set(key, promise);
        void promise.finally(() => this.#inflight.delete(key)).catch(() => {});
        missing.push({ ref, resolve, reject });
        out.push(promise);
      }
    }
    if (missing.length > 0) void this.#fill(missing, options);
    return out;
  }

  async #fill(wanted: Waiter[], options: LoadOptions): Promise<void> {
    const signal = AbortSignal.any([this.#o.signal, AbortSignal.timeout(this.#o.fetchTimeoutMs)]);
    const toFetch: Waiter[] = [];
    for (const want of wanted) {
      try {
        const data = await this.#o.cache.disk(
          this.key(want.ref),
          want.ref,
          this.#check(want.ref),
          signal,
        );
        if (data) {
          this.#o.state.markFetched(compressedSpan(want.ref));
          want.resolve(data);
        } else toFetch.push(want);
      } catch {
        toFetch.push(want);
      }
    }
    if (toFetch.length === 0) return;
    try {
      const datas = await this.#fetch(
        toFetch.map((w) => w.ref),
        options,
        signal,
      );
      toFetch.forEach((w, i) =>
        datas[i] instanceof Buffer ? w.resolve(datas[i]) : w.reject(datas[i]),
      );
    } catch (err) {
      for (const w of toFetch) w.reject(err);
    }
  }

  /** Fetches, inflates, verifies and caches chunks; per chunk its data or its error. */
  async #fetch(
    refs: ChunkRef[],
    options: LoadOptions,
    signal: AbortSignal,
  ): Promise<(Buffer | Error)[]> {
    const started = performance.now();
    const spans = mergeSpans(
      [...refs.map(compressedSpan), ...(options.extraSpans ?? [])],
      options.mergeGap,
    );
    const where = { layer: this.#o.layer.digest, path: refs[0]?.path ?? "" };
    let buffers: Buffer[];
    try {
      this.#o.metrics?.fetchRequests.inc({ kind: options.kind });
      buffers = await withSignal(
        this.#o.layer.source.readRanges(toByteRanges(spans), signal),
        signal,
      );
      checkLengths(spans, buffers);
    } catch (cause) {
      throw this.#failed(cause, signal, where);
    }
    const fetchedBytes = spans.reduce((sum, s) => sum + s.end - s.start, 0);
    this.#o.metrics?.fetchedBytes.inc({ kind: options.kind }, fetchedBytes);
    for (const span of spans) this.#o.state.markFetched(span);
    const out = await Promise.all(
      refs.map((ref) =>
        this.#decode(ref, sliceFetched(spans, buffers, compressedSpan(ref)), options),
      ),
    );
    this.#o.metrics?.fetchSeconds.observe(
      { kind: options.kind },
      (performance.now() - started) / 1000,
    );
    return out;
  }

  async #decode(ref: ChunkRef, compressed: Buffer, options: LoadOptions): Promise<Buffer | Error> {
    try {
      const data = await this.#o.layer.reader.decode(ref, compressed);
      void this.#o.cache.put(this.key(ref), data, options.inMemory);
      return data;
    } catch (cause) {
      this.#o.metrics?.fetchErrors.inc({ reason: "verification" });
      const err = new StargzError(
        "DATA_LOSS",
        `chunk at ${ref.chunkOffset} failed verification: ${errorMessage(cause)}`,
        {
          cause,
          context: { layer: this.#o.layer.digest, path: ref.path },
        },
      );
      this.#o.state.report(err, { path: ref.path });
      return err;
    }
  }

  #failed(
    cause: unknown,
    signal: AbortSignal,
    where: { layer: string; path: string },
  ): StargzError {
    const reason: ErrorReason = this.#o.signal.aborted
      ? "aborted"
      : signal.aborted
        ? "timeout"
        : "source";
    this.#o.metrics?.fetchErrors.inc({ reason });
    const err =
      reason === "timeout"
        ? new StargzError(
            "DEADLINE_EXCEEDED",
            `fetch timed out after ${this.#o.fetchTimeoutMs} ms`,
            { cause, context: where },
          )
        : new StargzError("UNAVAILABLE", `fetch failed: ${errorMessage(cause)}`, {
            cause,
            context: where,
          });
    if (reason !== "aborted") this.#o.state.report(err, { path: where.path });
    return err;
  }

  #check(ref: ChunkRef): { layer: string; fileDigest: string | undefined } {
    const node = this.#o.layer.reader.lookup(ref.path);
    const single = node !== undefined && node.chunks.length === 1;
    return { layer: this.#o.layer.digest, fileDigest: single ? node.digest : undefined };
  }

  /**
   * For a sequential reader of [offset, offset+length): starts fetching the
   * next chunks (not awaited), so several requests are in flight and
   * inflation runs on several threads while the reader consumes.
   */
  readAhead(node: FileNode, offset: number, length: number): void {
    const count = this.#o.readAheadChunks ?? 3;
    const last = this.#o.layer.reader.chunksCovering(node, offset, length).at(-1);
    if (!last || count <= 0) return;
    const index = node.chunks.indexOf(last);
    const ahead = node.chunks
      .slice(index + 1, index + 1 + count)
      .filter((ref) => !this.#o.cache.has(this.key(ref)) && !this.#inflight.has(this.key(ref)));
    for (const ref of ahead) {
      for (const p of this.load([ref], { kind: "on_demand", inMemory: true, mergeGap: 0 }))
        p.catch(() => {});
    }
  }
}

export function compressedSpan(ref: ChunkRef): Span {
  return { start: ref.compressedOffset, end: ref.compressedEnd };
}

/** The requested bytes out of whole chunks (copied only when they span two chunks). */
function assemble(
  refs: readonly ChunkRef[],
  parts: readonly Buffer[],
  offset: number,
  length: number,
): Buffer {
  if (length <= 0 || refs.length === 0) return Buffer.alloc(0);
  if (parts.length === 1) {
    const start = offset - refs[0]!.chunkOffset;
    return parts[0]!.subarray(start, start + length);
  }
  const out = Buffer.allocUnsafe(length);
  refs.forEach((ref, i) => {
    const from = Math.max(offset, ref.chunkOffset);
    const to = Math.min(offset + length, ref.chunkOffset + ref.chunkSize);
    if (to > from) parts[i]!.copy(out, from - offset, from - ref.chunkOffset, to - ref.chunkOffset);
  });
  return out;
}

function checkLengths(spans: readonly Span[], buffers: readonly Buffer[]): void {
  if (buffers.length !== spans.length)
    throw new Error(`source returned ${buffers.length} ranges for ${spans.length}`);
  spans.forEach((s, i) => {
    if (buffers[i]!.length !== s.end - s.start)
      throw new Error(`source returned ${buffers[i]!.length} bytes for range ${s.start}-${s.end}`);
  });
}

function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The promise, or a rejection as soon as the signal aborts (a source that ignores its signal cannot hang a read). */
export function withSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err as Error);
      },
    );
  });
}
