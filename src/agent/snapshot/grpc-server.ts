/**
 * Serves the Snapshots service on a unix socket. close() stops accepting,
 * lets in-flight calls finish (up to graceMs), then forces the rest.
 */
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { StargzError } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { snapshotsHandlers } from "./grpc-service.ts";
import { snapshotsService } from "./proto-definition.ts";
import type { Snapshotter } from "./snapshotter.ts";

export interface SnapshotServer {
  readonly address: string;
  close(graceMs?: number): Promise<void>;
}

export async function serveSnapshots(
  socketPath: string,
  sn: Snapshotter,
  log: Logger,
): Promise<SnapshotServer> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o711 });
  await rm(socketPath, { force: true });
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
    // Channelz bookkeeping costs on every call and nobody reads it here.
    "grpc.enable_channelz": 0,
  });
  server.addService(snapshotsService(), snapshotsHandlers(sn, log));
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => {
      if (err)
        reject(
          new StargzError("UNAVAILABLE", "cannot listen", {
            cause: err,
            context: { path: socketPath },
          }),
        );
      else resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    address: socketPath,
    close: (graceMs = 10000) => (closing ??= shutdown(server, socketPath, graceMs)),
  };
}

async function shutdown(server: grpc.Server, socketPath: string, graceMs: number): Promise<void> {
  const timer = setTimeout(() => server.forceShutdown(), graceMs);
  try {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  } finally {
    clearTimeout(timer);
  }
  await rm(socketPath, { force: true });
}
