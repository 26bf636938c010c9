/**
 * What the layer filesystem needs from outside and what it offers the
 * snapshotter. Everything here can cross a process boundary later (design
 * step 7) except the reader and source objects, which a FUSE manager process
 * would build itself from a serializable descriptor.
 */
import type { LayerReader } from "../../estargz/index.ts";

export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * The compressed layer blob, read by ranges. Contract: resolves with one
 * buffer per requested range, each exactly `length` bytes, in order; rejects
 * (never hangs past) when `signal` aborts. Implementations should send the
 * ranges in as few requests as they can (one multi-range request ideally).
 */
export interface LayerBlobSource {
  readonly size: number;
  readRanges(ranges: readonly ByteRange[], signal: AbortSignal): Promise<Buffer[]>;
}

/** One eStargz layer, opened (footer and TOC read and verified). */
export interface Layer {
  /** The blob's digest, "sha256:…"; names the state file and appears in logs and errors. */
  readonly digest: string;
  readonly reader: LayerReader;
  readonly source: LayerBlobSource;
}

/** What the state file at `/.stargz-snapshotter/<digest>.json` holds (Go snapshotter compatible, plus fields of ours). */
export interface LayerStateJson {
  error?: string;
  digest: string;
  size: number;
  fetchedSize: number;
  fetchedPercent: number;
  prefetch: "none" | "pending" | "done" | "failed";
  backgroundFetch: "disabled" | "pending" | "running" | "done" | "failed";
}

/**
 * Serves layers as filesystems. The snapshotter depends on this interface
 * only, so its tests can use a fake and the FUSE serving can move into a
 * process of its own.
 */
export interface LayerMounter {
  /**
   * Mounts `layer` read-only at `mountpoint` (an absolute path to an existing
   * empty directory that is not a mountpoint) and starts its prefetch.
   * Rejects ALREADY_EXISTS when this mounter serves that path already,
   * FAILED_PRECONDITION when something else is mounted there.
   */
  mount(mountpoint: string, layer: Layer, signal: AbortSignal): Promise<void>;
  /**
   * Resolves when the mount is still in place; rejects (UNAVAILABLE) when it is
   * gone, (NOT_FOUND) when this mounter never mounted it. Fetch errors do not
   * fail the check: they are per read, and in the state file.
   */
  check(mountpoint: string): Promise<void>;
  /** Unmounts and stops all fetching for the layer. Idempotent. */
  unmount(mountpoint: string): Promise<void>;
  /** Waits (bounded) for the prefetch; true when it finished, false on timeout or failure (recorded). */
  waitForPrefetch(mountpoint: string, timeoutMs: number): Promise<boolean>;
  /** The layer's state, as its state file shows it. */
  state(mountpoint: string): LayerStateJson;
}
