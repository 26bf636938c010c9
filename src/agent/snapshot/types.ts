/**
 * The snapshotter's domain types, independent of gRPC and SQLite.
 * Names follow containerd: a snapshot is addressed by its key (active and view)
 * or its name (committed); both share one namespace.
 */

export type Kind = "view" | "active" | "committed";

export type Labels = Record<string, string>;

export interface SnapshotInfo {
  readonly name: string;
  /** Name of the committed parent, or "" for a base snapshot. */
  readonly parent: string;
  readonly kind: Kind;
  readonly labels: Labels;
  /** Microseconds since the epoch. */
  readonly createdUs: number;
  readonly updatedUs: number;
}

export interface Usage {
  readonly size: number;
  readonly inodes: number;
}

/** What a mount(2) caller needs; mirrors containerd.types.Mount. */
export interface Mount {
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

/** A snapshot as the store hands it to the snapshotter: its id and the ids of its ancestors. */
export interface StoredSnapshot {
  readonly id: number;
  readonly kind: Kind;
  /** Nearest parent first. */
  readonly parentIds: readonly number[];
}

/**
 * A remote layer filesystem (issue 5: FUSE over eStargz). The snapshot core
 * only needs these three calls, so its tests can use a fake.
 * - mount: make the layer described by `labels` appear at `mountpoint`; reject
 *   when the layer cannot be served remotely (the caller falls back to unpacking).
 * - check: resolve when the mounted layer is still healthy; reject NOT_FOUND
 *   when nothing is served at `mountpoint` (the snapshotter then tries one
 *   mount before giving up), any other error when it is unhealthy.
 * - unmount: detach `mountpoint`; resolving when nothing is mounted there.
 */
export interface FileSystem {
  mount(mountpoint: string, labels: Labels, signal: AbortSignal): Promise<void>;
  check(mountpoint: string, labels: Labels): Promise<void>;
  unmount(mountpoint: string): Promise<void>;
}

/** Labels containerd and the remote-snapshot protocol give meaning to. */
export const targetRefLabel = "containerd.io/snapshot.ref";
export const remoteLabel = "containerd.io/snapshot/remote";
export const remoteLabelValue = "remote snapshot";
