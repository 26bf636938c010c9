/**
 * In-memory tar archives for tests: PAX headers for long names, xattrs and
 * big ids, so every entry kind the eStargz format knows can be expressed.
 */
export type TestEntry =
  | {
      type: "dir";
      name: string;
      mode?: number;
      uid?: number;
      gid?: number;
      mtime?: number;
      xattrs?: Record<string, Buffer>;
    }
  | {
      type: "reg";
      name: string;
      content: Buffer;
      mode?: number;
      uid?: number;
      gid?: number;
      mtime?: number;
      xattrs?: Record<string, Buffer>;
      userName?: string;
      groupName?: string;
    }
  | { type: "symlink" | "hardlink"; name: string; linkName: string; mode?: number; mtime?: number }
  | {
      type: "char" | "block";
      name: string;
      devMajor: number;
      devMinor: number;
      mode?: number;
      mtime?: number;
    }
  | { type: "fifo"; name: string; mode?: number; mtime?: number };

const typeflags = {
  reg: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
} as const;

export function buildTar(
  entries: readonly TestEntry[],
  options: { endMarker?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.type === "reg" ? entry.content : Buffer.alloc(0);
    const pax = paxRecordsFor(entry);
    if (pax.length > 0) {
      parts.push(header({ name: "PaxHeaders/x", typeflag: "x", size: pax.length }), pad(pax));
    }
    parts.push(header(headerFields(entry, content.length)), pad(content));
  }
  if (options.endMarker ?? true) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

interface HeaderFields {
  name: string;
  typeflag: string;
  size: number;
  mode?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  mtime?: number | undefined;
  linkName?: string | undefined;
  devMajor?: number | undefined;
  devMinor?: number | undefined;
  userName?: string | undefined;
  groupName?: string | undefined;
}

function headerFields(entry: TestEntry, size: number): HeaderFields {
  return {
    name: truncate(entry.name, 100),
    typeflag: typeflags[entry.type],
    size,
    mode: entry.mode ?? (entry.type === "dir" ? 0o755 : 0o644),
    uid: "uid" in entry ? entry.uid : 0,
    gid: "gid" in entry ? entry.gid : 0,
    mtime: entry.mtime ?? 1_700_000_000,
    linkName: "linkName" in entry ? truncate(entry.linkName, 100) : "",
    devMajor: "devMajor" in entry ? entry.devMajor : 0,
    devMinor: "devMinor" in entry ? entry.devMinor : 0,
    userName: "userName" in entry ? entry.userName : "",
    groupName: "groupName" in entry ? entry.groupName : "",
  };
}

function truncate(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  return buf.length <= bytes ? text : buf.subarray(0, bytes).toString("latin1");
}

function paxRecordsFor(entry: TestEntry): Buffer {
  const records: Buffer[] = [];
  if (Buffer.byteLength(entry.name) > 100 || /[^\x20-\x7e]/.test(entry.name))
    records.push(paxRecord("path", Buffer.from(entry.name)));
  if ("linkName" in entry && Buffer.byteLength(entry.linkName) > 100)
    records.push(paxRecord("linkpath", Buffer.from(entry.linkName)));
  if ("xattrs" in entry && entry.xattrs) {
    for (const [key, value] of Object.entries(entry.xattrs))
      records.push(paxRecord(`SCHILY.xattr.${key}`, value));
  }
  return Buffer.concat(records);
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length)
    length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(512);
  block.write(fields.name, 0, 100, "latin1");
  octal(block, 100, 8, fields.mode ?? 0o644);
  octal(block, 108, 8, fields.uid ?? 0);
  octal(block, 116, 8, fields.gid ?? 0);
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, fields.mtime ?? 0);
  block.write(fields.typeflag, 156, "latin1");
  block.write(fields.linkName ?? "", 157, 100, "latin1");
  block.write("ustar\x0000", 257, "latin1");
  block.write(fields.userName ?? "", 265, 32, "latin1");
  block.write(fields.groupName ?? "", 297, 32, "latin1");
  octal(block, 329, 8, fields.devMajor ?? 0);
  octal(block, 337, 8, fields.devMinor ?? 0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  octal(block, 148, 7, sum);
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, "0") + "\0", offset, length, "latin1");
}

function pad(data: Buffer): Buffer {
  const rest = (512 - (data.length % 512)) % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(rest)]);
}

/** A deterministic pseudo-random buffer (compresses poorly, like real binaries). */
export function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
