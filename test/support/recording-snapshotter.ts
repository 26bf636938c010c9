/**
 * A stand-in remote snapshotter for containerd's proxy plugin, for tests:
 * it records every Prepare (key, parent, labels) and answers the way a
 * remote snapshotter does when it mounted a layer: it commits a snapshot
 * under the target name (containerd.io/snapshot.ref) and answers
 * ALREADY_EXISTS. It mounts nothing, so containers cannot run on it; it
 * shows exactly which labels reach a snapshotter through containerd.
 */
import * as grpc from "@grpc/grpc-js";
import { loadContainerdPackage } from "../../src/containerd/proto-definition.ts";

export interface RecordedPrepare {
  key: string;
  parent: string;
  labels: Record<string, string>;
}

interface Info {
  name: string;
  parent: string;
  kind: "ACTIVE" | "COMMITTED";
  labels: Record<string, string>;
}

export interface RecordingSnapshotter {
  readonly socket: string;
  readonly prepares: RecordedPrepare[];
  stop(): Promise<void>;
}

type Callback = (err: Partial<grpc.ServiceError> | null, res?: unknown) => void;
type Call = { request: Record<string, unknown> };

function fail(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details };
}

export async function startRecordingSnapshotter(socket: string): Promise<RecordingSnapshotter> {
  const pkg = loadContainerdPackage();
  const def = pkg["containerd.services.snapshots.v1.Snapshots"] as grpc.ServiceDefinition;
  const snaps = new Map<string, Info>();
  const prepares: RecordedPrepare[] = [];
  const wire = (i: Info): unknown => ({ ...i, created_at: null, updated_at: null });
  const server = new grpc.Server();
  server.addService(def, {
    Prepare: (call: Call, cb: Callback) => {
      const { key, parent, labels } = call.request as unknown as RecordedPrepare;
      prepares.push({ key, parent, labels: { ...labels } });
      const target = labels["containerd.io/snapshot.ref"];
      if (target === undefined)
        return cb(fail(grpc.status.FAILED_PRECONDITION, "only remote layers here"));
      snaps.set(target, {
        name: target,
        parent,
        kind: "COMMITTED",
        labels: { ...labels, "containerd.io/snapshot/remote": "remote snapshot" },
      });
      cb(fail(grpc.status.ALREADY_EXISTS, `target snapshot "${target}": already exists`));
    },
    Stat: (call: Call, cb: Callback) => {
      const info = snaps.get(String(call.request.key));
      if (!info) return cb(fail(grpc.status.NOT_FOUND, "snapshot does not exist"));
      cb(null, { info: wire(info) });
    },
    List: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      call.write({ info: [...snaps.values()].map(wire) });
      call.end();
    },
    Remove: (call: Call, cb: Callback) => {
      snaps.delete(String(call.request.key));
      cb(null, {});
    },
    Update: (call: Call, cb: Callback) => {
      const req = call.request as { info: Info };
      const info = snaps.get(req.info.name);
      if (!info) return cb(fail(grpc.status.NOT_FOUND, "snapshot does not exist"));
      info.labels = { ...info.labels, ...req.info.labels };
      cb(null, { info: wire(info) });
    },
    Usage: (_call: Call, cb: Callback) => cb(null, { size: 0, inodes: 0 }),
    Cleanup: (_call: Call, cb: Callback) => cb(null, {}),
    Mounts: (_call: Call, cb: Callback) => cb(fail(grpc.status.UNIMPLEMENTED, "no mounts here")),
    View: (_call: Call, cb: Callback) => cb(fail(grpc.status.UNIMPLEMENTED, "no views here")),
    Commit: (_call: Call, cb: Callback) => cb(fail(grpc.status.UNIMPLEMENTED, "nothing to commit")),
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    socket,
    prepares,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
