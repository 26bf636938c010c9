/**
 * eStargz format facts shared by the reader and the builder. Field names and
 * constants follow the Go implementation so layers are interchangeable.
 */

/** Random access to a blob. readAt fills as much of buf as it can and returns how much. */
export interface ReadAt {
  readonly size: number;
  readAt(buf: Uint8Array, offset: number): Promise<number>;
}

/** Where the builder writes the compressed blob, in order. */
export interface LayerSink {
  write(chunk: Uint8Array): Promise<void>;
}

export const TOC_TAR_NAME = "stargz.index.json";
export const PREFETCH_LANDMARK = ".prefetch.landmark";
export const NO_PREFETCH_LANDMARK = ".no.prefetch.landmark";
/** The single byte every landmark file holds. */
export const LANDMARK_CONTENTS = 0x0f;
export const DEFAULT_CHUNK_SIZE = 4 << 20;
export const DEFAULT_COMPRESSION_LEVEL = 9;

/** Layer annotations that carry eStargz facts in an image manifest. */
export const TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest";
export const UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size";

export const ENTRY_TYPES = [
  "dir",
  "reg",
  "symlink",
  "hardlink",
  "char",
  "block",
  "fifo",
  "chunk",
] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/**
 * One entry of the TOC JSON, exactly as serialized. Zero values are omitted
 * as in Go (`omitempty`); xattr values are base64.
 */
export interface TocEntry {
  name: string;
  type: EntryType;
  size?: number;
  modtime?: string;
  linkName?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  offset?: number;
  innerOffset?: number;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, string>;
  digest?: string;
  chunkOffset?: number;
  chunkSize?: number;
  chunkDigest?: string;
}

export interface Toc {
  version: number;
  entries: TocEntry[];
}

/** What the builder reports about the blob it wrote. */
export interface BuildResult {
  /** sha256 of the compressed blob, "sha256:…". */
  digest: string;
  /** Compressed size in bytes. */
  size: number;
  /** sha256 of the uncompressed TOC JSON. */
  tocDigest: string;
  /** sha256 of the uncompressed tar stream (the layer's diffID). */
  diffID: string;
  uncompressedSize: number;
  /** Prioritized files the layer did not contain (only with allowMissingPrioritized). */
  missingPrioritized?: string[];
}
