/**
 * Reads an eStargz blob's TOC the slow, obvious way: inflate the whole blob
 * as one gzip stream and take the `stargz.index.json` tar entry. Shares no
 * code with src/estargz, so tests can compare TOCs from both implementations.
 */
import { gunzipSync } from "node:zlib";
import { sha256 } from "./fixture-tree.ts";
import { readTar } from "./tar-reader.ts";

export interface RawToc {
  version: number;
  entries: Record<string, unknown>[];
}

export interface BlobToc {
  /** The JSON bytes exactly as stored. */
  json: Buffer;
  /** sha256 of those bytes: the TOC digest. */
  digest: string;
  toc: RawToc;
  /** The tar entry names before the TOC, in blob order. */
  tarNames: string[];
}

export function tocOf(blob: Uint8Array): BlobToc {
  const entries = readTar(gunzipSync(blob));
  const last = entries.at(-1);
  if (last?.header.name !== "stargz.index.json") {
    throw new Error(`last tar entry is ${last?.header.name}, not stargz.index.json`);
  }
  return {
    json: last.content,
    digest: sha256(last.content),
    toc: JSON.parse(last.content.toString("utf8")) as RawToc,
    tarNames: entries.slice(0, -1).map((e) => e.header.name),
  };
}

/** Fields that depend on how the compressor sized earlier members. */
const positional = new Set(["offset", "innerOffset"]);

/**
 * The TOC without what legitimately differs between two builders of the
 * same tar: offsets, zero values Go's `omitempty` drops, and where user and
 * group names are written. A TOC stores a name only when it changes for an
 * id, but Go's builder compresses runs of entries in parallel (one run per
 * GOMAXPROCS) and each run starts its own name memory, so Go repeats names
 * at run starts, depending on the converting machine's core count. Names
 * are therefore compared resolved: every entry carries its id's last name.
 */
export function comparableToc(toc: RawToc): Record<string, unknown>[] {
  const users = new Map<unknown, unknown>();
  const groups = new Map<unknown, unknown>();
  return toc.entries.map((raw) => {
    const e = { ...raw };
    if (e.type !== "chunk") {
      resolveName(e, "userName", e.uid ?? 0, users);
      resolveName(e, "groupName", e.gid ?? 0, groups);
    }
    return Object.fromEntries(
      Object.entries(e)
        .filter(([k, v]) => !positional.has(k) && !isZero(v))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

function resolveName(
  e: Record<string, unknown>,
  field: string,
  id: unknown,
  names: Map<unknown, unknown>,
): void {
  if (e[field]) names.set(id, e[field]);
  else if (names.has(id)) e[field] = names.get(id);
}

function isZero(v: unknown): boolean {
  if (v === 0 || v === "" || v === null || v === undefined || v === false) return true;
  return typeof v === "object" && Object.keys(v).length === 0;
}

/**
 * Entry-by-entry differences between two TOCs (see comparableToc), one line
 * each, labelled with the two sides' names; empty when they agree.
 */
export function tocDiffs(a: RawToc, b: RawToc, labels: [string, string]): string[] {
  const left = comparableToc(a).map((e) => JSON.stringify(e));
  const right = comparableToc(b).map((e) => JSON.stringify(e));
  const diffs: string[] = [];
  if (a.version !== b.version)
    diffs.push(`version: ${labels[0]} ${a.version}, ${labels[1]} ${b.version}`);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] === right[i]) continue;
    diffs.push(
      `entry ${i}:\n  ${labels[0]}: ${left[i] ?? "(none)"}\n  ${labels[1]}: ${right[i] ?? "(none)"}`,
    );
  }
  return diffs;
}
