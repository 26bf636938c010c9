/**
 * Loads the containerd API protos under /proto (ours, written from
 * containerd's api/) with the decoding options wire-types.ts is written
 * against: field names as in the .proto, int64 as numbers, enums as strings,
 * defaults filled in.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const containerdProtoFiles = [
  "containerd/services/content/v1/content.proto",
  "containerd/services/images/v1/images.proto",
  "containerd/services/leases/v1/leases.proto",
  "containerd/services/diff/v1/diff.proto",
  "containerd/services/namespaces/v1/namespace.proto",
  "containerd/services/snapshots/v1/snapshots.proto",
] as const;

export const serviceNames = {
  content: "containerd.services.content.v1.Content",
  images: "containerd.services.images.v1.Images",
  leases: "containerd.services.leases.v1.Leases",
  diff: "containerd.services.diff.v1.Diff",
  namespaces: "containerd.services.namespaces.v1.Namespaces",
  snapshots: "containerd.services.snapshots.v1.Snapshots",
} as const;

export type ServiceKey = keyof typeof serviceNames;

const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: false,
};

/** The proto directory from the source tree (src/...) or the build (dist/src/...). */
export function containerdProtoDir(): string {
  for (const rel of ["../../proto", "../../../proto"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/${containerdProtoFiles[0]}`)) return dir;
  }
  throw new Error("proto directory not found next to the containerd client");
}

export function loadContainerdPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...containerdProtoFiles], {
    ...loaderOptions,
    includeDirs: [containerdProtoDir()],
  });
}

/** One generic client constructor per service, from one load of the protos. */
export function serviceConstructors(): Record<ServiceKey, grpc.ServiceClientConstructor> {
  const pkg = loadContainerdPackage();
  const make = (key: ServiceKey): grpc.ServiceClientConstructor =>
    grpc.makeGenericClientConstructor(pkg[serviceNames[key]] as grpc.ServiceDefinition, key);
  return {
    content: make("content"),
    images: make("images"),
    leases: make("leases"),
    diff: make("diff"),
    namespaces: make("namespaces"),
    snapshots: make("snapshots"),
  };
}
