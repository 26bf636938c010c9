/**
 * Mount composition, a pure function of a snapshot and the directory layout,
 * ordered like containerd's overlay snapshotter:
 * - no parent: a bind mount of the snapshot's own fs dir ("ro" for a view);
 * - a view on exactly one parent: a read-only bind mount of the parent;
 * - otherwise overlay: lowerdir lists the parents nearest first joined by ':',
 *   plus upperdir and workdir when active.
 *
 * Paths are absolute, as containerd expects. A long lowerdir list can exceed
 * the one page (4096 bytes) the kernel accepts for mount options; containerd's
 * mount code then chdirs into the lowerdirs' common parent and passes them as
 * short relative paths (compactLowerdir below does the same for our own
 * tests). Overlayfs itself stops at 500 lower layers.
 */
import type { Mount, StoredSnapshot } from "./types.ts";

export interface MountLayout {
  /** The fs dir (upper dir) of snapshot `id`. */
  fsPath(id: number): string;
  /** The overlay work dir of active snapshot `id`. */
  workPath(id: number): string;
  /** Add "userxattr" (overlay in a user namespace). */
  userxattr?: boolean;
  /** Add "index=off" (host kernels with overlay index on by default). */
  indexOff?: boolean;
}

export function composeMounts(snapshot: StoredSnapshot, layout: MountLayout): Mount[] {
  const { id, kind, parentIds } = snapshot;
  if (parentIds.length === 0) {
    const mode = kind === "view" ? "ro" : "rw";
    return [{ type: "bind", source: layout.fsPath(id), options: [mode, "rbind"] }];
  }
  if (kind !== "active" && parentIds.length === 1) {
    return [
      { type: "bind", source: layout.fsPath(parentIds[0] as number), options: ["ro", "rbind"] },
    ];
  }
  const options: string[] = [];
  if (layout.indexOff) options.push("index=off");
  if (layout.userxattr) options.push("userxattr");
  if (kind === "active") {
    options.push(`workdir=${layout.workPath(id)}`, `upperdir=${layout.fsPath(id)}`);
  }
  options.push(`lowerdir=${parentIds.map((p) => layout.fsPath(p)).join(":")}`);
  return [{ type: "overlay", source: "overlay", options }];
}

/** The kernel's limit for the mount data string (one page minus a margin, as containerd uses). */
export const mountOptionLimit = 4096 - 512;

/**
 * For an overlay mount whose options do not fit in a page: the common parent
 * directory of all lowerdirs and the options rewritten with lowerdirs relative
 * to it. A mount must then run with that directory as its working directory.
 * Returns undefined when the options already fit.
 */
export function compactLowerdir(mount: Mount): { cwd: string; options: string[] } | undefined {
  if (mount.options.join(",").length < mountOptionLimit) return undefined;
  const lower = mount.options.find((o) => o.startsWith("lowerdir="));
  if (lower === undefined) return undefined;
  const dirs = lower.slice("lowerdir=".length).split(":");
  const cwd = commonDir(dirs);
  if (cwd === "/" || cwd === "") return undefined;
  const rel = dirs.map((d) => d.slice(cwd.length + 1)).join(":");
  const options = mount.options.map((o) => (o === lower ? `lowerdir=${rel}` : o));
  return { cwd, options };
}

function commonDir(paths: readonly string[]): string {
  const first = (paths[0] ?? "").split("/");
  let n = first.length - 1;
  for (const p of paths.slice(1)) {
    const parts = p.split("/");
    let i = 0;
    while (i < n && parts[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join("/");
}
