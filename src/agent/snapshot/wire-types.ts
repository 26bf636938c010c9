/**
 * The messages of containerd.services.snapshots.v1 as @grpc/proto-loader
 * decodes and encodes them with the options in proto-definition.ts
 * (keepCase, enums as strings, int64 as numbers, defaults filled in).
 * test/unit/snapshot/wire-types.test.ts checks these against the .proto files.
 */

export type WireKind = "UNKNOWN" | "VIEW" | "ACTIVE" | "COMMITTED";

export interface WireMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface WireTimestamp {
  seconds: number;
  nanos: number;
}

export interface WireInfo {
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
export type ViewSnapshotRequest = PrepareSnapshotRequest;

export interface MountsResponse {
  mounts: WireMount[];
}
export type PrepareSnapshotResponse = MountsResponse;
export type ViewSnapshotResponse = MountsResponse;

export interface KeyRequest {
  snapshotter: string;
  key: string;
}
export type MountsRequest = KeyRequest;
export type RemoveSnapshotRequest = KeyRequest;
export type StatSnapshotRequest = KeyRequest;
export type UsageRequest = KeyRequest;

export interface CommitSnapshotRequest {
  snapshotter: string;
  name: string;
  key: string;
  labels: Record<string, string>;
}

export interface InfoResponse {
  info: WireInfo | null;
}
export type StatSnapshotResponse = InfoResponse;
export type UpdateSnapshotResponse = InfoResponse;

export interface UpdateSnapshotRequest {
  snapshotter: string;
  info: WireInfo | null;
  update_mask: { paths: string[] } | null;
}

export interface ListSnapshotsRequest {
  snapshotter: string;
  filters: string[];
}

export interface ListSnapshotsResponse {
  info: WireInfo[];
}

export interface UsageResponse {
  size: number;
  inodes: number;
}

export interface CleanupRequest {
  snapshotter: string;
}

/** Request and response message names per method, for the proto check. */
export const wireMessages = {
  PrepareSnapshotRequest: ["snapshotter", "key", "parent", "labels"],
  PrepareSnapshotResponse: ["mounts"],
  ViewSnapshotRequest: ["snapshotter", "key", "parent", "labels"],
  ViewSnapshotResponse: ["mounts"],
  MountsRequest: ["snapshotter", "key"],
  MountsResponse: ["mounts"],
  RemoveSnapshotRequest: ["snapshotter", "key"],
  CommitSnapshotRequest: ["snapshotter", "name", "key", "labels"],
  StatSnapshotRequest: ["snapshotter", "key"],
  StatSnapshotResponse: ["info"],
  Info: ["name", "parent", "kind", "created_at", "updated_at", "labels"],
  UpdateSnapshotRequest: ["snapshotter", "info", "update_mask"],
  UpdateSnapshotResponse: ["info"],
  ListSnapshotsRequest: ["snapshotter", "filters"],
  ListSnapshotsResponse: ["info"],
  UsageRequest: ["snapshotter", "key"],
  UsageResponse: ["size", "inodes"],
  CleanupRequest: ["snapshotter"],
} as const satisfies Record<string, readonly string[]>;

/** Compile-time link between the interfaces above and wireMessages. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const fieldCheck: {
  prepare: Same<keyof PrepareSnapshotRequest, (typeof wireMessages.PrepareSnapshotRequest)[number]>;
  commit: Same<keyof CommitSnapshotRequest, (typeof wireMessages.CommitSnapshotRequest)[number]>;
  info: Same<keyof WireInfo, (typeof wireMessages.Info)[number]>;
  update: Same<keyof UpdateSnapshotRequest, (typeof wireMessages.UpdateSnapshotRequest)[number]>;
  list: Same<keyof ListSnapshotsRequest, (typeof wireMessages.ListSnapshotsRequest)[number]>;
  usage: Same<keyof UsageResponse, (typeof wireMessages.UsageResponse)[number]>;
  key: Same<keyof KeyRequest, (typeof wireMessages.MountsRequest)[number]>;
  mount: Same<keyof WireMount, "type" | "source" | "target" | "options">;
} = {
  prepare: true,
  commit: true,
  info: true,
  update: true,
  list: true,
  usage: true,
  key: true,
  mount: true,
};
void fieldCheck;
