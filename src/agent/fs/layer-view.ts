/**
 * The layer as overlayfs must see it, computed from the TOC index alone (no
 * I/O): OCI whiteouts `.wh.NAME` become character devices 0/0 named NAME,
 * a directory holding `.wh..wh..opq` is opaque (reported through the overlay
 * opaque xattrs), the `.wh.*` entries and the root's prefetch landmarks are
 * hidden, and a hidden state directory sits at the root.
 */
import {
  NO_PREFETCH_LANDMARK,
  PREFETCH_LANDMARK,
  type FileNode,
  type LayerIndex,
} from "../../estargz/index.ts";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
export const STATE_DIR_NAME = ".stargz-snapshotter";
export const OPAQUE_XATTRS = ["trusted.overlay.opaque", "user.overlay.opaque"] as const;

const S_IFMT = 0o170000;
const typeBits: Record<FileNode["type"], number> = {
  dir: 0o040000,
  reg: 0o100000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
  fifo: 0o010000,
};

export type Visible =
  | { kind: "node"; node: FileNode }
  /** `source` is the `.wh.NAME` entry; it supplies the inode number and times. */
  | { kind: "whiteout"; source: FileNode }
  | { kind: "state-dir" }
  | { kind: "state-file" };

export interface DirEntry {
  name: string;
  entry: Visible;
}

/** The stat fields fuse-native understands; times in milliseconds since the epoch. */
export interface Stat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  rdev: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

export class LayerView {
  readonly #index: LayerIndex;
  readonly #stateFileName: string;
  readonly #listings = new Map<FileNode, DirEntry[]>();
  readonly #stateDirIno: number;

  /** `stateFileName` is `<digest>.json`, the one file in the state directory. */
  constructor(index: LayerIndex, stateFileName: string) {
    this.#index = index;
    this.#stateFileName = stateFileName;
    this.#stateDirIno = maxIno(index.root) + 1;
  }

  get stateFileName(): string {
    return this.#stateFileName;
  }

  /** What an absolute FUSE path ("/", "/a/b") shows, or undefined (ENOENT). */
  resolve(path: string): Visible | undefined {
    const parts = path.split("/").filter((p) => p !== "");
    let current: Visible = { kind: "node", node: this.#index.root };
    for (const name of parts) {
      const next = this.child(current, name);
      if (next === undefined) return undefined;
      current = next;
    }
    return current;
  }

  /** One name looked up in a directory, with the hiding and whiteout rules applied. */
  child(parent: Visible, name: string): Visible | undefined {
    if (parent.kind === "state-dir")
      return name === this.#stateFileName ? { kind: "state-file" } : undefined;
    if (parent.kind !== "node" || parent.node.type !== "dir") return undefined;
    const dir = parent.node;
    if (dir === this.#index.root && name === STATE_DIR_NAME) return { kind: "state-dir" };
    if (isHidden(dir === this.#index.root, name)) return undefined;
    const node = dir.children.get(name);
    if (node !== undefined) return { kind: "node", node };
    const whiteout = dir.children.get(WHITEOUT_PREFIX + name);
    return whiteout !== undefined ? { kind: "whiteout", source: whiteout } : undefined;
  }

  /** A directory's visible entries, sorted by name (computed once per directory). */
  list(dir: Visible): DirEntry[] {
    if (dir.kind === "state-dir")
      return [{ name: this.#stateFileName, entry: { kind: "state-file" } }];
    if (dir.kind !== "node" || dir.node.type !== "dir") return [];
    const cached = this.#listings.get(dir.node);
    if (cached) return cached;
    const entries = visibleChildren(dir.node, dir.node === this.#index.root);
    if (dir.node === this.#index.root)
      entries.push({ name: STATE_DIR_NAME, entry: { kind: "state-dir" } });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.#listings.set(dir.node, entries);
    return entries;
  }

  isOpaque(entry: Visible): boolean {
    return (
      entry.kind === "node" && entry.node.type === "dir" && entry.node.children.has(OPAQUE_MARKER)
    );
  }

  /** The xattr names a node reports: its own plus the overlay opaque markers. */
  xattrNames(entry: Visible): string[] {
    if (entry.kind !== "node") return [];
    const names = [...entry.node.xattrs.keys()];
    if (this.isOpaque(entry)) names.push(...OPAQUE_XATTRS.filter((x) => !names.includes(x)));
    return names;
  }

  xattr(entry: Visible, name: string): Buffer | undefined {
    if (entry.kind !== "node") return undefined;
    if (this.isOpaque(entry) && (OPAQUE_XATTRS as readonly string[]).includes(name))
      return Buffer.from("y");
    return entry.node.xattrs.get(name);
  }

  /** Stat of an entry; `stateFileSize` is the state file's current length. */
  stat(entry: Visible, stateFileSize = 0): Stat {
    switch (entry.kind) {
      case "node":
        return nodeStat(entry.node);
      case "whiteout":
        return {
          ...nodeStat(entry.source),
          mode: typeBits.char,
          uid: 0,
          gid: 0,
          size: 0,
          nlink: 1,
          rdev: 0,
          blocks: 0,
        };
      case "state-dir":
        return syntheticStat(typeBits.dir | 0o500, this.#stateDirIno, 0, 2);
      case "state-file":
        return syntheticStat(typeBits.reg | 0o400, this.#stateDirIno + 1, stateFileSize, 1);
    }
  }
}

function isHidden(atRoot: boolean, name: string): boolean {
  if (name.startsWith(WHITEOUT_PREFIX)) return true;
  return atRoot && (name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK);
}

function visibleChildren(dir: FileNode, atRoot: boolean): DirEntry[] {
  const out: DirEntry[] = [];
  for (const [name, node] of dir.children) {
    if (atRoot && name === STATE_DIR_NAME) continue;
    if (!isHidden(atRoot, name)) out.push({ name, entry: { kind: "node", node } });
    else if (name.startsWith(WHITEOUT_PREFIX) && name !== OPAQUE_MARKER) {
      const target = name.slice(WHITEOUT_PREFIX.length);
      if (target !== "" && !dir.children.has(target))
        out.push({ name: target, entry: { kind: "whiteout", source: node } });
    }
  }
  return out;
}

export function nodeStat(node: FileNode): Stat {
  const size =
    node.type === "reg"
      ? node.size
      : node.type === "symlink"
        ? Buffer.byteLength(node.linkName)
        : 0;
  const time = node.modtime?.getTime() ?? 0;
  return {
    mode: (node.mode & ~S_IFMT & 0o7777) | typeBits[node.type],
    uid: node.uid,
    gid: node.gid,
    size,
    nlink: node.type === "dir" ? dirLinks(node) : Math.max(1, node.numLink),
    ino: node.ino,
    rdev: makeDev(node.devMajor, node.devMinor),
    blksize: 4096,
    blocks: Math.ceil(size / 512),
    atime: time,
    mtime: time,
    ctime: time,
  };
}

function syntheticStat(mode: number, ino: number, size: number, nlink: number): Stat {
  return {
    mode,
    uid: 0,
    gid: 0,
    size,
    nlink,
    ino,
    rdev: 0,
    blksize: 4096,
    blocks: Math.ceil(size / 512),
    atime: 0,
    mtime: Date.now(),
    ctime: 0,
  };
}

/** "." and the entry in the parent, plus ".." of every subdirectory. */
function dirLinks(dir: FileNode): number {
  let links = 2;
  for (const child of dir.children.values()) if (child.type === "dir") links += 1;
  return links;
}

/** Linux's dev_t encoding as the kernel's FUSE attr carries it (32 bits). */
export function makeDev(major: number, minor: number): number {
  return (((major & 0xfff) << 8) | (minor & 0xff) | ((minor & 0xfff00) << 12)) >>> 0;
}

function maxIno(root: FileNode): number {
  let max = root.ino;
  const stack = [root];
  const seen = new Set<FileNode>();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    max = Math.max(max, node.ino);
    for (const child of node.children.values()) stack.push(child);
  }
  return max;
}
