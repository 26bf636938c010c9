/**
 * What a pull needs from the registry and from containerd, as small
 * interfaces owned here: RegistryClient and ContainerdClient satisfy them,
 * unit tests pass fakes.
 */
import type {
  ContentClient,
  DiffClient,
  ImagesClient,
  LeasesClient,
  SnapshotsClient,
} from "../containerd/index.ts";
import type { Descriptor, ImageReference, Platform, ResolvedImage } from "../registry/index.ts";

export interface PullRegistry {
  resolve(
    ref: ImageReference,
    options: { platform?: Platform; signal?: AbortSignal },
  ): Promise<ResolvedImage>;
  fetchBlob(
    ref: ImageReference,
    blob: Descriptor,
    options: { signal?: AbortSignal },
  ): Promise<Uint8Array>;
  blobStream(
    ref: ImageReference,
    blob: Descriptor,
    options: { signal?: AbortSignal },
  ): AsyncIterable<Uint8Array>;
}

/** containerd as seen under one lease. */
export interface PullSession {
  readonly content: Pick<ContentClient, "write" | "info" | "setLabels">;
  readonly images: Pick<ImagesClient, "put">;
  readonly diff: Pick<DiffClient, "apply">;
  snapshots(snapshotter: string): Pick<SnapshotsClient, "prepare" | "commit" | "stat" | "remove">;
}

export interface PullContainerd {
  readonly address: string;
  readonly namespace: string;
  readonly leases: Pick<LeasesClient, "create" | "delete">;
  withLease(lease: string): PullSession;
}

/** How one layer got into the snapshotter. */
export type LayerMode =
  /** The snapshotter mounted it from the registry (Prepare answered ALREADY_EXISTS). */
  | "remote"
  /** Downloaded into the content store and unpacked by containerd's diff service. */
  | "fallback"
  /** Its snapshot (chainID) was already there: nothing to do. */
  | "present";

export interface LayerOutcome {
  readonly index: number;
  readonly digest: string;
  readonly chainId: string;
  readonly mode: LayerMode;
  /** Why a layer fell back, when known. */
  readonly reason?: string;
  /** Layer bytes read from the registry for this layer. */
  readonly bytesDownloaded: number;
}

export interface PullResult {
  /** The image record's name in containerd. */
  readonly name: string;
  /** What the record points at: the index when the reference named one, else the manifest. */
  readonly target: Descriptor;
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  /** chainID of the top layer: the snapshot a container of this image starts from. */
  readonly chainId: string;
  readonly snapshotter: string;
  readonly layers: readonly LayerOutcome[];
  /** Every byte read from the registry: index, manifest, config and fallback layers. */
  readonly bytesDownloaded: number;
}
