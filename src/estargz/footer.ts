/**
 * The footer: an empty gzip member whose header's extra field records where
 * the TOC starts. eStargz uses a 51-byte footer with an RFC 1952 subfield
 * 'S','G'; the older stargz used 47 bytes with the bare string in the extra
 * field. Both end the blob, so a reader can find the TOC with one range read.
 */
import { crc32 } from "node:zlib";

export const FOOTER_SIZE = 51;
export const LEGACY_FOOTER_SIZE = 47;
const MAGIC = "STARGZ";
const SUBFIELD_LENGTH = 16 + MAGIC.length;

export type FooterKind = "estargz" | "legacy";

export interface Footer {
  kind: FooterKind;
  tocOffset: number;
  size: number;
}

/** The 51-byte eStargz footer for a TOC starting at tocOffset. */
export function encodeFooter(tocOffset: number): Buffer {
  const subfield = Buffer.from(tocOffset.toString(16).padStart(16, "0") + MAGIC, "latin1");
  const extra = Buffer.alloc(4 + subfield.length);
  extra.write("SG", 0, "latin1");
  extra.writeUInt16LE(subfield.length, 2);
  subfield.copy(extra, 4);
  return emptyGzipMember(extra);
}

/** Parses the tail of a blob (at least FOOTER_SIZE bytes, or all of a shorter blob). */
export function decodeFooter(tail: Uint8Array): Footer | { error: string } {
  const buf = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  if (buf.length >= FOOTER_SIZE) {
    const footer = parseEStargz(buf.subarray(buf.length - FOOTER_SIZE));
    if (typeof footer !== "string") return footer;
    if (buf.length >= LEGACY_FOOTER_SIZE) {
      const legacy = parseLegacy(buf.subarray(buf.length - LEGACY_FOOTER_SIZE));
      if (typeof legacy !== "string") return legacy;
    }
    return { error: footer };
  }
  if (buf.length >= LEGACY_FOOTER_SIZE) {
    const legacy = parseLegacy(buf.subarray(buf.length - LEGACY_FOOTER_SIZE));
    return typeof legacy === "string" ? { error: legacy } : legacy;
  }
  return { error: `blob of ${buf.length} bytes is shorter than any footer` };
}

function parseEStargz(footer: Buffer): Footer | string {
  const extra = gzipExtraField(footer);
  if (typeof extra === "string") return extra;
  if (extra.length !== 4 + SUBFIELD_LENGTH) return `extra field is ${extra.length} bytes`;
  if (extra[0] !== 0x53 || extra[1] !== 0x47) return "extra subfield is not 'SG'";
  if (extra.readUInt16LE(2) !== SUBFIELD_LENGTH) return "subfield length is not 22";
  const offset = parseOffset(extra.subarray(4));
  return typeof offset === "string"
    ? offset
    : { kind: "estargz", tocOffset: offset, size: FOOTER_SIZE };
}

function parseLegacy(footer: Buffer): Footer | string {
  const extra = gzipExtraField(footer);
  if (typeof extra === "string") return extra;
  if (extra.length !== SUBFIELD_LENGTH) return `legacy extra field is ${extra.length} bytes`;
  const offset = parseOffset(extra);
  return typeof offset === "string"
    ? offset
    : { kind: "legacy", tocOffset: offset, size: LEGACY_FOOTER_SIZE };
}

function parseOffset(subfield: Buffer): number | string {
  if (subfield.toString("latin1", 16) !== MAGIC) return "STARGZ magic missing";
  const hex = subfield.toString("latin1", 0, 16);
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) return `TOC offset ${JSON.stringify(hex)} is not hex`;
  const offset = Number.parseInt(hex, 16);
  return Number.isSafeInteger(offset) ? offset : "TOC offset too large";
}

/** The FEXTRA bytes of a gzip member that starts at buf[0], or why there are none. */
function gzipExtraField(buf: Buffer): Buffer | string {
  if (buf[0] !== 0x1f || buf[1] !== 0x8b || buf[2] !== 8) return "not a gzip member";
  if (((buf[3] ?? 0) & 0x04) === 0) return "gzip header has no extra field";
  const length = buf.readUInt16LE(10);
  if (12 + length > buf.length) return "extra field runs past the footer";
  return buf.subarray(12, 12 + length);
}

/** A gzip member with the given extra field and no payload (a stored empty final block). */
function emptyGzipMember(extra: Buffer): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 0xff, 0, 0]);
  header.writeUInt16LE(extra.length, 10);
  const storedEmptyBlock = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(Buffer.alloc(0)), 0);
  return Buffer.concat([header, extra, storedEmptyBlock, trailer]);
}
