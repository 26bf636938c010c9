/**
 * A small tar reader for tests: ustar headers, PAX extended headers (local
 * and global) and GNU long names. Deliberately independent of src/estargz,
 * so expectations computed with it are not our own code checking itself.
 */

export interface TarHeader {
  /** The name exactly as archived (PAX `path` when present). */
  name: string;
  /** The raw typeflag character ("0", "5", …; "\0" is normalised to "0"). */
  typeflag: string;
  size: number;
  /** The mode field as stored: permission, setuid/setgid and sticky bits. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkName: string;
  /** Seconds since the epoch, with the PAX fraction when there is one. */
  mtime: number;
  /** The PAX `mtime` record as written, if any. */
  paxMtime?: string;
  devMajor: number;
  devMinor: number;
  /** Every PAX record that applied to this entry (global ones first). */
  pax: Map<string, Buffer>;
  /** SCHILY.xattr.* records, keyed by attribute name. */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  content: Buffer;
}

const BLOCK = 512;

/** Parses a whole uncompressed tar archive held in memory. */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const globalPax = new Map<string, Buffer>();
  let localPax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let pos = 0;
  while (pos + BLOCK <= tar.length) {
    const block = tar.subarray(pos, pos + BLOCK);
    if (block.every((b) => b === 0)) break;
    checkChecksum(block, pos);
    const size = readNumber(block, 124, 12);
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const data = tar.subarray(pos + BLOCK, pos + BLOCK + size);
    if (data.length !== size) throw new Error(`tar truncated at offset ${pos}`);
    pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === "x" || typeflag === "g") {
      const target = typeflag === "g" ? globalPax : localPax;
      for (const [k, v] of parsePax(data)) target.set(k, v);
      continue;
    }
    if (typeflag === "L" || typeflag === "K") {
      const value = cString(data, 0, data.length);
      if (typeflag === "L") longName = value;
      else longLink = value;
      continue;
    }
    const pax = new Map([...globalPax, ...localPax]);
    const header = parseHeader(block, pax, longName, longLink);
    entries.push({ header, content: Buffer.from(data.subarray(0, header.size)) });
    localPax = new Map();
    longName = undefined;
    longLink = undefined;
  }
  return entries;
}

function parseHeader(
  block: Buffer,
  pax: Map<string, Buffer>,
  longName: string | undefined,
  longLink: string | undefined,
): TarHeader {
  const text = (key: string): string | undefined => pax.get(key)?.toString("utf8");
  const prefix = cString(block, 345, 155);
  const ustarName = cString(block, 0, 100);
  const paxMtime = text("mtime");
  const xattrs = new Map<string, Buffer>();
  for (const [k, v] of pax) {
    if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice("SCHILY.xattr.".length), v);
  }
  const rawType = String.fromCharCode(block[156] ?? 0);
  return {
    name: text("path") ?? longName ?? (prefix ? `${prefix}/${ustarName}` : ustarName),
    typeflag: rawType === "\0" ? "0" : rawType,
    size: numberOr(text("size"), readNumber(block, 124, 12)),
    mode: readNumber(block, 100, 8),
    uid: numberOr(text("uid"), readNumber(block, 108, 8)),
    gid: numberOr(text("gid"), readNumber(block, 116, 8)),
    uname: text("uname") ?? cString(block, 265, 32),
    gname: text("gname") ?? cString(block, 297, 32),
    linkName: text("linkpath") ?? longLink ?? cString(block, 157, 100),
    mtime: numberOr(paxMtime, readNumber(block, 136, 12)),
    ...(paxMtime === undefined ? {} : { paxMtime }),
    devMajor: readNumber(block, 329, 8),
    devMinor: readNumber(block, 337, 8),
    pax,
    xattrs,
  };
}

/** "%d %s=%s\n" records; values are bytes (xattr values need not be UTF-8). */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new Error("malformed PAX record");
    const length = Number(data.toString("ascii", pos, space));
    const record = data.subarray(space + 1, pos + length - 1); // drop the "\n"
    const eq = record.indexOf(0x3d);
    if (!Number.isInteger(length) || length <= 0 || eq < 0) throw new Error("malformed PAX record");
    records.set(record.toString("utf8", 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
  return records;
}

function numberOr(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : Number(text);
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.toString("utf8", 0, nul < 0 ? field.length : nul);
}

/** Octal (NUL/space terminated) or GNU base-256 when the high bit is set. */
function readNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (const b of field.subarray(1)) value = value * 256 + b;
    return value;
  }
  const digits = field
    .toString("ascii")
    .replace(/[\0 ]+.*$/s, "")
    .trim();
  return digits === "" ? 0 : parseInt(digits, 8);
}

function checkChecksum(block: Buffer, pos: number): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (sum !== readNumber(block, 148, 8)) throw new Error(`bad tar header checksum at ${pos}`);
}
