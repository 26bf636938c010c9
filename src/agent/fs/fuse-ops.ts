/**
 * The fuse-native operations for one layer: a thin adapter from FUSE paths
 * and callbacks to the layer view, content and state. Every handler answers
 * without blocking the event loop (memory hits synchronously, everything
 * else through promises); errors become errno here and only here: EIO for a
 * failed fetch (its cause is already in the layer state), EROFS for anything
 * that would write.
 */
import Fuse from "fuse-native";
import type { LayerContent } from "./layer-content.ts";
import type { LayerState } from "./layer-state.ts";
import type { LayerView, Stat, Visible } from "./layer-view.ts";

type Cb = (...args: unknown[]) => void;
type Ops = Record<string, (...args: never[]) => void>;

interface Handle {
  entry: Visible;
  /** Where the next read starts if the reader is sequential. */
  nextOffset: number;
}

export interface FuseOpsContext {
  view: LayerView;
  content: LayerContent;
  state: LayerState;
}

const O_ACCMODE = 3;
const W_OK = 2;
const WRITE_OPS = [
  "write",
  "create",
  "truncate",
  "ftruncate",
  "unlink",
  "rename",
  "link",
  "symlink",
  "mkdir",
  "rmdir",
  "chmod",
  "chown",
  "utimens",
  "mknod",
  "setxattr",
  "removexattr",
] as const;

export function createFuseOps(ctx: FuseOpsContext): Ops {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const stat = (entry: Visible): Stat =>
    ctx.view.stat(entry, entry.kind === "state-file" ? ctx.state.render().length : 0);
  const withEntry = (path: string, cb: Cb, fn: (entry: Visible) => void): void => {
    const entry = ctx.view.resolve(path);
    if (entry === undefined) cb(Fuse.ENOENT);
    else fn(entry);
  };
  const ops: Ops = {
    init: (cb: Cb) => cb(0),
    getattr: (path: string, cb: Cb) => withEntry(path, cb, (e) => cb(0, stat(e))),
    fgetattr: (path: string, _fd: number, cb: Cb) => withEntry(path, cb, (e) => cb(0, stat(e))),
    readdir: (path: string, cb: Cb) =>
      withEntry(path, cb, (dir) => {
        if (!isDir(dir)) return cb(Fuse.ENOTDIR);
        const entries = ctx.view.list(dir);
        const self = stat(dir);
        cb(
          0,
          [".", "..", ...entries.map((e) => e.name)],
          [self, self, ...entries.map((e) => stat(e.entry))],
        );
      }),
    readlink: (path: string, cb: Cb) =>
      withEntry(path, cb, (e) =>
        e.kind === "node" && e.node.type === "symlink" ? cb(0, e.node.linkName) : cb(Fuse.EINVAL),
      ),
    open: (path: string, flags: number, cb: Cb) =>
      withEntry(path, cb, (entry) => {
        if ((flags & O_ACCMODE) !== 0) return cb(Fuse.EROFS);
        if (isDir(entry)) return cb(Fuse.EISDIR);
        const fh = nextHandle++;
        handles.set(fh, { entry, nextOffset: 0 });
        cb(0, fh);
      }),
    release: (_path: string, fd: number, cb: Cb) => {
      handles.delete(fd);
      cb(0);
    },
    // fuse-native's signature, not ours to shorten.
    // eslint-disable-next-line max-params
    read: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) => {
      const handle = handles.get(fd);
      const entry = handle?.entry ?? ctx.view.resolve(path);
      if (entry === undefined) return cb(Fuse.ENOENT);
      readEntry(ctx, entry, { buf, len, pos, handle }, cb);
    },
    getxattr: (path: string, name: string, _position: number, cb: Cb) =>
      withEntry(path, cb, (e) => {
        const value = ctx.view.xattr(e, name);
        if (value === undefined) cb(Fuse.ENODATA);
        else cb(0, value);
      }),
    listxattr: (path: string, cb: Cb) => withEntry(path, cb, (e) => cb(0, ctx.view.xattrNames(e))),
    statfs: (_path: string, cb: Cb) => cb(0, { bsize: 4096, frsize: 4096, namemax: 255 }),
    access: (path: string, mode: number, cb: Cb) =>
      withEntry(path, cb, () => cb((mode & W_OK) !== 0 ? Fuse.EROFS : 0)),
  };
  for (const name of WRITE_OPS)
    ops[name] = (...args: unknown[]) => (args[args.length - 1] as Cb)(Fuse.EROFS);
  return ops;
}

function isDir(entry: Visible): boolean {
  return entry.kind === "state-dir" || (entry.kind === "node" && entry.node.type === "dir");
}

interface ReadRequest {
  buf: Buffer;
  len: number;
  pos: number;
  handle: Handle | undefined;
}

function readEntry(ctx: FuseOpsContext, entry: Visible, req: ReadRequest, cb: Cb): void {
  const { buf, len, pos, handle } = req;
  if (entry.kind === "state-file")
    return cb(copyOut(ctx.state.render().subarray(pos, pos + len), buf));
  if (entry.kind !== "node" || entry.node.type !== "reg") return cb(Fuse.EISDIR);
  const node = entry.node;
  if (pos >= node.size || len === 0) return cb(0);
  const sequential = handle !== undefined && handle.nextOffset === pos && pos > 0;
  if (handle) handle.nextOffset = pos + len;
  const hit = ctx.content.cached(node, pos, len);
  if (hit) {
    if (sequential) ctx.content.readAhead(node, pos, len);
    return cb(copyOut(hit, buf));
  }
  ctx.content.read(node, pos, len, sequential).then(
    (data) => cb(copyOut(data, buf)),
    () => cb(Fuse.EIO),
  );
}

function copyOut(data: Buffer, buf: Buffer): number {
  return data.copy(buf, 0, 0, Math.min(data.length, buf.length));
}
