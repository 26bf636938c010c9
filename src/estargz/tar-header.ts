/**
 * Tar headers: parsing ustar/GNU/PAX header blocks into one logical entry,
 * and writing the few headers the builder itself creates. The builder copies
 * input headers byte for byte, so nothing the input tar says is lost.
 */
export const BLOCK = 512;

export type TarKind =
  "reg" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo" | "unsupported";

export interface TarHeader {
  name: string;
  kind: TarKind;
  /** The raw typeflag, for error messages about unsupported entries. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch; fractional when PAX says so. */
  mtime: number;
  linkName: string;
  userName: string;
  groupName: string;
  devMajor: number;
  devMinor: number;
  /** From PAX SCHILY.xattr.* records, values as raw bytes. */
  xattrs: Map<string, Buffer>;
}

/** PAX records as raw bytes, since xattr values may be binary. */
export type PaxRecords = Map<string, Buffer>;

const kinds: Record<string, TarKind> = {
  "0": "reg",
  "\0": "reg",
  "7": "reg",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

export function typeflagOf(block: Buffer): string {
  return String.fromCharCode(block[156] ?? 0);
}

/** Verifies the header checksum (unsigned sum, as every modern tar writes it). */
export function checksumOk(block: Buffer): boolean {
  const stored = parseNumeric(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return stored === sum;
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
export function parseNumeric(block: Buffer, offset: number, length: number): number {
  const first = block[offset] ?? 0;
  if (first & 0x80) {
    let value = first & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] ?? 0);
    return first & 0x40 ? -value : value;
  }
  const text = block
    .toString("latin1", offset, offset + length)
    .replace(/[\0 ].*$/s, "")
    .trim();
  return text === "" ? 0 : Number.parseInt(text, 8);
}

function cString(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString(
    "utf8",
    offset,
    end === -1 || end > offset + length ? offset + length : end,
  );
}

/**
 * One logical entry from its final header block plus whatever extended
 * headers preceded it (PAX records, GNU long names), already parsed.
 */
export function parseHeader(
  block: Buffer,
  pax: PaxRecords,
  gnuLongName: string | undefined,
  gnuLongLink: string | undefined,
): TarHeader {
  const typeflag = typeflagOf(block);
  const magic = block.toString("latin1", 257, 263);
  const prefix = magic.startsWith("ustar") && magic !== "ustar " ? cString(block, 345, 155) : "";
  let name = cString(block, 0, 100);
  if (prefix) name = `${prefix}/${name}`;
  const text = (key: string): string | undefined => pax.get(key)?.toString("utf8");
  const num = (key: string, fallback: number): number => {
    const value = text(key);
    return value === undefined ? fallback : Number(value);
  };
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of pax) {
    if (key.startsWith("SCHILY.xattr.")) xattrs.set(key.slice("SCHILY.xattr.".length), value);
  }
  return {
    name: text("path") ?? gnuLongName ?? name,
    kind: kinds[typeflag] ?? "unsupported",
    typeflag,
    mode: parseNumeric(block, 100, 8),
    uid: num("uid", parseNumeric(block, 108, 8)),
    gid: num("gid", parseNumeric(block, 116, 8)),
    size: num("size", parseNumeric(block, 124, 12)),
    mtime: num("mtime", parseNumeric(block, 136, 12)),
    linkName: text("linkpath") ?? gnuLongLink ?? cString(block, 157, 100),
    userName: text("uname") ?? cString(block, 265, 32),
    groupName: text("gname") ?? cString(block, 297, 32),
    devMajor: parseNumeric(block, 329, 8),
    devMinor: parseNumeric(block, 337, 8),
    xattrs,
  };
}

/** Parses a PAX extended header payload ("LEN key=value\n" records). */
export function parsePaxRecords(payload: Buffer, into: PaxRecords = new Map()): PaxRecords {
  let pos = 0;
  while (pos < payload.length) {
    const space = payload.indexOf(0x20, pos);
    if (space === -1) break;
    const length = Number.parseInt(payload.toString("latin1", pos, space), 10);
    if (!Number.isSafeInteger(length) || length <= 0 || pos + length > payload.length) {
      throw new Error(`malformed PAX record at byte ${pos}`);
    }
    const record = payload.subarray(space + 1, pos + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new Error(`PAX record without '=' at byte ${pos}`);
    const key = record.toString("utf8", 0, eq);
    const value = record.subarray(eq + 1);
    // An empty value deletes the key (POSIX), which matters for global records.
    if (value.length === 0) into.delete(key);
    else into.set(key, Buffer.from(value));
    pos += length;
  }
  return into;
}

export function paddingFor(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** A plain ustar header for a regular file the builder adds (landmarks, the TOC). */
export function regularFileHeader(name: string, size: number, mode = 0o644): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, "utf8");
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.write("0", 156, "latin1");
  block.write("ustar\x0000", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeOctal(block, 148, 7, sum);
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, "0") + "\0", offset, length, "latin1");
}
