/**
 * The TOC as a filesystem: nodes by path with children, hardlinks resolved
 * to their target's node (with link counts), chunk lists with the compressed
 * byte range of each chunk. Building the index validates everything a later
 * read relies on, so a read never has to second-guess the TOC.
 */
import { EStargzError } from "./errors.ts";
import { baseOf, cleanEntryName, parentOf, unsafeNameReason } from "./entry-name.ts";
import type { EntryType, Toc, TocEntry } from "./types.ts";

export interface ChunkRef {
  /** Cleaned path of the file this chunk belongs to. */
  path: string;
  /** Offset of this chunk within the file. */
  chunkOffset: number;
  chunkSize: number;
  /** The gzip members holding the chunk: [compressedOffset, compressedEnd). */
  compressedOffset: number;
  compressedEnd: number;
  /** Where the chunk starts in the inflated members. */
  innerOffset: number;
  /** sha256 of the chunk's bytes, when the TOC has one. */
  digest: string | undefined;
}

export type NodeType = Exclude<EntryType, "hardlink" | "chunk">;

export interface FileNode {
  readonly path: string;
  /** Stable within a layer: 1 for the root, then TOC order. */
  readonly ino: number;
  readonly type: NodeType;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly userName: string;
  readonly groupName: string;
  readonly modtime: Date | undefined;
  readonly linkName: string;
  readonly devMajor: number;
  readonly devMinor: number;
  readonly xattrs: ReadonlyMap<string, Buffer>;
  /** sha256 of the whole file (regular files). */
  readonly digest: string | undefined;
  numLink: number;
  readonly children: Map<string, FileNode>;
  readonly chunks: ChunkRef[];
}

/** A TOC entry other than a chunk, with its cleaned path, in TOC order. */
export interface ListedEntry {
  path: string;
  entry: TocEntry;
}

export interface LayerIndex {
  readonly root: FileNode;
  lookup(path: string): FileNode | undefined;
  /** Every non-chunk TOC entry, in order, hardlinks as themselves. */
  readonly listed: readonly ListedEntry[];
  /** Every chunk of every regular file, in TOC order. */
  readonly allChunks: readonly ChunkRef[];
}

interface Context {
  layer: string | undefined;
  tocOffset: number;
}

interface Owners {
  users: Map<number, string>;
  groups: Map<number, string>;
}

/** What creating implicit directories needs: the node table, inode numbers, owners. */
interface DirContext extends Context {
  nodes: Map<string, FileNode>;
  nextIno: () => number;
  owners: Owners;
}

export function buildIndex(toc: Toc, tocOffset: number, layer?: string): LayerIndex {
  const ctx: Context = { layer, tocOffset };
  const nodes = new Map<string, FileNode>();
  const explicit = new Set<string>();
  const listed: ListedEntry[] = [];
  const hardlinks: ListedEntry[] = [];
  const allChunks: ChunkRef[] = [];
  const owners = { users: new Map<number, string>(), groups: new Map<number, string>() };
  let nextIno = 2;
  const nextOffsets = computeNextOffsets(toc.entries, tocOffset);
  let lastFile: FileNode | undefined;
  toc.entries.forEach((entry, i) => {
    const path = checkedPath(entry, ctx);
    if (entry.type === "chunk") {
      if (!lastFile || (path !== "" && path !== lastFile.path)) {
        fail(ctx, "chunk entry does not follow its regular file", entry.name);
      }
      lastFile.chunks.push(chunkRef(entry, lastFile, nextOffsets[i]!, ctx));
      return;
    }
    if (explicit.has(path)) fail(ctx, "duplicate entry name", entry.name);
    explicit.add(path);
    listed.push({ path, entry });
    lastFile = undefined;
    if (entry.type === "hardlink") {
      hardlinks.push({ path, entry });
      return;
    }
    const node = makeNode(path, path === "" ? 1 : nextIno++, entry, owners);
    nodes.set(path, node);
    if (node.type === "reg") {
      if (node.size > 0) node.chunks.push(chunkRef(entry, node, nextOffsets[i]!, ctx));
      lastFile = node;
    }
  });
  const root = nodes.get("") ?? makeNode("", 1, { name: "", type: "dir", mode: 0o755 }, owners);
  nodes.set("", root);
  const dirCtx: DirContext = { ...ctx, nodes, nextIno: () => nextIno++, owners };
  const dirFor = (path: string): FileNode => ensureDir(path, dirCtx);
  for (const [path, node] of nodes) {
    if (path === "") continue;
    const parent = dirFor(parentOf(path));
    parent.children.set(baseOf(path), node);
    node.numLink += 1;
    if (node.type === "dir") parent.numLink += 1;
  }
  for (const { path, entry } of hardlinks) {
    const target = nodes.get(cleanEntryName(entry.linkName ?? ""));
    if (!target || target.type === "dir")
      fail(ctx, `hardlink target ${JSON.stringify(entry.linkName)} not found`, entry.name);
    const parent = dirFor(parentOf(path));
    parent.children.set(baseOf(path), target);
    target.numLink += 1;
    nodes.set(path, target);
  }
  for (const node of nodes.values()) if (node.type === "reg") checkTiling(node, ctx);
  for (const { path } of listed) {
    const node = nodes.get(path);
    if (node && node.type === "reg" && node.path === path) allChunks.push(...node.chunks);
  }
  return { root, lookup: (p) => nodes.get(cleanEntryName(p)), listed, allChunks };
}

function checkedPath(entry: TocEntry, ctx: Context): string {
  const path = cleanEntryName(entry.name);
  const raw = entry.name;
  const unsafe = path === "" ? undefined : unsafeNameReason(raw);
  if (unsafe) fail(ctx, `entry name is unsafe: ${unsafe}`, raw);
  if (path === "" && entry.type !== "dir" && entry.type !== "chunk")
    fail(ctx, "root entry is not a directory", raw);
  return path;
}

function makeNode(path: string, ino: number, entry: TocEntry, owners: Owners): FileNode {
  const { uid, gid, userName, groupName } = resolveOwners(entry, owners);
  return {
    path,
    ino,
    type: entry.type as NodeType,
    size: entry.type === "reg" ? (entry.size ?? 0) : 0,
    mode: entry.mode ?? 0,
    uid,
    gid,
    userName,
    groupName,
    modtime: parseModtime(entry.modtime),
    linkName: entry.type === "symlink" ? (entry.linkName ?? "") : "",
    devMajor: entry.devMajor ?? 0,
    devMinor: entry.devMinor ?? 0,
    xattrs: decodeXattrs(entry.xattrs),
    digest: entry.digest,
    numLink: 0,
    children: new Map(),
    chunks: [],
  };
}

/** Names are stored only when they change for an id (as Go writes them), so carry them forward. */
function resolveOwners(
  entry: TocEntry,
  owners: Owners,
): { uid: number; gid: number; userName: string; groupName: string } {
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  if (entry.userName) owners.users.set(uid, entry.userName);
  if (entry.groupName) owners.groups.set(gid, entry.groupName);
  return {
    uid,
    gid,
    userName: owners.users.get(uid) ?? "",
    groupName: owners.groups.get(gid) ?? "",
  };
}

function parseModtime(text: string | undefined): Date | undefined {
  const date = text ? new Date(text) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

function decodeXattrs(xattrs: Record<string, string> | undefined): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, value] of Object.entries(xattrs ?? {}))
    out.set(name, Buffer.from(value, "base64"));
  return out;
}

function ensureDir(path: string, ctx: DirContext): FileNode {
  const { nodes, owners } = ctx;
  const existing = nodes.get(path);
  if (existing) {
    if (existing.type !== "dir") fail(ctx, "a file is used as a directory", path);
    return existing;
  }
  const dir = makeNode(path, ctx.nextIno(), { name: path, type: "dir", mode: 0o755 }, owners);
  nodes.set(path, dir);
  const parent = ensureDir(parentOf(path), ctx);
  parent.children.set(baseOf(path), dir);
  dir.numLink += 1;
  parent.numLink += 1;
  return dir;
}

/** For each data entry, where its compressed bytes end: the next larger offset, or the TOC. */
function computeNextOffsets(entries: readonly TocEntry[], tocOffset: number): number[] {
  const next = new Array<number>(entries.length);
  let following = tocOffset;
  for (let i = entries.length - 1; i >= 0; i--) {
    const offset = entries[i]!.offset ?? 0;
    next[i] = following;
    if (offset > 0 && offset < following) following = offset;
  }
  return next;
}

function chunkRef(entry: TocEntry, file: FileNode, compressedEnd: number, ctx: Context): ChunkRef {
  const offset = entry.offset ?? 0;
  if (offset <= 0 || offset >= ctx.tocOffset)
    fail(ctx, `data offset ${offset} is outside the blob`, file.path);
  if (compressedEnd <= offset) fail(ctx, "data offsets are not increasing", file.path);
  const chunkOffset = entry.chunkOffset ?? 0;
  return {
    path: file.path,
    chunkOffset,
    chunkSize: entry.chunkSize ?? 0,
    compressedOffset: offset,
    compressedEnd,
    innerOffset: entry.innerOffset ?? 0,
    digest: entry.chunkDigest,
  };
}

/** Chunks must cover [0, size) exactly, in order; a zero chunkSize means "up to the next chunk". */
function checkTiling(node: FileNode, ctx: Context): void {
  const chunks = node.chunks;
  let expected = 0;
  chunks.forEach((chunk, i) => {
    if (chunk.chunkOffset !== expected)
      fail(ctx, `chunk at ${chunk.chunkOffset} leaves a gap or overlaps`, node.path);
    if (chunk.chunkOffset >= node.size) {
      fail(
        ctx,
        `chunk at ${chunk.chunkOffset} starts past the end of the ${node.size}-byte file`,
        node.path,
      );
    }
    const end = chunks[i + 1]?.chunkOffset ?? node.size;
    if (chunk.chunkSize === 0) chunk.chunkSize = end - chunk.chunkOffset;
    if (chunk.chunkSize <= 0 || chunk.chunkOffset + chunk.chunkSize !== end) {
      fail(
        ctx,
        `chunk at ${chunk.chunkOffset} has size ${chunk.chunkSize}, not ${end - chunk.chunkOffset}`,
        node.path,
      );
    }
    expected = end;
  });
  if (expected !== node.size)
    fail(ctx, `chunks cover ${expected} of ${node.size} bytes`, node.path);
}

function fail(ctx: Context, message: string, entry: string): never {
  throw new EStargzError("bad-entry", message, { layer: ctx.layer, entry });
}
