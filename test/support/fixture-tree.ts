/**
 * The compatibility fixture: a directory tree holding every kind of entry a
 * container layer can carry, archived by GNU tar as PAX, and the manifest
 * each eStargz implementation must reproduce, computed from that tar alone.
 *
 * Building the tree needs root (mknod, chown) and a filesystem with user.*
 * xattrs; fixtureSkipReason() says when this machine cannot.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import {
  chmod,
  chown,
  lchown,
  link,
  lutimes,
  mkdir,
  readdir,
  readFile,
  symlink,
  writeFile,
} from "node:fs/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { hasCommand } from "./gates.ts";
import { readTar, type TarHeader } from "./tar-reader.ts";

// Not process.ts's run(): it writes to stdin, and a child that exits without
// reading it (setfattr, mknod) makes that write fail with EPIPE.
const run = promisify(execFile);

export type EntryType = "dir" | "reg" | "symlink" | "hardlink" | "char" | "block" | "fifo";

/** One entry as the eStargz TOC must describe it. */
export interface ExpectedEntry {
  /** Cleaned like the Go reader does: no "./" or "/" prefix, no trailing "/". */
  name: string;
  type: EntryType;
  /** Content length for "reg"; 0 for every other type. */
  size: number;
  /** The tar mode field: permission bits plus setuid 0o4000, setgid 0o2000, sticky 0o1000. */
  mode: number;
  uid: number;
  gid: number;
  /** Target of a symlink, or the archived name a hardlink points to (cleaned). */
  linkName: string;
  /** What Go writes in the TOC: UTC RFC 3339 rounded to the second, "" for the epoch. */
  modtime: string;
  /** "sha256:<hex>" of the content, for "reg" entries only. */
  sha256?: string;
  devMajor: number;
  devMinor: number;
  /** Extended attributes, values base64 as in the TOC JSON. */
  xattrs: Record<string, string>;
}

export interface Fixture {
  /** The directory tree. */
  root: string;
  /** The uncompressed PAX tar of the tree. */
  tarFile: string;
  tar: Buffer;
  chunkSize: number;
  entries: ExpectedEntry[];
}

export interface FixtureOptions {
  /** Where to put the tree ("tree/") and the tar ("fixture.tar"). */
  dir: string;
  /** The chunk size the layers under test will use; file sizes are derived from it. */
  chunkSize: number;
}

/** Why the fixture cannot be built here, or undefined when it can. */
export function fixtureSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "the fixture needs root (mknod, chown)";
  const missing = ["tar", "setfattr", "mknod", "mkfifo"].filter((c) => !hasCommand(c));
  if (missing.length > 0)
    return `missing commands: ${missing.join(", ")} (apt: tar, attr, coreutils)`;
  const probeDir = mkdtempSync(join(tmpdir(), "sgz-xattr-"));
  try {
    const probe = join(probeDir, "probe");
    writeFileSync(probe, "");
    const r = spawnSync("setfattr", ["-n", "user.probe", "-v", "1", probe]);
    if (r.status !== 0) return `${tmpdir()} does not support user.* xattrs: ${r.stderr.toString()}`;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
  return undefined;
}

export async function createFixture(options: FixtureOptions): Promise<Fixture> {
  const root = join(options.dir, "tree");
  await mkdir(root, { recursive: true });
  const specs = fixtureSpecs(options.chunkSize);
  for (const spec of specs) await create(root, spec);
  // Children before parents, so creating an entry never bumps a set mtime.
  for (const spec of [...specs].reverse()) await setTimes(root, spec);
  const tarFile = join(options.dir, "fixture.tar");
  const tar = await archiveTree(root, tarFile);
  return { root, tarFile, tar, chunkSize: options.chunkSize, entries: expectedEntries(tar) };
}

/**
 * Archives a tree with GNU tar as PAX, xattrs included, names sorted. With
 * `ownerNames`, user and group names are stored too (looked up in this
 * machine's passwd and group files); by default only numeric ids. With
 * `dotPrefix`, names start with "./" and the root directory is an entry.
 */
export async function archiveTree(
  root: string,
  tarFile: string,
  options: { ownerNames?: boolean; dotPrefix?: boolean } = {},
): Promise<Buffer> {
  // `tar -C root .` archives the root itself as "./" and prefixes every name with "./".
  const top = options.dotPrefix
    ? ["."]
    : (await readdir(root)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  await run("tar", [
    "--xattrs",
    "--xattrs-include=*",
    ...(options.ownerNames ? [] : ["--numeric-owner"]),
    "--format=pax",
    "--sort=name",
    "-C",
    root,
    "-cf",
    tarFile,
    ...top,
  ]);
  return await readFile(tarFile);
}

/** The manifest of a tar archive, in archive order. */
export function expectedEntries(tar: Buffer): ExpectedEntry[] {
  return readTar(tar).map(({ header, content }) => ({
    name: cleanName(header.name),
    type: entryType(header),
    size: header.typeflag === "0" ? header.size : 0,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    linkName: header.typeflag === "1" ? cleanName(header.linkName) : header.linkName,
    modtime: goModtime(header),
    ...(header.typeflag === "0" ? { sha256: sha256(content) } : {}),
    devMajor: header.devMajor,
    devMinor: header.devMinor,
    xattrs: Object.fromEntries([...header.xattrs].map(([k, v]) => [k, v.toString("base64")])),
  }));
}

/** Go's cleanEntryName: path.Clean("/" + name) without the leading "/". */
export function cleanName(name: string): string {
  return posix
    .normalize("/" + name)
    .replace(/\/+$/, "")
    .replace(/^\/+/, "");
}

export function sha256(data: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

const typeflags: Record<string, EntryType> = {
  "0": "reg",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

function entryType(header: TarHeader): EntryType {
  const type = typeflags[header.typeflag];
  if (type === undefined)
    throw new Error(`unexpected typeflag ${header.typeflag} for ${header.name}`);
  return type;
}

/**
 * Go's formatModtime: t.UTC().Round(time.Second) as RFC 3339, or "" when the
 * second is 0. Round() takes halves up; computed on the decimal text, not a float.
 */
function goModtime(header: TarHeader): string {
  const text = header.paxMtime ?? String(header.mtime);
  const [whole = "0", fraction = ""] = text.split(".");
  const seconds = Number(whole);
  if (seconds === 0) return "";
  const rounded = seconds + (fraction !== "" && Number(fraction[0]) >= 5 ? 1 : 0);
  return new Date(rounded * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ---------------------------------------------------------------------------
// The tree

type Spec =
  | (Common & { kind: "dir" })
  | FileSpec
  | (Common & { kind: "symlink"; target: string })
  | (Common & { kind: "char" | "block"; major: number; minor: number })
  | (Common & { kind: "fifo" })
  | { path: string; kind: "hardlink"; target: string };

type FileSpec = Common & { kind: "file"; content: Buffer };

interface Common {
  path: string;
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; may carry a fraction (kept in the PAX header). */
  mtime: number;
  xattrs?: Record<string, Buffer>;
}

const longDir = "long/" + "a-rather-long-directory-name-0123456789/".repeat(3).slice(0, -1);

function fixtureSpecs(chunkSize: number): Spec[] {
  const t = 1_600_000_000;
  return [
    { path: "a-dir", kind: "dir", mode: 0o755, uid: 1000, gid: 1000, mtime: t + 1 },
    { path: "a-dir/sub", kind: "dir", mode: 0o750, mtime: t + 2 },
    { path: "a-dir/sub/deeper", kind: "dir", mode: 0o755, mtime: t + 3 },
    // More than two chunks, random so chunk boundaries are not hidden by compression.
    file("a-dir/sub/deeper/big.bin", pseudoRandom(2 * chunkSize + 12345, 1), t + 4),
    // Hardlink names sort after their targets, so GNU tar archives the target first.
    { path: "a-dir/sub/deeper/big.bin.link", kind: "hardlink", target: "a-dir/sub/deeper/big.bin" },
    file("exact-two-chunks.bin", pseudoRandom(2 * chunkSize, 2), t + 5),
    file("exact-one-chunk.bin", pseudoRandom(chunkSize, 3), t + 6),
    file("empty", Buffer.alloc(0), t + 7),
    file("small.txt", Buffer.from("hello, estargz\n"), t + 8.5), // a half second: Go rounds up
    file("fraction-down.txt", Buffer.from("0.2 s\n"), t + 9.2),
    file("epoch-zero.txt", Buffer.from("mtime 0\n"), 0),
    { path: "links", kind: "dir", mode: 0o755, mtime: t + 10 },
    { path: "links/relative", kind: "symlink", target: "../small.txt", mode: 0o777, mtime: t + 11 },
    {
      path: "links/absolute",
      kind: "symlink",
      target: "/etc/hostname",
      mode: 0o777,
      mtime: t + 12,
    },
    { path: "links/dangling", kind: "symlink", target: "no/such/file", mode: 0o777, mtime: t + 13 },
    {
      path: "xattrs",
      kind: "dir",
      mode: 0o755,
      mtime: t + 14,
      xattrs: { "user.dir": Buffer.from("yes") },
    },
    {
      ...file("xattrs/file", Buffer.from("has xattrs\n"), t + 15),
      xattrs: {
        "user.comment": Buffer.from("hello"),
        "user.utf8": Buffer.from("ünïcødé ✓"),
        "user.binary": Buffer.from([0x00, 0xff, 0x01, 0xfe]),
      },
    },
    { path: "whiteouts", kind: "dir", mode: 0o755, mtime: t + 16 },
    file("whiteouts/.wh.deleted-file", Buffer.alloc(0), t + 17),
    { path: "whiteouts/opaque", kind: "dir", mode: 0o755, mtime: t + 18 },
    file("whiteouts/opaque/.wh..wh..opq", Buffer.alloc(0), t + 19),
    file("whiteouts/opaque/kept.txt", Buffer.from("kept\n"), t + 20),
    { path: "ünïcødé", kind: "dir", mode: 0o755, mtime: t + 21 },
    file("ünïcødé/日本語のファイル.txt", Buffer.from("こんにちは\n"), t + 22),
    file("ünïcødé/emoji-😀.txt", Buffer.from("😀\n"), t + 23),
    { path: "modes", kind: "dir", mode: 0o755, mtime: t + 24 },
    { ...file("modes/setuid", Buffer.from("#!/bin/sh\n"), t + 25), mode: 0o4755 },
    { ...file("modes/setgid", Buffer.from("#!/bin/sh\n"), t + 26), mode: 0o2755, gid: 50 },
    { path: "modes/sticky-dir", kind: "dir", mode: 0o1777, mtime: t + 27 },
    { path: "modes/setgid-dir", kind: "dir", mode: 0o2775, mtime: t + 28 },
    { ...file("modes/private", Buffer.from("secret\n"), t + 29), mode: 0o600 },
    { ...file("modes/read-only", Buffer.from("ro\n"), t + 30), mode: 0o444 },
    { path: "devices", kind: "dir", mode: 0o755, mtime: t + 31 },
    { path: "devices/null", kind: "char", major: 1, minor: 3, mode: 0o666, mtime: t + 32 },
    {
      path: "devices/overlay-whiteout",
      kind: "char",
      major: 0,
      minor: 0,
      mode: 0o600,
      mtime: t + 33,
    },
    {
      path: "devices/loop200",
      kind: "block",
      major: 7,
      minor: 200,
      mode: 0o660,
      gid: 6,
      mtime: t + 34,
    },
    { path: "devices/fifo", kind: "fifo", mode: 0o644, mtime: t + 35 },
    { path: "owners", kind: "dir", mode: 0o755, mtime: t + 36 },
    { ...file("owners/nobody", Buffer.from("n\n"), t + 37), uid: 65534, gid: 65534 },
    // Past ustar's 7 octal digits: only the PAX uid/gid records hold these.
    { ...file("owners/big-ids", Buffer.from("b\n"), t + 38), uid: 3_000_000, gid: 4_000_000 },
    ...longDir.split("/").map((_, i, parts): Spec => ({
      path: parts.slice(0, i + 1).join("/"),
      kind: "dir",
      mode: 0o755,
      mtime: t + 39 + i,
    })),
    { path: "z-hardlinks", kind: "dir", mode: 0o755, mtime: t + 51 },
    { path: "z-hardlinks/to-small", kind: "hardlink", target: "small.txt" },
    { path: "z-hardlinks/to-big", kind: "hardlink", target: "a-dir/sub/deeper/big.bin" },
    file(
      `${longDir}/a-file-whose-path-is-longer-than-one-hundred-bytes.txt`,
      Buffer.from("l\n"),
      t + 50,
    ),
  ];
}

function file(path: string, content: Buffer, mtime: number): FileSpec {
  return { path, kind: "file", content, mode: 0o644, mtime };
}

/** Deterministic incompressible bytes. */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let off = 0, i = 0; off < length; i++) {
    off += createHash("sha256").update(`${seed}:${i}`).digest().copy(out, off);
  }
  return out;
}

async function create(root: string, spec: Spec): Promise<void> {
  const path = join(root, spec.path);
  switch (spec.kind) {
    case "dir":
      await mkdir(path, { recursive: true });
      break;
    case "file":
      await writeFile(path, spec.content);
      break;
    case "symlink":
      await symlink(spec.target, path);
      break;
    case "hardlink":
      await link(join(root, spec.target), path);
      return;
    case "char":
    case "block":
      await run("mknod", [
        path,
        spec.kind === "char" ? "c" : "b",
        `${spec.major}`,
        `${spec.minor}`,
      ]);
      break;
    case "fifo":
      await run("mkfifo", [path]);
      break;
  }
  await setOwnerModeXattrs(path, spec);
}

async function setOwnerModeXattrs(path: string, spec: Common & { kind: string }): Promise<void> {
  // chown clears setuid/setgid, so it goes first.
  if (spec.kind === "symlink") {
    await lchown(path, spec.uid ?? 0, spec.gid ?? 0);
    return;
  }
  await chown(path, spec.uid ?? 0, spec.gid ?? 0);
  await chmod(path, spec.mode);
  for (const [name, value] of Object.entries(spec.xattrs ?? {})) {
    await run("setfattr", ["-n", name, "-v", `0s${value.toString("base64")}`, path]);
  }
}

async function setTimes(root: string, spec: Spec): Promise<void> {
  if (spec.kind === "hardlink") return;
  await lutimes(join(root, spec.path), spec.mtime, spec.mtime);
}
