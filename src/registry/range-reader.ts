/**
 * Range reads against one endpoint. Spans are requested together as
 * multi-range when the origin has not shown it cannot; the answer decides:
 * 206 multipart/byteranges (supported), 206 with one Content-Range (the
 * server took one range: remember, fetch the rest one by one), or 200 (Range
 * ignored: cut the wanted bytes out of the stream and stop reading once past
 * the last one).
 */
import { StargzError, type ErrorContext } from "../util/errors.ts";
import {
  mergeRanges,
  parseContentRange,
  parseMultipartByteranges,
  rangeHeader,
  sliceFromSpans,
  type ByteRange,
  type RangeGroup,
} from "./byte-ranges.ts";
import type { Endpoint } from "./hosts-config.ts";
import {
  classifyError,
  responseError,
  type ResponseData,
  type SendRequest,
} from "./http-transport.ts";
import type { ImageReference } from "./reference.ts";
import { repositoryScope } from "./authorizer.ts";

export interface BlobRef {
  readonly digest: string;
  readonly size: number;
}

export interface RangeReaderOptions {
  send(ep: Endpoint, req: SendRequest): Promise<ResponseData>;
  url(ep: Endpoint, ref: ImageReference, path: string): URL;
  mergeGapBytes: number;
  maxRangesPerRequest: number;
}

interface Span {
  offset: number;
  data: Uint8Array;
}

export class RangeReader {
  readonly #options: RangeReaderOptions;
  /** Per origin: false once it answered a multi-range request with a single range or the whole blob. */
  readonly #multiRange = new Map<string, boolean>();

  constructor(options: RangeReaderOptions) {
    this.#options = options;
  }

  async read(fetch: Fetch, ranges: readonly ByteRange[]): Promise<Uint8Array[]> {
    const { ep, context } = fetch;
    const groups = mergeRanges(ranges, this.#options.mergeGapBytes);
    const spans: Span[] = [];
    if (groups.length > 1 && this.#multiRange.get(ep.origin) !== false) {
      for (let i = 0; i < groups.length; i += this.#options.maxRangesPerRequest) {
        spans.push(
          ...(await this.#multi(fetch, groups.slice(i, i + this.#options.maxRangesPerRequest))),
        );
      }
    }
    const missing = groups.filter((g) => sliceFromSpans([g], spans)[0] === undefined);
    const fetched = await Promise.all(missing.map((g) => this.#single(fetch, g)));
    spans.push(...fetched);
    return sliceFromSpans(ranges, spans).map((data, i) => {
      if (data) return data;
      const r = ranges[i] as ByteRange;
      if (r.length === 0) return new Uint8Array(0);
      throw new StargzError("DATA_LOSS", `registry did not return range ${r.offset}+${r.length}`, {
        context,
      });
    });
  }

  async #multi(f: Fetch, groups: RangeGroup[]): Promise<Span[]> {
    const res = await this.#request(f, rangeHeader(groups));
    const type = header(res, "content-type") ?? "";
    if (res.statusCode === 206 && /^multipart\/byteranges/i.test(type)) {
      this.#multiRange.set(f.ep.origin, true);
      const body = await readAll(res, f);
      try {
        return parseMultipartByteranges(body, type).map((p) => ({
          offset: p.range.start,
          data: p.data,
        }));
      } catch (err) {
        throw new StargzError("DATA_LOSS", "malformed multi-range response", {
          cause: err,
          context: f.context,
        });
      }
    }
    this.#multiRange.set(f.ep.origin, false);
    return this.#collect(f, res, groups);
  }

  async #single(f: Fetch, g: RangeGroup): Promise<Span> {
    const res = await this.#request(f, rangeHeader([g]));
    const [span] = await this.#collect(f, res, [g]);
    if (!span || sliceFromSpans([g], [span])[0] === undefined) {
      throw new StargzError("DATA_LOSS", `registry did not return range ${g.offset}+${g.length}`, {
        context: f.context,
      });
    }
    return span;
  }

  /** Reads a 206 single-range or 200 whole-blob body, keeping only the wanted spans. */
  async #collect(f: Fetch, res: ResponseData, wanted: readonly ByteRange[]): Promise<Span[]> {
    let base = 0;
    if (res.statusCode === 206) {
      const cr = parseContentRange(header(res, "content-range"));
      if (!cr) {
        res.body.destroy();
        throw new StargzError("DATA_LOSS", "206 response without a valid Content-Range", {
          context: f.context,
        });
      }
      base = cr.start;
    }
    const spans = wanted.map((w) => ({
      offset: w.offset,
      data: new Uint8Array(w.length),
      filled: 0,
    }));
    const last = Math.max(...wanted.map((w) => w.offset + w.length));
    let pos = base;
    try {
      for await (const raw of res.body as AsyncIterable<Buffer>) {
        const chunkEnd = pos + raw.length;
        for (const s of spans) {
          const from = Math.max(pos, s.offset);
          const to = Math.min(chunkEnd, s.offset + s.data.length);
          if (from < to) {
            s.data.set(raw.subarray(from - pos, to - pos), from - s.offset);
            s.filled += to - from;
          }
        }
        pos = chunkEnd;
        if (pos >= last) break;
      }
    } catch (err) {
      throw classifyError(err, f.signal, f.context);
    } finally {
      res.body.destroy();
    }
    return spans
      .filter((s) => s.filled === s.data.length)
      .map((s) => ({ offset: s.offset, data: s.data }));
  }

  async #request(f: Fetch, range: string): Promise<ResponseData> {
    const res = await this.#options.send(f.ep, {
      method: "GET",
      url: this.#options.url(f.ep, f.ref, `blobs/${f.blob.digest}`),
      headers: { range },
      scopes: [repositoryScope(f.ref.repository, "pull")],
      signal: f.signal,
      context: f.context,
    });
    if (res.statusCode === 200 || res.statusCode === 206) return res;
    throw await responseError(res, "cannot read blob range", f.context);
  }
}

/** Where a range read goes: one endpoint, one blob. */
export interface Fetch {
  ep: Endpoint;
  ref: ImageReference;
  blob: BlobRef;
  signal: AbortSignal | undefined;
  context: ErrorContext;
}

function header(res: ResponseData, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readAll(res: ResponseData, f: Fetch): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of res.body as AsyncIterable<Buffer>) chunks.push(c);
  } catch (err) {
    throw classifyError(err, f.signal, f.context);
  }
  return Buffer.concat(chunks);
}
