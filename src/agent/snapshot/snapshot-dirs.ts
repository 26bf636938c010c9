/**
 * The on-disk layout under the snapshotter root and the directory steps of
 * containerd's overlay snapshotter:
 *   ROOT/metadata.db                  the metadata store
 *   ROOT/snapshots/ID/fs              a snapshot's files (upper dir)
 *   ROOT/snapshots/ID/work            overlay work dir (active snapshots only)
 *   ROOT/snapshots/new-XXXXXX         a directory being staged
 * A directory under snapshots/ whose name is not the id of a stored snapshot
 * is garbage (a crash between two steps) and is removed by cleanup.
 */
import { lchown, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { StargzError } from "../../util/errors.ts";
import type { Kind } from "./types.ts";
import type { MountLayout } from "./mounts.ts";

export class SnapshotDirs {
  readonly root: string;
  readonly snapshots: string;

  constructor(root: string) {
    this.root = root;
    this.snapshots = resolve(root, "snapshots");
  }

  dbPath(): string {
    return join(this.root, "metadata.db");
  }

  path(id: number): string {
    return join(this.snapshots, String(id));
  }

  layout(extra: Pick<MountLayout, "userxattr" | "indexOff"> = {}): MountLayout {
    // Plain concatenation: `snapshots` is already normalized, and Mounts of a
    // deep chain calls these once per layer.
    const base = this.snapshots;
    return {
      fsPath: (id) => `${base}/${id}/fs`,
      workPath: (id) => `${base}/${id}/work`,
      ...extra,
    };
  }

  async init(): Promise<void> {
    await fsStep("create snapshotter root", this.snapshots, () =>
      mkdir(this.snapshots, { recursive: true, mode: 0o700 }),
    );
  }

  /** Creates new-XXXXXX with fs/ (and work/ for an active snapshot); returns its path. */
  async stage(kind: Kind): Promise<string> {
    const dir = await fsStep("stage snapshot directory", this.snapshots, () =>
      mkdtemp(join(this.snapshots, "new-")),
    );
    try {
      await mkdir(join(dir, "fs"), { mode: 0o755 });
      if (kind === "active") await mkdir(join(dir, "work"), { mode: 0o711 });
      return dir;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw new StargzError("INTERNAL", "cannot stage snapshot directory", {
        cause: err,
        context: { path: dir },
      });
    }
  }

  /** Gives the staged fs dir the owner of the parent's fs dir, as overlay.go does. */
  async inheritOwner(staged: string, parentId: number): Promise<void> {
    const parentFs = join(this.path(parentId), "fs");
    await fsStep("copy parent owner", parentFs, async () => {
      const st = await stat(parentFs);
      if (st.uid === process.getuid?.() && st.gid === process.getgid?.()) return;
      await lchown(join(staged, "fs"), st.uid, st.gid);
    });
  }

  /** Moves a staged directory to its id; a leftover with that name is garbage and goes first. */
  async publish(staged: string, id: number): Promise<void> {
    const target = this.path(id);
    await fsStep("publish snapshot directory", target, async () => {
      try {
        await rename(staged, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
        await rm(target, { recursive: true, force: true });
        await rename(staged, target);
      }
    });
  }

  /** Directory names under snapshots/ that belong to no id in `ids`. */
  async orphans(ids: ReadonlySet<number>): Promise<string[]> {
    const names = await fsStep("list snapshot directories", this.snapshots, () =>
      readdir(this.snapshots),
    );
    return names
      .filter((n) => !/^\d+$/.test(n) || !ids.has(Number(n)))
      .map((n) => join(this.snapshots, n));
  }

  async removeDir(dir: string): Promise<void> {
    await fsStep("remove snapshot directory", dir, () => rm(dir, { recursive: true, force: true }));
  }
}

async function fsStep<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StargzError) throw err;
    const errno = (err as NodeJS.ErrnoException).code;
    throw new StargzError("INTERNAL", `cannot ${what}`, { cause: err, context: { path, errno } });
  }
}
