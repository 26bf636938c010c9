/**
 * Walks a tar archive entry by entry over a sequential byte source, keeping
 * each entry's header blocks verbatim. The caller reads the payload from the
 * same source; whatever it leaves unread is skipped before the next entry.
 */
import { EStargzError } from "./errors.ts";
import {
  BLOCK,
  checksumOk,
  isZeroBlock,
  paddingFor,
  parseHeader,
  parseNumeric,
  parsePaxRecords,
  typeflagOf,
  type PaxRecords,
  type TarHeader,
} from "./tar-header.ts";
import type { ReadAt } from "./types.ts";

export interface ByteSource {
  /** Bytes consumed so far. */
  readonly position: number;
  /** Exactly n bytes, or fewer only at the end of the input. */
  read(n: number): Promise<Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** Every header block of this entry (extended headers included), as found. */
  rawHeader: Buffer;
  /** Where the payload starts in the tar stream. */
  dataOffset: number;
}

const MAX_EXTENDED_HEADER = 1 << 20;

export async function* readTarEntries(
  source: ByteSource,
  layer?: string,
): AsyncGenerator<TarEntry> {
  const globalPax: PaxRecords = new Map();
  let next = 0;
  for (;;) {
    await skipTo(source, next, layer);
    const entry = await readOneEntry(source, globalPax, layer);
    if (!entry) return;
    next = entry.dataOffset + entry.header.size + paddingFor(entry.header.size);
    yield entry;
  }
}

/** Extended headers seen so far for the entry being read. */
interface PendingExtensions {
  /** Global PAX records (typeflag g): they apply to every later entry. */
  global: PaxRecords;
  /** PAX records for this entry alone (typeflag x); they override global ones. */
  local: PaxRecords;
  longName: string | undefined;
  longLink: string | undefined;
}

async function readOneEntry(
  source: ByteSource,
  globalPax: PaxRecords,
  layer: string | undefined,
): Promise<TarEntry | undefined> {
  const raw: Buffer[] = [];
  const pending: PendingExtensions = {
    global: globalPax,
    local: new Map(),
    longName: undefined,
    longLink: undefined,
  };
  for (;;) {
    const block = await readHeaderBlock(source, raw.length === 0, layer);
    if (!block) return undefined;
    raw.push(block);
    const flag = typeflagOf(block);
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      const payload = await readExtended(source, block, layer);
      raw.push(payload.padded);
      applyExtension(flag, payload.data, pending, layer);
      continue;
    }
    const pax = new Map([...pending.global, ...pending.local]);
    const header = parseHeader(block, pax, pending.longName, pending.longLink);
    if (!Number.isSafeInteger(header.size) || header.size < 0) {
      throw tarError(`entry has invalid size ${header.size}`, layer, header.name);
    }
    return { header, rawHeader: Buffer.concat(raw), dataOffset: source.position };
  }
}

/** The next header block; undefined at a clean end of archive. */
async function readHeaderBlock(
  source: ByteSource,
  atEntryStart: boolean,
  layer: string | undefined,
): Promise<Buffer | undefined> {
  const block = await source.read(BLOCK);
  if (block.length === 0 && atEntryStart) return undefined;
  if (block.length < BLOCK) throw tarError("tar ends inside a header", layer);
  if (isZeroBlock(block)) {
    if (atEntryStart) return undefined;
    throw tarError("end-of-archive marker inside an entry's headers", layer);
  }
  if (!checksumOk(block)) {
    throw tarError(`bad header checksum at byte ${source.position - BLOCK}`, layer);
  }
  return block;
}

function applyExtension(
  flag: string,
  data: Buffer,
  pending: PendingExtensions,
  layer: string | undefined,
): void {
  if (flag === "x") parsePax(data, pending.local, layer);
  else if (flag === "g") parsePax(data, pending.global, layer);
  else if (flag === "L") pending.longName = cStringOf(data);
  else pending.longLink = cStringOf(data);
}

async function readExtended(
  source: ByteSource,
  block: Buffer,
  layer: string | undefined,
): Promise<{ data: Buffer; padded: Buffer }> {
  const size = parseNumeric(block, 124, 12);
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_EXTENDED_HEADER) {
    throw tarError(`extended header of ${size} bytes is out of range`, layer);
  }
  const padded = await source.read(size + paddingFor(size));
  if (padded.length < size + paddingFor(size))
    throw tarError("tar ends inside an extended header", layer);
  return { data: padded.subarray(0, size), padded };
}

function parsePax(data: Buffer, into: PaxRecords, layer: string | undefined): PaxRecords {
  try {
    return parsePaxRecords(data, into);
  } catch (cause) {
    throw new EStargzError("bad-tar", "malformed PAX header", { layer, cause });
  }
}

function cStringOf(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString("utf8", 0, end === -1 ? data.length : end);
}

async function skipTo(
  source: ByteSource,
  target: number,
  layer: string | undefined,
): Promise<void> {
  while (source.position < target) {
    const want = Math.min(target - source.position, 1 << 20);
    const got = await source.read(want);
    if (got.length < want) throw tarError("tar ends inside an entry's payload", layer);
  }
}

function tarError(message: string, layer: string | undefined, entry?: string): EStargzError {
  return new EStargzError("bad-tar", message, { layer, entry });
}

/** A ByteSource over an async stream of buffers (a file or network stream). */
export function streamSource(stream: AsyncIterable<Uint8Array>): ByteSource {
  const iterator = stream[Symbol.asyncIterator]();
  const pending: Buffer[] = [];
  let buffered = 0;
  let position = 0;
  let done = false;
  return {
    get position() {
      return position;
    },
    async read(n: number): Promise<Buffer> {
      while (buffered < n && !done) {
        const next = await iterator.next();
        if (next.done) done = true;
        else if (next.value.byteLength > 0) {
          const value = Buffer.from(
            next.value.buffer,
            next.value.byteOffset,
            next.value.byteLength,
          );
          pending.push(value);
          buffered += value.length;
        }
      }
      const out = takeBytes(pending, Math.min(n, buffered));
      buffered -= out.length;
      position += out.length;
      return out;
    },
  };
}

function takeBytes(pending: Buffer[], n: number): Buffer {
  const first = pending[0];
  if (first && first.length >= n) {
    const out = first.subarray(0, n);
    if (first.length === n) pending.shift();
    else pending[0] = first.subarray(n);
    return out;
  }
  const out = Buffer.allocUnsafe(n);
  let filled = 0;
  while (filled < n) {
    const head = pending[0]!;
    const take = Math.min(head.length, n - filled);
    head.copy(out, filled, 0, take);
    filled += take;
    if (take === head.length) pending.shift();
    else pending[0] = head.subarray(take);
  }
  return out;
}

/** A ByteSource reading sequentially from a random-access blob. */
export function readAtSource(blob: ReadAt, start = 0): ByteSource {
  let position = start;
  return {
    get position() {
      return position;
    },
    async read(n: number): Promise<Buffer> {
      const out = Buffer.allocUnsafe(Math.max(0, Math.min(n, blob.size - position)));
      let filled = 0;
      while (filled < out.length) {
        const got = await blob.readAt(out.subarray(filled), position + filled);
        if (got <= 0) break;
        filled += got;
      }
      position += filled;
      return out.subarray(0, filled);
    },
  };
}
