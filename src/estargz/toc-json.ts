/** TOC JSON encoding (Go's field order, tab indent) and strict decoding. */
import { EStargzError } from "./errors.ts";
import { ENTRY_TYPES, type Toc, type TocEntry } from "./types.ts";

const FIELD_ORDER: readonly (keyof TocEntry)[] = [
  "name",
  "type",
  "size",
  "modtime",
  "linkName",
  "mode",
  "uid",
  "gid",
  "userName",
  "groupName",
  "offset",
  "innerOffset",
  "devMajor",
  "devMinor",
  "xattrs",
  "digest",
  "chunkOffset",
  "chunkSize",
  "chunkDigest",
];

const NUMERIC_FIELDS = new Set<keyof TocEntry>([
  "size",
  "mode",
  "uid",
  "gid",
  "offset",
  "innerOffset",
  "devMajor",
  "devMinor",
  "chunkOffset",
  "chunkSize",
]);
const STRING_FIELDS = new Set<keyof TocEntry>([
  "name",
  "modtime",
  "linkName",
  "userName",
  "groupName",
  "digest",
  "chunkDigest",
]);
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function encodeToc(toc: Toc): Buffer {
  const entries = toc.entries.map((entry) => {
    const ordered: Record<string, unknown> = {};
    for (const key of FIELD_ORDER) if (entry[key] !== undefined) ordered[key] = entry[key];
    return ordered;
  });
  return Buffer.from(JSON.stringify({ version: toc.version, entries }, null, "\t"));
}

/** Parses and type-checks TOC JSON; every entry field has the type Go gives it. */
export function decodeToc(json: Buffer, layer?: string): Toc {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString("utf8"));
  } catch (cause) {
    throw new EStargzError("bad-toc", "TOC is not valid JSON", { layer, cause });
  }
  if (!isObject(parsed) || !Array.isArray(parsed.entries)) {
    throw new EStargzError("bad-toc", "TOC has no entries array", { layer });
  }
  if (parsed.version !== 1) {
    throw new EStargzError("bad-toc", `unsupported TOC version ${String(parsed.version)}`, {
      layer,
    });
  }
  const entries = parsed.entries.map((raw: unknown, i: number) => checkEntry(raw, i, layer));
  return { version: 1, entries };
}

function checkEntry(raw: unknown, index: number, layer: string | undefined): TocEntry {
  const fail = (why: string, entry?: string): never => {
    throw new EStargzError("bad-entry", `TOC entry ${index}: ${why}`, { layer, entry });
  };
  if (!isObject(raw)) return fail("not an object");
  const name = typeof raw.name === "string" ? raw.name : fail("name is not a string");
  if (!ENTRY_TYPES.includes(raw.type as TocEntry["type"]))
    fail(`unknown type ${JSON.stringify(raw.type)}`, name);
  for (const [key, value] of Object.entries(raw)) {
    const field = key as keyof TocEntry;
    if (NUMERIC_FIELDS.has(field) && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
      fail(`${key} is not a non-negative integer`, name);
    }
    if (STRING_FIELDS.has(field) && typeof value !== "string") fail(`${key} is not a string`, name);
    if ((field === "digest" || field === "chunkDigest") && !DIGEST.test(value as string)) {
      fail(`${key} ${JSON.stringify(value)} is not a sha256 digest`, name);
    }
  }
  if (raw.xattrs !== undefined && !isStringRecord(raw.xattrs))
    fail("xattrs is not a string map", name);
  return raw as unknown as TocEntry;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringRecord(value: unknown): boolean {
  return isObject(value) && Object.values(value).every((v) => typeof v === "string");
}
