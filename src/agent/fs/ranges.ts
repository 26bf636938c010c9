/**
 * Fetch planning: which byte ranges of the compressed blob to ask for, so a
 * read costs one request with neighbouring chunks merged.
 */
import type { ByteRange } from "./types.ts";

export interface Span {
  start: number;
  end: number;
}

/**
 * Sorts spans and merges those that overlap or whose gap is at most `maxGap`
 * bytes (fetching a small gap is cheaper than another range). A merged range
 * never grows past `maxLength` unless a single span is that long already.
 */
export function mergeSpans(spans: readonly Span[], maxGap = 0, maxLength = Infinity): Span[] {
  const sorted = [...spans].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const span of sorted) {
    const last = out[out.length - 1];
    const fits = last !== undefined && span.start - last.end <= maxGap;
    if (fits && Math.max(last.end, span.end) - last.start <= maxLength) {
      last.end = Math.max(last.end, span.end);
    } else if (fits && span.end <= last.end) {
      continue;
    } else {
      out.push({ start: span.start, end: span.end });
    }
  }
  return out;
}

export function toByteRanges(spans: readonly Span[]): ByteRange[] {
  return spans.map((s) => ({ offset: s.start, length: s.end - s.start }));
}

/** The bytes of `want` (which lies within one of `fetched`), cut from the fetched buffers. */
export function sliceFetched(
  fetched: readonly Span[],
  buffers: readonly Buffer[],
  want: Span,
): Buffer {
  for (let i = 0; i < fetched.length; i++) {
    const span = fetched[i]!;
    if (want.start >= span.start && want.end <= span.end) {
      return buffers[i]!.subarray(want.start - span.start, want.end - span.start);
    }
  }
  throw new Error(`range ${want.start}-${want.end} was not fetched`);
}

/** A set of disjoint byte ranges with its total, for "how much of the blob is here". */
export class SpanSet {
  #spans: Span[] = [];
  #total = 0;

  get total(): number {
    return this.#total;
  }

  add(span: Span): void {
    if (span.end <= span.start) return;
    this.#spans = mergeSpans([...this.#spans, span]);
    this.#total = this.#spans.reduce((sum, s) => sum + s.end - s.start, 0);
  }

  covers(span: Span): boolean {
    return this.#spans.some((s) => s.start <= span.start && s.end >= span.end);
  }

  /** The parts of `span` not in the set. */
  missing(span: Span): Span[] {
    const out: Span[] = [];
    let at = span.start;
    for (const s of this.#spans) {
      if (s.end <= at) continue;
      if (s.start >= span.end) break;
      if (s.start > at) out.push({ start: at, end: s.start });
      at = Math.max(at, s.end);
    }
    if (at < span.end) out.push({ start: at, end: span.end });
    return out;
  }
}
