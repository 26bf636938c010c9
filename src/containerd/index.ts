/** A client for containerd's gRPC API: content, images, leases, snapshots, diff, namespaces. */
export * from "./containerd-client.ts";
export * from "./content-client.ts";
export * from "./images-client.ts";
export * from "./leases-client.ts";
export * from "./snapshots-client.ts";
export * from "./diff-client.ts";
export * from "./namespaces-client.ts";
export type { CallOptions } from "./rpc.ts";
export type * from "./wire-types.ts";
