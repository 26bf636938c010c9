/**
 * An in-process Snapshotter served on a unix socket under a temp dir, with a
 * grpc-js client: the tests talk to it exactly as containerd would.
 */
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../../support/tmp.ts";
import { snapshotsClient, type SnapshotsClient } from "../../support/snapshots-client.ts";
import { unmountUnder } from "../../support/mounts.ts";
import { serveSnapshots, type SnapshotServer } from "../../../src/agent/snapshot/grpc-server.ts";
import { Snapshotter, type SnapshotterOptions } from "../../../src/agent/snapshot/snapshotter.ts";
import { silentLogger } from "../../../src/util/log.ts";

export interface Fixture {
  readonly tmp: TempDir;
  readonly root: string;
  readonly socket: string;
  readonly client: SnapshotsClient;
  snapshotter: Snapshotter;
  server: SnapshotServer;
  /** Closes server and snapshotter and opens them again on the same root. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startFixture(options: Partial<SnapshotterOptions> = {}): Promise<Fixture> {
  const tmp = await makeTempDir("sgz-unit-");
  const root = join(tmp.path, "root");
  const socket = join(tmp.path, "s.sock");
  const open = async (): Promise<[Snapshotter, SnapshotServer]> => {
    const sn = await Snapshotter.open({ root, logger: silentLogger(), ...options });
    return [sn, await serveSnapshots(socket, sn, silentLogger())];
  };
  const [snapshotter, server] = await open();
  const client = snapshotsClient(socket);
  const fixture: Fixture = {
    tmp,
    root,
    socket,
    client,
    snapshotter,
    server,
    restart: async () => {
      await fixture.server.close();
      await fixture.snapshotter.close();
      [fixture.snapshotter, fixture.server] = await open();
    },
    close: async () => {
      client.close();
      await fixture.server.close(1000);
      await fixture.snapshotter.close();
      await unmountUnder(tmp.path);
      await tmp.remove();
    },
  };
  return fixture;
}

/** Asserts that `promise` rejects with gRPC status `code` (a grpc.status number). */
export async function rejectsWith(promise: Promise<unknown>, code: number): Promise<void> {
  try {
    await promise;
  } catch (err) {
    const got = (err as { code?: number }).code;
    if (got === code) return;
    throw new Error(`expected gRPC code ${code}, got ${got}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  throw new Error(`expected gRPC code ${code}, but the call succeeded`);
}
