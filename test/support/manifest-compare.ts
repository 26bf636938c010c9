/**
 * Compares a layer's listing, from any implementation, with the manifest of
 * the tar it was built from. Differences come back as readable lines, so a
 * test can assert an empty list and show every mismatch at once.
 */
import { cleanName, sha256, type ExpectedEntry } from "./fixture-tree.ts";

/** An entry as some eStargz implementation lists it. */
export interface ListedEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkName: string;
  /** Omitted when the lister does not report it; then it is not compared. */
  modtime?: string;
  /** Omitted when the lister does not report device numbers. */
  devMajor?: number;
  devMinor?: number;
  /** Base64 values. Omitted when the lister does not report xattrs. */
  xattrs?: Record<string, string>;
  /** "sha256:…" of the content read back, for regular files. */
  sha256?: string;
}

export const landmarks = [".no.prefetch.landmark", ".prefetch.landmark"];
const landmarkDigest = sha256(Buffer.from([0x0f]));

export interface Comparison {
  /** Every mismatch, one line each; empty when the listing matches. */
  diffs: string[];
  /** The landmark names found, in listing order. */
  landmarks: string[];
}

export function compareListing(expected: ExpectedEntry[], listed: ListedEntry[]): Comparison {
  const diffs: string[] = [];
  const found = listed.filter((e) => landmarks.includes(e.name));
  for (const l of found) {
    if (
      l.type !== "reg" ||
      l.size !== 1 ||
      (l.sha256 !== undefined && l.sha256 !== landmarkDigest)
    ) {
      diffs.push(`${l.name}: landmark is not a 1-byte file holding 0x0f`);
    }
  }
  const entries = listed.filter((e) => !landmarks.includes(e.name));
  const byName = new Map<string, ListedEntry>();
  for (const e of entries) {
    if (byName.has(e.name)) diffs.push(`${e.name}: listed twice`);
    byName.set(e.name, e);
  }
  for (const want of expected) {
    const got = byName.get(want.name);
    if (got === undefined) diffs.push(`${want.name}: missing`);
    else diffs.push(...entryDiffs(want, got));
  }
  const known = new Set(expected.map((e) => e.name));
  for (const e of entries) if (!known.has(e.name)) diffs.push(`${e.name}: not in the source tar`);
  return { diffs, landmarks: found.map((l) => l.name) };
}

function entryDiffs(want: ExpectedEntry, got: ListedEntry): string[] {
  const fields: [string, unknown, unknown][] = [
    ["type", want.type, got.type],
    ["size", want.size, got.size],
    ["mode", octal(want.mode), octal(got.mode)],
    ["uid", want.uid, got.uid],
    ["gid", want.gid, got.gid],
    // A hardlink names an archived entry: compared as the path it resolves to.
    ["linkName", want.linkName, got.type === "hardlink" ? cleanName(got.linkName) : got.linkName],
  ];
  if (got.modtime !== undefined) fields.push(["modtime", want.modtime, got.modtime]);
  if ((want.type === "char" || want.type === "block") && got.devMajor !== undefined) {
    fields.push(
      ["devMajor", want.devMajor, got.devMajor],
      ["devMinor", want.devMinor, got.devMinor],
    );
  }
  if (got.xattrs !== undefined) fields.push(["xattrs", sorted(want.xattrs), sorted(got.xattrs)]);
  if (want.type === "reg") fields.push(["sha256", want.sha256, got.sha256]);
  return fields
    .filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b))
    .map(
      ([field, a, b]) =>
        `${want.name}: ${field} is ${JSON.stringify(b)}, source has ${JSON.stringify(a)}`,
    );
}

function octal(mode: number): string {
  return "0o" + mode.toString(8);
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}
