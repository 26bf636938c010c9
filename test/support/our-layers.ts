/**
 * Our side of the compatibility tests: build layers with src/estargz, list
 * them through our reader or the `stargz layer` command in the shape
 * manifest-compare.ts expects, and a few hand-built footer variants.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  buildLayer,
  type BuildResult,
  type LayerReader,
  type ReadAt,
} from "../../src/estargz/index.ts";
import { sha256 } from "./fixture-tree.ts";
import type { ListedEntry } from "./manifest-compare.ts";

const cliMain = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "cli", "main.ts");

/** Runs `stargz ARGS…`; resolves with stdout and the exit code (never rejects on a non-zero exit). */
export async function stargz(
  args: string[],
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cliMain, ...args], {
      encoding: "buffer",
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: Buffer; stderr?: Buffer };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? Buffer.alloc(0), stderr: `${e.stderr ?? ""}` };
  }
}

/** `stargz layer ls` lines as comparable entries; the TOC digest stands in for the content hash. */
export async function listWithCli(layerFile: string): Promise<ListedEntry[]> {
  const { code, stdout, stderr } = await stargz(["layer", "ls", layerFile]);
  assert.equal(code, 0, stderr);
  return stdout
    .toString()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const e = JSON.parse(l) as ListedEntry & { digest: string | null };
      return { ...e, ...(e.type === "reg" ? { sha256: e.digest ?? "" } : {}) };
    });
}

/**
 * The legacy stargz footer, built by hand from the format description: an
 * empty gzip member whose FEXTRA field is "%016xSTARGZ" with no subfield id.
 */
export function legacyFooter(tocOffset: number): Buffer {
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 22, 0]);
  const extra = Buffer.from(tocOffset.toString(16).padStart(16, "0") + "STARGZ", "ascii");
  const emptyDeflate = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);
  return Buffer.concat([header, extra, emptyDeflate, Buffer.alloc(8)]);
}

/** The TOC offset from a 51-byte eStargz footer's "SG" subfield ("%016xSTARGZ" at byte 16). */
export function estargzTocOffset(blob: Buffer): number {
  const footer = blob.subarray(blob.length - 51);
  return parseInt(footer.subarray(16, 32).toString("ascii"), 16);
}

export function bufferSource(blob: Buffer): ReadAt {
  return {
    size: blob.length,
    readAt: async (buf, offset) => {
      const n = Math.max(0, Math.min(buf.length, blob.length - offset));
      blob.copy(buf, 0, offset, offset + n);
      return n;
    },
  };
}

/** Our builder on the fixture tar; the blob collected in memory and written to `blobFile`. */
export async function buildOurs(
  tarFile: string,
  blobFile: string,
  options: { chunkSize?: number; prioritizedFiles?: string[]; randomAccess?: boolean } = {},
): Promise<{ blob: Buffer; result: BuildResult }> {
  const parts: Buffer[] = [];
  const sink = { write: async (chunk: Uint8Array) => void parts.push(Buffer.from(chunk)) };
  let result: BuildResult;
  if (options.prioritizedFiles || options.randomAccess) {
    const fh = await open(tarFile);
    try {
      const { size } = await fh.stat();
      const input: ReadAt = {
        size,
        readAt: async (buf, offset) => (await fh.read(buf, 0, buf.length, offset)).bytesRead,
      };
      result = await buildLayer(input, sink, {
        chunkSize: options.chunkSize,
        ...(options.prioritizedFiles ? { prioritizedFiles: options.prioritizedFiles } : {}),
      });
    } finally {
      await fh.close();
    }
  } else {
    result = await buildLayer(createReadStream(tarFile), sink, { chunkSize: options.chunkSize });
  }
  const blob = Buffer.concat(parts);
  await writeFile(blobFile, blob);
  return { blob, result };
}

/** Go's formatModtime output for a Date our reader parsed. */
export function goTime(date: Date | undefined): string {
  return date === undefined ? "" : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Every entry as our reader presents it: metadata from the index, content read and verified. */
export async function listWithOurReader(reader: LayerReader): Promise<ListedEntry[]> {
  const out: ListedEntry[] = [];
  for (const { path, entry } of reader.index.listed) {
    if (entry.type === "hardlink") {
      out.push({
        name: path,
        type: "hardlink",
        size: 0,
        mode: entry.mode ?? 0,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        linkName: entry.linkName ?? "",
        modtime: entry.modtime ?? "",
        xattrs: entry.xattrs ?? {},
      });
      continue;
    }
    const node = reader.lookup(path);
    assert.ok(node, `lookup(${path})`);
    out.push({
      name: path,
      type: node.type,
      size: node.size,
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      linkName: node.linkName,
      modtime: goTime(node.modtime),
      devMajor: node.devMajor,
      devMinor: node.devMinor,
      xattrs: Object.fromEntries([...node.xattrs].map(([k, v]) => [k, v.toString("base64")])),
      ...(node.type === "reg" ? { sha256: sha256(await reader.readFile(path)) } : {}),
    });
  }
  return out;
}
