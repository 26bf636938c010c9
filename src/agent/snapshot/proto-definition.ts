/**
 * Loads /proto (ours, written from containerd's API) with the decoding options
 * wire-types.ts is written against.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const snapshotsProtoFile = "containerd/services/snapshots/v1/snapshots.proto";
export const snapshotsServiceName = "containerd.services.snapshots.v1.Snapshots";

export const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: false,
};

/** The proto directory from the source tree (src/...) or the build (dist/src/...). */
export function protoDir(): string {
  for (const rel of ["../../../proto", "../../../../proto"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/${snapshotsProtoFile}`)) return dir;
  }
  throw new Error("proto directory not found next to the agent");
}

export function loadSnapshotsPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(snapshotsProtoFile, { ...loaderOptions, includeDirs: [protoDir()] });
}

export function snapshotsService(): grpc.ServiceDefinition {
  return loadSnapshotsPackage()[snapshotsServiceName] as grpc.ServiceDefinition;
}

/** A generic client constructor for tests and the benchmark. */
export function snapshotsClientConstructor(): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(snapshotsService(), "Snapshots");
}
