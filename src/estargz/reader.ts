/**
 * Opening an eStargz (or legacy stargz) blob over random access: the footer
 * gives the TOC's offset, the TOC is inflated with a size bound, hashed as
 * read, parsed and indexed. File content is read chunk by chunk, each
 * verified before it is returned.
 */
import { createHash } from "node:crypto";
import { gunzip as gunzipCallback } from "node:zlib";
import { promisify } from "node:util";
import { decodeChunk } from "./chunk-decoder.ts";
import { EStargzError } from "./errors.ts";
import { StargzError } from "../util/errors.ts";
import { decodeFooter, FOOTER_SIZE, type Footer } from "./footer.ts";
import { buildIndex, type ChunkRef, type FileNode, type LayerIndex } from "./layer-index.ts";
import { BLOCK, parseHeader, checksumOk } from "./tar-header.ts";
import { decodeToc } from "./toc-json.ts";
import { TOC_TAR_NAME, type ReadAt, type Toc } from "./types.ts";

const gunzip = promisify(gunzipCallback);

export const DEFAULT_MAX_TOC_BYTES = 256 << 20;

export interface OpenOptions {
  /** Names the layer in errors (a digest or file name). */
  layerName?: string;
  /** Reject a TOC whose JSON is larger than this (default 256 MiB). */
  maxTocBytes?: number;
  /** When set, the TOC's sha256 must equal it. */
  expectedTocDigest?: string;
  /** Serve chunks that have no digest in the TOC (legacy stargz). Off by default. */
  allowUnverified?: boolean;
  signal?: AbortSignal;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

export class LayerReader {
  readonly footer: Footer;
  readonly toc: Toc;
  readonly tocDigest: string;
  readonly index: LayerIndex;
  readonly #source: ReadAt;
  readonly #options: OpenOptions;

  /** Use openLayer(); this only assembles what it has read and checked. */
  constructor(
    source: ReadAt,
    parsed: { footer: Footer; toc: Toc; tocDigest: string },
    options: OpenOptions,
  ) {
    this.#source = source;
    this.#options = options;
    this.footer = parsed.footer;
    this.toc = parsed.toc;
    this.tocDigest = parsed.tocDigest;
    this.index = buildIndex(parsed.toc, parsed.footer.tocOffset, options.layerName);
  }

  get layerName(): string | undefined {
    return this.#options.layerName;
  }

  lookup(path: string): FileNode | undefined {
    return this.index.lookup(path);
  }

  /** The chunks holding bytes [offset, offset+length) of a regular file. */
  chunksCovering(node: FileNode, offset: number, length: number): ChunkRef[] {
    const end = Math.min(node.size, offset + length);
    if (offset >= end) return [];
    const chunks = node.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (chunks[mid]!.chunkOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const out: ChunkRef[] = [];
    for (let i = lo; i < chunks.length && chunks[i]!.chunkOffset < end; i++) out.push(chunks[i]!);
    return out;
  }

  /** Inflates and verifies one chunk from its compressed bytes (fetched by the caller). */
  decode(ref: ChunkRef, compressed: Uint8Array): Promise<Buffer> {
    const node = this.index.lookup(ref.path);
    const single = node !== undefined && node.chunks.length === 1;
    return decodeChunk(ref, compressed, {
      layer: this.#options.layerName,
      allowUnverified: this.#options.allowUnverified,
      fileDigest: single ? node.digest : undefined,
    });
  }

  /** Reads, inflates and verifies one chunk from the source. */
  async readChunk(ref: ChunkRef, options: ReadOptions = {}): Promise<Buffer> {
    options.signal?.throwIfAborted();
    const compressed = await readRange(this.#source, ref.compressedOffset, ref.compressedEnd, {
      layer: this.#options.layerName,
      entry: ref.path,
    });
    return this.decode(ref, compressed);
  }

  /** A whole regular file, verified. */
  async readFile(path: string, options: ReadOptions = {}): Promise<Buffer> {
    const node = this.index.lookup(path);
    if (!node) {
      const context = { layer: this.#options.layerName, entry: path };
      throw new StargzError("NOT_FOUND", "no such file in layer", { context });
    }
    if (node.type !== "reg") {
      throw new EStargzError("bad-entry", `not a regular file (${node.type})`, {
        layer: this.#options.layerName,
        entry: path,
      });
    }
    const parts: Buffer[] = [];
    for (const ref of node.chunks) parts.push(await this.readChunk(ref, options));
    return Buffer.concat(parts, node.size);
  }

  /** Reads and verifies every chunk of the layer; throws on the first bad one. */
  async verifyAll(options: ReadOptions = {}): Promise<{ chunks: number; bytes: number }> {
    let bytes = 0;
    for (const ref of this.index.allChunks) bytes += (await this.readChunk(ref, options)).length;
    return { chunks: this.index.allChunks.length, bytes };
  }
}

export async function openLayer(source: ReadAt, options: OpenOptions = {}): Promise<LayerReader> {
  const layer = options.layerName;
  options.signal?.throwIfAborted();
  const tailLength = Math.min(source.size, FOOTER_SIZE);
  const tail = await readRange(source, source.size - tailLength, source.size, { layer });
  const footer = decodeFooter(tail);
  if ("error" in footer)
    throw new EStargzError("bad-footer", `not an eStargz blob: ${footer.error}`, { layer });
  const tocEnd = source.size - footer.size;
  if (footer.tocOffset >= tocEnd) {
    throw new EStargzError(
      "out-of-bounds",
      `TOC offset ${footer.tocOffset} is past the end of the blob`,
      { layer },
    );
  }
  const maxTocBytes = options.maxTocBytes ?? DEFAULT_MAX_TOC_BYTES;
  if (tocEnd - footer.tocOffset > maxTocBytes) {
    throw new EStargzError(
      "toc-too-large",
      `compressed TOC is ${tocEnd - footer.tocOffset} bytes, limit ${maxTocBytes}`,
      { layer },
    );
  }
  options.signal?.throwIfAborted();
  const compressedToc = await readRange(source, footer.tocOffset, tocEnd, { layer });
  const tocJson = await inflateToc(compressedToc, maxTocBytes, layer);
  const tocDigest = `sha256:${createHash("sha256").update(tocJson).digest("hex")}`;
  if (options.expectedTocDigest !== undefined && options.expectedTocDigest !== tocDigest) {
    throw new EStargzError(
      "digest-mismatch",
      `TOC digest is ${tocDigest}, expected ${options.expectedTocDigest}`,
      { layer },
    );
  }
  const toc = decodeToc(tocJson, layer);
  return new LayerReader(source, { footer, toc, tocDigest }, options);
}

/** The TOC member holds one tar entry, stargz.index.json; returns its payload exactly as stored. */
async function inflateToc(
  compressed: Buffer,
  maxTocBytes: number,
  layer: string | undefined,
): Promise<Buffer> {
  let tar: Buffer;
  try {
    tar = await gunzip(compressed, { maxOutputLength: maxTocBytes + 64 * BLOCK });
  } catch (cause) {
    const tooLarge = (cause as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    throw tooLarge
      ? new EStargzError("toc-too-large", `TOC inflates past ${maxTocBytes} bytes`, {
          layer,
          cause,
        })
      : new EStargzError("bad-toc", "TOC member does not inflate", { layer, cause });
  }
  return tocPayload(tar, layer);
}

function tocPayload(tar: Buffer, layer: string | undefined): Buffer {
  const block = tar.subarray(0, BLOCK);
  if (block.length < BLOCK || !checksumOk(block))
    throw new EStargzError("bad-toc", "TOC member has no valid tar header", { layer });
  const header = parseHeader(block, new Map(), undefined, undefined);
  if (header.name !== TOC_TAR_NAME && header.name !== `./${TOC_TAR_NAME}`) {
    throw new EStargzError("bad-toc", `TOC tar entry is named ${JSON.stringify(header.name)}`, {
      layer,
    });
  }
  if (header.size > tar.length - BLOCK)
    throw new EStargzError("truncated", "TOC JSON is cut short", { layer });
  return tar.subarray(BLOCK, BLOCK + header.size);
}

/** Exactly [start, end) of the source, or a typed error naming what was cut short. */
export async function readRange(
  source: ReadAt,
  start: number,
  end: number,
  where: { layer?: string | undefined; entry?: string | undefined } = {},
): Promise<Buffer> {
  const { layer, entry } = where;
  if (start < 0 || end > source.size || start > end) {
    throw new EStargzError(
      "out-of-bounds",
      `range ${start}-${end} is outside a ${source.size}-byte blob`,
      { layer, entry },
    );
  }
  const out = Buffer.allocUnsafe(end - start);
  let filled = 0;
  while (filled < out.length) {
    const got = await source.readAt(out.subarray(filled), start + filled);
    if (got <= 0)
      throw new EStargzError("truncated", `blob ends at ${start + filled}, expected ${end}`, {
        layer,
        entry,
      });
    filled += got;
  }
  return out;
}
