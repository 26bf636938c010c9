/**
 * containerd's snapshotter semantics over the metadata store and overlay
 * directories. Directory side effects follow overlay.go: a directory is staged
 * as new-*, renamed to its id inside the creating transaction, and deleted
 * only after the removing transaction has committed. A crash at any point
 * leaves at most directories the store does not know, and open() cleans those
 * up before serving.
 *
 * Remote snapshots (issue 5): when a FileSystem is given and Prepare carries
 * containerd.io/snapshot.ref, the layer is mounted at the new snapshot's fs
 * dir, committed under the target name, and Prepare fails with ALREADY_EXISTS
 * so containerd skips downloading it. If the filesystem refuses, Prepare
 * returns ordinary mounts and containerd unpacks the layer itself.
 */
import { StargzError, errorMessage, isErrorCode } from "../../util/errors.ts";
import { silentLogger, type Logger } from "../../util/log.ts";
import { diskUsage } from "./disk-usage.ts";
import { matchesAny, parseFilters } from "./filters.ts";
import { applyLabelUpdate, validateLabels } from "./labels.ts";
import { MetadataStore } from "./metadata-store.ts";
import { composeMounts, type MountLayout } from "./mounts.ts";
import { SnapshotDirs } from "./snapshot-dirs.ts";
import type { MicrosClock } from "./clock.ts";
import { remoteLabel, remoteLabelValue, targetRefLabel } from "./types.ts";
import type {
  FileSystem,
  Kind,
  Labels,
  Mount,
  SnapshotInfo,
  StoredSnapshot,
  Usage,
} from "./types.ts";

export interface SnapshotterOptions {
  /** Directory holding metadata.db and snapshots/. */
  root: string;
  logger?: Logger;
  /** Remote layer filesystem; without it every layer is unpacked by containerd. */
  fileSystem?: FileSystem;
  userxattr?: boolean;
  indexOff?: boolean;
  /** Leave removed directories for Cleanup instead of deleting them in Remove. */
  asyncRemove?: boolean;
  nowUs?: MicrosClock;
  /** Told about each remote snapshot that cannot be mounted again at start (it stays in the store). */
  onRestoreFailure?: (labels: Labels, mountpoint: string, err: unknown) => void;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export class Snapshotter {
  readonly #store: MetadataStore;
  readonly #dirs: SnapshotDirs;
  readonly #layout: MountLayout;
  readonly #log: Logger;
  readonly #fs: FileSystem | undefined;
  readonly #asyncRemove: boolean;
  readonly #onRestoreFailure: SnapshotterOptions["onRestoreFailure"];

  private constructor(options: SnapshotterOptions, dirs: SnapshotDirs, store: MetadataStore) {
    this.#dirs = dirs;
    this.#store = store;
    this.#layout = dirs.layout({ userxattr: options.userxattr, indexOff: options.indexOff });
    this.#log = options.logger ?? silentLogger();
    this.#fs = options.fileSystem;
    this.#asyncRemove = options.asyncRemove ?? false;
    this.#onRestoreFailure = options.onRestoreFailure;
  }

  /** Opens the store, removes crash leftovers and remounts remote snapshots. */
  static async open(options: SnapshotterOptions, call: CallOptions = {}): Promise<Snapshotter> {
    const dirs = new SnapshotDirs(options.root);
    await dirs.init();
    const store = new MetadataStore({ path: dirs.dbPath(), nowUs: options.nowUs });
    const snapshotter = new Snapshotter(options, dirs, store);
    await snapshotter.cleanup();
    await snapshotter.#restoreRemote(call.signal ?? new AbortController().signal);
    return snapshotter;
  }

  async prepare(
    key: string,
    parent: string,
    labels: Labels,
    call: CallOptions = {},
  ): Promise<Mount[]> {
    validateLabels(labels);
    const target = labels[targetRefLabel];
    if (this.#fs && target) await this.#failIfExists(target);
    const snapshot = await this.#create("active", key, parent, labels);
    if (this.#fs && target)
      await this.#tryRemote(this.#fs, { key, target, snapshot, labels }, call);
    await this.#checkOrRemove(key, snapshot);
    return composeMounts(snapshot, this.#layout);
  }

  async view(key: string, parent: string, labels: Labels): Promise<Mount[]> {
    validateLabels(labels);
    const snapshot = await this.#create("view", key, parent, labels);
    await this.#checkOrRemove(key, snapshot);
    return composeMounts(snapshot, this.#layout);
  }

  async mounts(key: string): Promise<Mount[]> {
    const snapshot = await this.#store.withTransaction(false, (tx) => tx.getSnapshot(key));
    await this.#checkRemoteParents(snapshot);
    return composeMounts(snapshot, this.#layout);
  }

  /** Commits active `key` as `name`; usage is measured first, outside the transaction. */
  async commit(name: string, key: string, labels: Labels, call: CallOptions = {}): Promise<void> {
    await this.#commit(name, key, labels, { ...call, remote: false });
  }

  /**
   * Checks in containerd's order (key missing, name taken, key not active)
   * before walking the directory; a remote snapshot is not walked at all.
   */
  async #commit(name: string, key: string, labels: Labels, opts: CommitOptions): Promise<void> {
    validateLabels(labels);
    const id = await this.#store.withTransaction(false, (tx) => {
      const found = tx.getInfo(key);
      if (tx.has(name)) {
        throw new StargzError("ALREADY_EXISTS", "snapshot already exists", {
          context: { key: name },
        });
      }
      if (found.info.kind !== "active") {
        throw new StargzError("FAILED_PRECONDITION", "snapshot is not active", {
          context: { key },
        });
      }
      return found.id;
    });
    const usage = opts.remote
      ? { size: 0, inodes: 0 }
      : await diskUsage(this.#layout.fsPath(id), opts.signal);
    await this.#store.withTransaction(true, (tx) => {
      if (tx.getInfo(key).id !== id) {
        throw new StargzError("NOT_FOUND", "snapshot was replaced during commit", {
          context: { key },
        });
      }
      tx.commitActive(key, name, usage, labels);
    });
  }

  async remove(key: string): Promise<void> {
    const removed = await this.#store.withTransaction(true, (tx) => {
      const { info } = tx.getInfo(key);
      const { id } = tx.remove(key);
      return { id, remote: info.labels[remoteLabel] === remoteLabelValue };
    });
    if (this.#asyncRemove) return;
    try {
      if (removed.remote) await this.#fs?.unmount(this.#layout.fsPath(removed.id));
      await this.#dirs.removeDir(this.#dirs.path(removed.id));
    } catch (err) {
      this.#log.warn("snapshot removed, its directory is left for cleanup", {
        key,
        id: removed.id,
        error: errorMessage(err),
      });
    }
  }

  stat(key: string): Promise<SnapshotInfo> {
    return this.#store.withTransaction(false, (tx) => tx.getInfo(key).info);
  }

  async update(name: string, labels: Labels, fieldPaths: readonly string[]): Promise<SnapshotInfo> {
    validateLabels(labels);
    return this.#store.withTransaction(true, (tx) => {
      const current = tx.getInfo(name).info;
      const next = applyLabelUpdate(current.labels, labels, fieldPaths, name);
      validateLabels(next);
      return tx.setLabels(name, next);
    });
  }

  async list(filters: readonly string[]): Promise<SnapshotInfo[]> {
    const parsed = parseFilters(filters);
    const all = await this.#store.withTransaction(false, (tx) => tx.walk());
    return all.filter((info) => matchesAny(parsed, info));
  }

  /** Committed snapshots report the usage stored at commit; others are measured now. */
  async usage(key: string, call: CallOptions = {}): Promise<Usage> {
    const { id, info, usage } = await this.#store.withTransaction(false, (tx) => tx.getInfo(key));
    if (info.kind === "committed") return usage;
    return diskUsage(this.#layout.fsPath(id), call.signal);
  }

  /** Removes every directory the store does not know (staged or half-removed ones). */
  async cleanup(): Promise<void> {
    const orphans = await this.#store.withTransaction(false, async (tx) =>
      this.#dirs.orphans(tx.ids()),
    );
    for (const dir of orphans) {
      if (this.#fs) await this.#fs.unmount(`${dir}/fs`).catch(() => undefined);
      await this.#dirs.removeDir(dir);
      this.#log.info("removed leftover snapshot directory", { path: dir });
    }
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  /**
   * Stages the directory, stores the record and publishes the directory under
   * its id in one transaction. If the transaction fails, even at COMMIT, the
   * published directory goes too.
   */
  async #create(kind: Kind, key: string, parent: string, labels: Labels): Promise<StoredSnapshot> {
    let published: string | undefined;
    try {
      return await this.#store.withTransaction(true, async (tx) => {
        const staged = await this.#dirs.stage(kind);
        try {
          const snapshot = tx.createSnapshot(kind, key, parent, labels);
          const nearest = snapshot.parentIds[0];
          if (nearest !== undefined) await this.#dirs.inheritOwner(staged, nearest);
          await this.#dirs.publish(staged, snapshot.id);
          published = this.#dirs.path(snapshot.id);
          return snapshot;
        } catch (err) {
          await this.#dirs.removeDir(staged).catch(() => undefined);
          throw err;
        }
      });
    } catch (err) {
      if (published) await this.#dirs.removeDir(published).catch(() => undefined);
      throw err;
    }
  }

  /** A new snapshot whose remote parents are unavailable is removed again, so a retry can reuse its key. */
  async #checkOrRemove(key: string, snapshot: StoredSnapshot): Promise<void> {
    try {
      await this.#checkRemoteParents(snapshot);
    } catch (err) {
      await this.remove(key).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Before mounts stacking on remote layers are handed out: each remote
   * ancestor must pass the filesystem's check (mount alive, source reachable;
   * the first check also waits, bounded, for the layer's prefetch).
   */
  async #checkRemoteParents(snapshot: StoredSnapshot): Promise<void> {
    const fs = this.#fs;
    if (!fs || snapshot.parentIds.length === 0) return;
    const remote = await this.#store.withTransaction(false, (tx) =>
      snapshot.parentIds
        .map((id) => ({ id, labels: tx.labelsOf(id) }))
        .filter((p) => p.labels[remoteLabel] === remoteLabelValue),
    );
    const results = await Promise.allSettled(
      remote.map((p) => this.#checkOrRemount(fs, this.#layout.fsPath(p.id), p.labels)),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      throw new StargzError("UNAVAILABLE", "a remote layer of this snapshot is unavailable", {
        cause: failed.reason,
        context: { reason: errorMessage(failed.reason) },
      });
    }
  }

  /**
   * A remote layer that is not served at all (its restore failed at start,
   * say while the registry was down) gets one more mount attempt here.
   */
  async #checkOrRemount(fs: FileSystem, mountpoint: string, labels: Labels): Promise<void> {
    try {
      await fs.check(mountpoint, labels);
      return;
    } catch (err) {
      if (!isErrorCode(err, "NOT_FOUND")) throw err;
    }
    await fs.mount(mountpoint, labels, AbortSignal.timeout(60_000)).catch((err: unknown) => {
      if (!isErrorCode(err, "ALREADY_EXISTS")) throw err;
    });
    this.#log.info("remote snapshot mounted again on demand", { mountpoint });
    await fs.check(mountpoint, labels);
  }

  async #failIfExists(target: string): Promise<void> {
    const exists = await this.#store.withTransaction(false, (tx) => tx.has(target));
    if (exists)
      throw new StargzError("ALREADY_EXISTS", "target snapshot already exists", {
        context: { key: target },
      });
  }

  async #tryRemote(fs: FileSystem, req: RemoteRequest, call: CallOptions): Promise<void> {
    const mountpoint = this.#layout.fsPath(req.snapshot.id);
    try {
      await fs.mount(mountpoint, req.labels, call.signal ?? new AbortController().signal);
    } catch (err) {
      this.#log.info("layer is not served remotely, containerd unpacks it", {
        key: req.key,
        error: errorMessage(err),
      });
      return;
    }
    try {
      await this.#commit(
        req.target,
        req.key,
        { ...req.labels, [remoteLabel]: remoteLabelValue },
        { ...call, remote: true },
      );
    } catch (err) {
      await fs.unmount(mountpoint).catch(() => undefined);
      if (!isErrorCode(err, "ALREADY_EXISTS")) throw err;
      await this.remove(req.key);
    }
    throw new StargzError("ALREADY_EXISTS", "target snapshot already exists", {
      context: { key: req.target },
    });
  }

  /** After a restart: every remote snapshot whose filesystem fails its check is mounted again. */
  async #restoreRemote(signal: AbortSignal): Promise<void> {
    const fs = this.#fs;
    if (!fs) return;
    const remote = await this.#store.withTransaction(false, (tx) =>
      tx
        .walk()
        .filter((i) => i.labels[remoteLabel] === remoteLabelValue)
        .map((i) => ({ info: i, id: tx.getInfo(i.name).id })),
    );
    // A few at a time: each may wait on a registry, and the agent serves only after this.
    const queue = [...remote];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await this.#restoreOne(fs, next.info, next.id, signal);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  }

  async #restoreOne(
    fs: FileSystem,
    info: SnapshotInfo,
    id: number,
    signal: AbortSignal,
  ): Promise<void> {
    const mountpoint = this.#layout.fsPath(id);
    const healthy = await fs.check(mountpoint, info.labels).then(
      () => true,
      () => false,
    );
    if (healthy) return;
    await fs.mount(mountpoint, info.labels, signal).catch((err: unknown) => {
      this.#log.warn("cannot remount remote snapshot", {
        key: info.name,
        error: errorMessage(err),
      });
      this.#onRestoreFailure?.(info.labels, mountpoint, err);
    });
  }
}

interface CommitOptions extends CallOptions {
  /** The active snapshot's fs dir is a remote mount: do not walk it for usage. */
  remote: boolean;
}

interface RemoteRequest {
  key: string;
  target: string;
  snapshot: StoredSnapshot;
  labels: Labels;
}
