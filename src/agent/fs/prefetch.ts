/**
 * Prefetch (everything before `.prefetch.landmark`, one request) and the
 * background fetch of the rest of the layer (bounded concurrency, paused
 * while on-demand reads wait). Both fill the cache; failures are recorded in
 * the layer state, never thrown at the FUSE side.
 */
import {
  NO_PREFETCH_LANDMARK,
  PREFETCH_LANDMARK,
  type ChunkRef,
  type LayerReader,
} from "../../estargz/index.ts";
import type { Logger } from "../../util/log.ts";
import { compressedSpan, withSignal, type LayerContent } from "./layer-content.ts";
import type { LayerState } from "./layer-state.ts";
import { toByteRanges, type Span } from "./ranges.ts";
import type { LayerBlobSource } from "./types.ts";

/** The compressed range to prefetch: [0, landmark's data offset), or undefined for none. */
export function prefetchSpan(reader: LayerReader): Span | undefined {
  if (reader.lookup(NO_PREFETCH_LANDMARK)?.type === "reg") return undefined;
  const landmark = reader.lookup(PREFETCH_LANDMARK);
  const first = landmark?.type === "reg" ? landmark.chunks[0] : undefined;
  return first ? { start: 0, end: first.compressedOffset } : undefined;
}

/** Chunks whose compressed bytes lie wholly within the span, in blob order. */
export function chunksWithin(reader: LayerReader, span: Span): ChunkRef[] {
  return reader.index.allChunks.filter(
    (c) => c.compressedOffset >= span.start && c.compressedEnd <= span.end,
  );
}

/**
 * Groups chunks (in blob order) into batches of at most `maxBytes`
 * compressed bytes each (a larger chunk is a batch of its own); every batch
 * is fetched as one request.
 */
export function batchChunks(chunks: readonly ChunkRef[], maxBytes: number): ChunkRef[][] {
  const batches: ChunkRef[][] = [];
  let current: ChunkRef[] = [];
  let bytes = 0;
  for (const chunk of chunks) {
    const size = chunk.compressedEnd - chunk.compressedOffset;
    if (current.length > 0 && bytes + size > maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(chunk);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface FetcherOptions {
  reader: LayerReader;
  source: LayerBlobSource;
  content: LayerContent;
  state: LayerState;
  logger: Logger;
  signal: AbortSignal;
  fetchTimeoutMs: number;
}

/** Prefetches the landmark range; resolves (never rejects) when done, with whether it succeeded. */
export async function runPrefetch(o: FetcherOptions): Promise<boolean> {
  const span = prefetchSpan(o.reader);
  if (!span) return true;
  o.state.prefetch = "pending";
  const refs = chunksWithin(o.reader, span).filter((ref) => !o.content.isLocal(ref));
  try {
    // Header-only parts of the range ride in the same request as the chunks.
    const extraSpans = o.state.missing(span);
    if (refs.length > 0) {
      const options = { kind: "prefetch" as const, inMemory: true, mergeGap: Infinity, extraSpans };
      await Promise.all(o.content.load(refs, options));
    } else await fetchGaps(o, span);
    o.state.prefetch = "done";
    return true;
  } catch (err) {
    o.state.prefetch = "failed";
    o.state.report(err, { during: "prefetch" });
    return false;
  }
}

export interface BackgroundOptions extends FetcherOptions {
  /** Batches in flight at once (default 2). */
  concurrency?: number;
  /** Compressed bytes per request (default 8 MiB). */
  batchBytes?: number;
}

/** Fetches every chunk not yet local, low priority; resolves (never rejects) when done or stopped. */
export async function runBackgroundFetch(o: BackgroundOptions): Promise<void> {
  o.state.backgroundFetch = "running";
  const refs = o.reader.index.allChunks.filter((ref) => !o.content.isLocal(ref));
  const queue = batchChunks(
    [...refs].sort((a, b) => a.compressedOffset - b.compressedOffset),
    o.batchBytes ?? 8 << 20,
  );
  const worker = async (): Promise<void> => {
    for (let batch = queue.shift(); batch; batch = queue.shift()) {
      await o.content.idle();
      o.signal.throwIfAborted();
      const wanted = batch.filter((ref) => !o.content.isLocal(ref));
      await Promise.all(
        o.content.load(wanted, { kind: "background", inMemory: false, mergeGap: Infinity }),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency ?? 2 }, worker));
    await fetchGaps(o, { start: 0, end: o.source.size });
    o.state.backgroundFetch = "done";
  } catch (err) {
    o.state.backgroundFetch = "failed";
    if (!o.signal.aborted) o.state.report(err, { during: "background fetch" });
  }
}

/** Fetches the parts of a span that hold no chunk (tar headers only), so the state shows the layer complete. */
async function fetchGaps(o: FetcherOptions, span: Span): Promise<void> {
  const gaps = o.state.missing(span);
  if (gaps.length === 0) return;
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.fetchTimeoutMs)]);
  await withSignal(o.source.readRanges(toByteRanges(gaps), signal), signal);
  for (const gap of gaps) o.state.markFetched(gap);
}

export { compressedSpan };
