/**
 * Streaming eStargz builder: tar in, eStargz out. Input headers are copied
 * byte for byte; every non-empty regular file's payload starts a new gzip
 * member, and so does every chunk of it, so a reader can fetch and inflate
 * one chunk alone. Members are compressed in parallel (see MemberWriter).
 *
 * A stream input is converted in one pass with bounded memory. A random-access
 * input is scanned first, so that later duplicates replace earlier entries (as
 * in Go) and prioritized files can be moved to the front.
 */
import { availableParallelism } from "node:os";
import { createHash } from "node:crypto";
import { EStargzError } from "./errors.ts";
import { encodeFooter } from "./footer.ts";
import { MemberWriter } from "./member-writer.ts";
import { cleanEntryName, unsafeNameReason } from "./entry-name.ts";
import { orderForPrefetch } from "./prefetch-order.ts";
import { BLOCK, paddingFor, regularFileHeader, type TarHeader } from "./tar-header.ts";
import {
  readAtSource,
  readTarEntries,
  streamSource,
  type ByteSource,
  type TarEntry,
} from "./tar-reader.ts";
import { OwnerNames, tocEntryFor } from "./toc-entry.ts";
import { encodeToc } from "./toc-json.ts";
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_COMPRESSION_LEVEL,
  LANDMARK_CONTENTS,
  NO_PREFETCH_LANDMARK,
  PREFETCH_LANDMARK,
  TOC_TAR_NAME,
  type BuildResult,
  type LayerSink,
  type ReadAt,
  type TocEntry,
} from "./types.ts";

export interface BuildOptions {
  /** Bytes of file content per chunk (default 4 MiB). */
  chunkSize?: number;
  /** gzip level 0-9 (default 9, as the Go builder). */
  compressionLevel?: number;
  /** Files to place first, before `.prefetch.landmark`; needs a random-access input. */
  prioritizedFiles?: readonly string[];
  /**
   * Skip prioritized files the layer does not contain instead of failing
   * (an image's file list spans layers); they are reported in the result.
   */
  allowMissingPrioritized?: boolean;
  /** Members compressed at once (default: twice the cores). */
  concurrency?: number;
  /** Names the layer in errors. */
  layerName?: string;
  signal?: AbortSignal;
}

/** The uncompressed tar: a stream, or random access (needed for prioritized files). */
export type TarInput = AsyncIterable<Uint8Array> | ReadAt;

/** A stream of tar entries in output order, each able to produce its payload. */
interface PlannedEntry {
  entry: TarEntry;
  payload: ByteSource;
}

export async function buildLayer(
  input: TarInput,
  sink: LayerSink,
  options: BuildOptions = {},
): Promise<BuildResult> {
  const settings = checkOptions(options);
  const writer = new MemberWriter({
    sink,
    level: settings.level,
    concurrency: options.concurrency ?? availableParallelism() * 2,
    signal: options.signal,
  });
  const layout = new LayoutState(writer, settings.chunkSize, options.layerName);
  const missingPrioritized: string[] = [];
  const entries = isReadAt(input)
    ? plannedFromRandomAccess(input, options, missingPrioritized)
    : plannedFromStream(input, options);
  for await (const planned of entries) {
    options.signal?.throwIfAborted();
    await layout.append(planned.entry, planned.payload);
  }
  const result = await layout.finish();
  return missingPrioritized.length > 0 ? { ...result, missingPrioritized } : result;
}

function checkOptions(options: BuildOptions): { chunkSize: number; level: number } {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new EStargzError("bad-entry", `chunk size must be a positive integer, got ${chunkSize}`);
  }
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new EStargzError("bad-entry", `compression level must be 0-9, got ${level}`);
  }
  return { chunkSize, level };
}

function isReadAt(input: TarInput): input is ReadAt {
  return typeof (input as ReadAt).readAt === "function";
}

async function* plannedFromStream(
  stream: AsyncIterable<Uint8Array>,
  options: BuildOptions,
): AsyncGenerator<PlannedEntry> {
  if (options.prioritizedFiles && options.prioritizedFiles.length > 0) {
    throw new EStargzError(
      "bad-entry",
      "prioritized files need a random-access tar (a file), not a stream",
      {
        layer: options.layerName,
      },
    );
  }
  yield landmark(NO_PREFETCH_LANDMARK);
  const source = streamSource(stream);
  const seen = new Set<string>();
  for await (const entry of readTarEntries(source, options.layerName)) {
    const name = cleanEntryName(entry.header.name);
    if (isReservedName(name)) continue;
    if (seen.has(name)) {
      throw new EStargzError(
        "bad-tar",
        "duplicate entry in a streamed tar; pass a file so the later one can win",
        {
          layer: options.layerName,
          entry: entry.header.name,
        },
      );
    }
    seen.add(name);
    yield { entry, payload: source };
  }
}

async function* plannedFromRandomAccess(
  tar: ReadAt,
  options: BuildOptions,
  missingPrioritized: string[],
): AsyncGenerator<PlannedEntry> {
  // Later duplicates replace earlier ones and move to the end, as in Go.
  const byName = new Map<string, TarEntry>();
  for await (const entry of readTarEntries(readAtSource(tar), options.layerName)) {
    const name = cleanEntryName(entry.header.name);
    if (isReservedName(name)) continue;
    byName.delete(name);
    byName.set(name, entry);
  }
  const prioritized = options.prioritizedFiles ?? [];
  const { first, rest, missing } = orderForPrefetch(byName, prioritized, {
    layer: options.layerName,
    allowMissing: options.allowMissingPrioritized ?? false,
  });
  missingPrioritized.push(...missing);
  const at = (entry: TarEntry): PlannedEntry => ({
    entry,
    payload: readAtSource(tar, entry.dataOffset),
  });
  for (const entry of first) yield at(entry);
  yield landmark(prioritized.length > 0 ? PREFETCH_LANDMARK : NO_PREFETCH_LANDMARK);
  for (const entry of rest) yield at(entry);
}

function isReservedName(name: string): boolean {
  return name === TOC_TAR_NAME || name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK;
}

function landmark(name: string): PlannedEntry {
  // Mode 0, uid 0 and no mtime, as the Go builder writes landmarks.
  const rawHeader = regularFileHeader(name, 1, 0);
  const header = {
    name,
    kind: "reg" as const,
    typeflag: "0",
    mode: 0,
    uid: 0,
    gid: 0,
    size: 1,
    mtime: 0,
    linkName: "",
    userName: "",
    groupName: "",
    devMajor: 0,
    devMinor: 0,
    xattrs: new Map<string, Buffer>(),
  };
  const content = Buffer.from([LANDMARK_CONTENTS]);
  let used = false;
  const payload: ByteSource = {
    get position() {
      return used ? 1 : 0;
    },
    read: async (n) => {
      used = true;
      return content.subarray(0, n);
    },
  };
  return { entry: { header, rawHeader, dataOffset: 0 }, payload };
}

/**
 * Lays entries out into gzip members and collects the TOC. Offsets of
 * members are only known once compressed, so TOC entries remember their
 * member index and get byte offsets at the end.
 */
class LayoutState {
  readonly #writer: MemberWriter;
  readonly #chunkSize: number;
  readonly #layer: string | undefined;
  readonly #owners = new OwnerNames();
  readonly #toc: TocEntry[] = [];
  readonly #memberOf = new Map<TocEntry, number>();
  #current: Buffer[] = [];
  #currentBytes = 0;

  constructor(writer: MemberWriter, chunkSize: number, layer: string | undefined) {
    this.#writer = writer;
    this.#chunkSize = chunkSize;
    this.#layer = layer;
  }

  async append(entry: TarEntry, payload: ByteSource): Promise<void> {
    const { header } = entry;
    checkHeader(header, this.#layer);
    // Keep header-only members from growing without bound (a directory of many empty files).
    if (this.#currentBytes >= this.#chunkSize) await this.#closeMember();
    this.#push(entry.rawHeader);
    const tocEntry = tocEntryFor(header, this.#owners);
    if (header.kind !== "reg") {
      this.#toc.push(tocEntry);
      return;
    }
    if (header.size === 0) {
      tocEntry.digest = EMPTY_DIGEST;
      this.#toc.push(tocEntry);
      return;
    }
    await this.#appendChunks(tocEntry, header.size, payload);
  }

  async #appendChunks(first: TocEntry, size: number, payload: ByteSource): Promise<void> {
    const fileHash = size > this.#chunkSize ? createHash("sha256") : undefined;
    let chunkDigest = "";
    for (let offset = 0; offset < size; offset += this.#chunkSize) {
      const length = Math.min(this.#chunkSize, size - offset);
      const data = await payload.read(length);
      if (data.length < length) {
        throw new EStargzError("bad-tar", "tar ends inside a file's content", {
          layer: this.#layer,
          entry: first.name,
        });
      }
      await this.#closeMember();
      const chunk: TocEntry = offset === 0 ? first : { name: first.name, type: "chunk" };
      if (offset > 0) chunk.chunkOffset = offset;
      if (length === this.#chunkSize) chunk.chunkSize = length;
      chunkDigest = sha256(data);
      chunk.chunkDigest = chunkDigest;
      fileHash?.update(data);
      this.#memberOf.set(chunk, this.#writer.queuedMembers);
      this.#toc.push(chunk);
      this.#push(data);
    }
    first.digest = fileHash ? `sha256:${fileHash.digest("hex")}` : chunkDigest;
    this.#push(Buffer.alloc(paddingFor(size)));
  }

  async finish(): Promise<BuildResult> {
    await this.#closeMember();
    const tocOffset = await this.#writer.flush();
    const offsets = this.#writer.memberOffsets;
    for (const [entry, member] of this.#memberOf) entry.offset = offsets[member]!;
    const tocJson = encodeToc({ version: 1, entries: this.#toc });
    const tocTar = [
      regularFileHeader(TOC_TAR_NAME, tocJson.length),
      tocJson,
      Buffer.alloc(paddingFor(tocJson.length) + 2 * BLOCK),
    ];
    await this.#writer.addMember(tocTar);
    await this.#writer.addRaw(encodeFooter(tocOffset));
    const result = await this.#writer.finish();
    return {
      digest: result.digest,
      size: result.size,
      tocDigest: sha256(tocJson),
      diffID: result.diffID,
      uncompressedSize: result.uncompressedSize,
    };
  }

  #push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#current.push(bytes);
    this.#currentBytes += bytes.length;
  }

  async #closeMember(): Promise<void> {
    if (this.#current.length === 0) return;
    const parts = this.#current;
    this.#current = [];
    this.#currentBytes = 0;
    await this.#writer.addMember(parts);
  }
}

/** Rejects what the reader would refuse, so the builder never writes a layer that cannot be opened. */
function checkHeader(header: TarHeader, layer: string | undefined): void {
  const where = { layer, entry: header.name };
  if (header.kind === "unsupported") {
    throw new EStargzError(
      "bad-tar",
      `unsupported tar entry type ${JSON.stringify(header.typeflag)}`,
      where,
    );
  }
  const unsafe = cleanEntryName(header.name) === "" ? undefined : unsafeNameReason(header.name);
  if (unsafe) throw new EStargzError("bad-tar", `entry name is unsafe: ${unsafe}`, where);
  for (const field of ["mode", "uid", "gid", "devMajor", "devMinor"] as const) {
    const value = header[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new EStargzError("bad-tar", `entry has invalid ${field} ${value}`, where);
    }
  }
  // JavaScript dates end at ±8.64e15 ms; anything past that is a corrupt header, not a real time.
  if (!Number.isFinite(header.mtime) || Math.abs(header.mtime) > 8.64e12) {
    throw new EStargzError("bad-tar", `entry has invalid mtime ${header.mtime}`, where);
  }
  if (header.kind === "hardlink" && cleanEntryName(header.linkName) === "") {
    throw new EStargzError("bad-tar", "hardlink has no target", where);
  }
}

const EMPTY_DIGEST = sha256(Buffer.alloc(0));

function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
