/**
 * The containerd API messages this client sends and receives, as
 * @grpc/proto-loader encodes and decodes them with the options in
 * proto-definition.ts (keepCase, enums as strings, int64 as numbers, defaults
 * filled in). test/unit/containerd/wire-types.test.ts checks them against the
 * .proto files.
 */

export interface WireTimestamp {
  seconds: number;
  nanos: number;
}

export interface WireFieldMask {
  paths: string[];
}

export interface WireDescriptor {
  media_type: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

export interface WireMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

// content.v1

export type WriteAction = "STAT" | "WRITE" | "COMMIT";

export interface ContentInfo {
  digest: string;
  size: number;
  created_at: WireTimestamp | null;
  updated_at: WireTimestamp | null;
  labels: Record<string, string>;
}

export interface ContentInfoRequest {
  digest: string;
}

export interface ContentInfoResponse {
  info: ContentInfo | null;
}

export interface ContentUpdateRequest {
  info: Partial<ContentInfo> & { digest: string };
  update_mask: WireFieldMask | null;
}

export type ContentUpdateResponse = ContentInfoResponse;

export interface WriteContentRequest {
  action: WriteAction;
  ref: string;
  total: number;
  expected: string;
  offset: number;
  data: Uint8Array;
  labels: Record<string, string>;
}

export interface WriteContentResponse {
  action: WriteAction;
  started_at: WireTimestamp | null;
  updated_at: WireTimestamp | null;
  offset: number;
  total: number;
  digest: string;
}

export interface AbortRequest {
  ref: string;
}

// images.v1

export interface WireImage {
  name: string;
  labels: Record<string, string>;
  target: WireDescriptor | null;
  created_at: WireTimestamp | null;
  updated_at: WireTimestamp | null;
}

export interface GetImageRequest {
  name: string;
}

export interface ImageResponse {
  image: WireImage | null;
}
export type GetImageResponse = ImageResponse;
export type CreateImageResponse = ImageResponse;
export type UpdateImageResponse = ImageResponse;

export interface CreateImageRequest {
  image: Omit<WireImage, "created_at" | "updated_at">;
}

export interface UpdateImageRequest {
  image: Omit<WireImage, "created_at" | "updated_at">;
  update_mask: WireFieldMask | null;
}

export interface DeleteImageRequest {
  name: string;
  sync: boolean;
}

// leases.v1

export interface WireLease {
  id: string;
  created_at: WireTimestamp | null;
  labels: Record<string, string>;
}

export interface CreateLeaseRequest {
  id: string;
  labels: Record<string, string>;
}

export interface CreateLeaseResponse {
  lease: WireLease | null;
}

export interface DeleteLeaseRequest {
  id: string;
  sync: boolean;
}

export interface ListLeasesRequest {
  filters: string[];
}

export interface ListLeasesResponse {
  leases: WireLease[];
}

// diff.v1

export interface ApplyRequest {
  diff: WireDescriptor;
  mounts: WireMount[];
  payloads: Record<string, never>;
}

export interface ApplyResponse {
  applied: WireDescriptor | null;
}

// namespaces.v1

export interface WireNamespace {
  name: string;
  labels: Record<string, string>;
}

export interface GetNamespaceRequest {
  name: string;
}

export interface GetNamespaceResponse {
  namespace: WireNamespace | null;
}

// snapshots.v1

export type WireKind = "UNKNOWN" | "VIEW" | "ACTIVE" | "COMMITTED";

export interface WireSnapshotInfo {
  name: string;
  parent: string;
  kind: WireKind;
  created_at: WireTimestamp | null;
  updated_at: WireTimestamp | null;
  labels: Record<string, string>;
}

export interface PrepareSnapshotRequest {
  snapshotter: string;
  key: string;
  parent: string;
  labels: Record<string, string>;
}

export interface MountsResponse {
  mounts: WireMount[];
}

export interface CommitSnapshotRequest {
  snapshotter: string;
  name: string;
  key: string;
  labels: Record<string, string>;
}

export interface SnapshotKeyRequest {
  snapshotter: string;
  key: string;
}

export interface StatSnapshotResponse {
  info: WireSnapshotInfo | null;
}

/** Field names per message, in .proto order, for the proto check. */
export const wireMessages = {
  "types.Descriptor": ["media_type", "digest", "size", "annotations"],
  "types.Mount": ["type", "source", "target", "options"],
  "services.content.v1.Info": ["digest", "size", "created_at", "updated_at", "labels"],
  "services.content.v1.InfoRequest": ["digest"],
  "services.content.v1.InfoResponse": ["info"],
  "services.content.v1.UpdateRequest": ["info", "update_mask"],
  "services.content.v1.UpdateResponse": ["info"],
  "services.content.v1.WriteContentRequest": [
    "action",
    "ref",
    "total",
    "expected",
    "offset",
    "data",
    "labels",
  ],
  "services.content.v1.WriteContentResponse": [
    "action",
    "started_at",
    "updated_at",
    "offset",
    "total",
    "digest",
  ],
  "services.content.v1.AbortRequest": ["ref"],
  "services.images.v1.Image": ["name", "labels", "target", "created_at", "updated_at"],
  "services.images.v1.GetImageRequest": ["name"],
  "services.images.v1.GetImageResponse": ["image"],
  "services.images.v1.CreateImageRequest": ["image"],
  "services.images.v1.CreateImageResponse": ["image"],
  "services.images.v1.UpdateImageRequest": ["image", "update_mask"],
  "services.images.v1.UpdateImageResponse": ["image"],
  "services.images.v1.DeleteImageRequest": ["name", "sync"],
  "services.leases.v1.Lease": ["id", "created_at", "labels"],
  "services.leases.v1.CreateRequest": ["id", "labels"],
  "services.leases.v1.CreateResponse": ["lease"],
  "services.leases.v1.DeleteRequest": ["id", "sync"],
  "services.leases.v1.ListRequest": ["filters"],
  "services.leases.v1.ListResponse": ["leases"],
  "services.diff.v1.ApplyRequest": ["diff", "mounts", "payloads"],
  "services.diff.v1.ApplyResponse": ["applied"],
  "services.namespaces.v1.Namespace": ["name", "labels"],
  "services.namespaces.v1.GetNamespaceRequest": ["name"],
  "services.namespaces.v1.GetNamespaceResponse": ["namespace"],
  "services.snapshots.v1.Info": ["name", "parent", "kind", "created_at", "updated_at", "labels"],
  "services.snapshots.v1.PrepareSnapshotRequest": ["snapshotter", "key", "parent", "labels"],
  "services.snapshots.v1.PrepareSnapshotResponse": ["mounts"],
  "services.snapshots.v1.CommitSnapshotRequest": ["snapshotter", "name", "key", "labels"],
  "services.snapshots.v1.StatSnapshotRequest": ["snapshotter", "key"],
  "services.snapshots.v1.StatSnapshotResponse": ["info"],
  "services.snapshots.v1.RemoveSnapshotRequest": ["snapshotter", "key"],
} as const satisfies Record<string, readonly string[]>;

/** Compile-time link between the interfaces above and wireMessages. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Fields<K extends keyof typeof wireMessages> = (typeof wireMessages)[K][number];
const fieldCheck: {
  descriptor: Same<keyof WireDescriptor, Fields<"types.Descriptor">>;
  mount: Same<keyof WireMount, Fields<"types.Mount">>;
  info: Same<keyof ContentInfo, Fields<"services.content.v1.Info">>;
  update: Same<keyof ContentUpdateRequest, Fields<"services.content.v1.UpdateRequest">>;
  write: Same<keyof WriteContentRequest, Fields<"services.content.v1.WriteContentRequest">>;
  written: Same<keyof WriteContentResponse, Fields<"services.content.v1.WriteContentResponse">>;
  image: Same<keyof WireImage, Fields<"services.images.v1.Image">>;
  updateImage: Same<keyof UpdateImageRequest, Fields<"services.images.v1.UpdateImageRequest">>;
  deleteImage: Same<keyof DeleteImageRequest, Fields<"services.images.v1.DeleteImageRequest">>;
  lease: Same<keyof WireLease, Fields<"services.leases.v1.Lease">>;
  createLease: Same<keyof CreateLeaseRequest, Fields<"services.leases.v1.CreateRequest">>;
  deleteLease: Same<keyof DeleteLeaseRequest, Fields<"services.leases.v1.DeleteRequest">>;
  apply: Same<keyof ApplyRequest, Fields<"services.diff.v1.ApplyRequest">>;
  namespace: Same<keyof WireNamespace, Fields<"services.namespaces.v1.Namespace">>;
  snapshot: Same<keyof WireSnapshotInfo, Fields<"services.snapshots.v1.Info">>;
  prepare: Same<
    keyof PrepareSnapshotRequest,
    Fields<"services.snapshots.v1.PrepareSnapshotRequest">
  >;
  commit: Same<keyof CommitSnapshotRequest, Fields<"services.snapshots.v1.CommitSnapshotRequest">>;
  key: Same<keyof SnapshotKeyRequest, Fields<"services.snapshots.v1.StatSnapshotRequest">>;
} = {
  descriptor: true,
  mount: true,
  info: true,
  update: true,
  write: true,
  written: true,
  image: true,
  updateImage: true,
  deleteImage: true,
  lease: true,
  createLease: true,
  deleteLease: true,
  apply: true,
  namespace: true,
  snapshot: true,
  prepare: true,
  commit: true,
  key: true,
};
void fieldCheck;
