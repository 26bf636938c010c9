/**
 * Byte-range planning and parsing for blob reads. Requested ranges are sorted
 * and neighbours closer than a gap are merged, so a burst of chunk reads
 * becomes few ranges; several ranges then travel in one request as a
 * multipart/byteranges response where the server supports it.
 */
import { StargzError } from "../util/errors.ts";

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** A contiguous span to fetch, covering one or more requested ranges. */
export interface RangeGroup {
  readonly offset: number;
  readonly length: number;
  /** Indexes into the caller's range list. */
  readonly members: number[];
}

export function mergeRanges(ranges: readonly ByteRange[], maxGap: number): RangeGroup[] {
  const order = ranges.map((_, i) => i).filter((i) => (ranges[i]?.length ?? 0) > 0);
  order.sort((a, b) => (ranges[a]?.offset ?? 0) - (ranges[b]?.offset ?? 0));
  const groups: { offset: number; end: number; members: number[] }[] = [];
  for (const i of order) {
    const r = ranges[i] as ByteRange;
    const last = groups[groups.length - 1];
    if (last && r.offset <= last.end + maxGap) {
      last.end = Math.max(last.end, r.offset + r.length);
      last.members.push(i);
    } else {
      groups.push({ offset: r.offset, end: r.offset + r.length, members: [i] });
    }
  }
  return groups.map((g) => ({ offset: g.offset, length: g.end - g.offset, members: g.members }));
}

export function rangeHeader(spans: readonly ByteRange[]): string {
  return "bytes=" + spans.map((s) => `${s.offset}-${s.offset + s.length - 1}`).join(",");
}

export interface ContentRange {
  start: number;
  /** Inclusive. */
  end: number;
  total?: number;
}

export function parseContentRange(value: string | undefined): ContentRange | undefined {
  const m = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value?.trim() ?? "");
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  return { start, end, ...(m[3] !== "*" ? { total: Number(m[3]) } : {}) };
}

export interface BodyPart {
  readonly range: ContentRange;
  readonly data: Uint8Array;
}

/** The parts of a multipart/byteranges body (RFC 9110 §14.6). */
export function parseMultipartByteranges(body: Uint8Array, contentType: string): BodyPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw malformed("multipart response without a boundary");
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: BodyPart[] = [];
  let pos = buf.indexOf(delimiter);
  while (pos >= 0) {
    pos += delimiter.length;
    if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) break; // closing "--"
    const headerEnd = buf.indexOf("\r\n\r\n", pos);
    if (headerEnd < 0) throw malformed("multipart part without a header end");
    const headers = buf.subarray(pos, headerEnd).toString("latin1");
    const crLine = /^content-range:\s*(.+)$/im.exec(headers)?.[1];
    const range = parseContentRange(crLine);
    if (!range) throw malformed("multipart part without a valid Content-Range");
    const start = headerEnd + 4;
    const end = start + (range.end - range.start + 1);
    if (end > buf.length) throw malformed("multipart part shorter than its Content-Range");
    parts.push({ range, data: buf.subarray(start, end) });
    pos = buf.indexOf(delimiter, end);
  }
  return parts;
}

/**
 * Cuts the requested ranges out of fetched spans. Returns undefined for a
 * range no span fully covers (the caller fetches it separately).
 */
export function sliceFromSpans(
  ranges: readonly ByteRange[],
  spans: readonly { offset: number; data: Uint8Array }[],
): (Uint8Array | undefined)[] {
  return ranges.map((r) => {
    const s = spans.find(
      (sp) => sp.offset <= r.offset && sp.offset + sp.data.length >= r.offset + r.length,
    );
    return s ? s.data.subarray(r.offset - s.offset, r.offset - s.offset + r.length) : undefined;
  });
}

function malformed(why: string): StargzError {
  return new StargzError("DATA_LOSS", `malformed range response: ${why}`);
}
