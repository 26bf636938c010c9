/**
 * A promise-based grpc-js client for containerd.services.snapshots.v1, used
 * by tests and the benchmark against our agent or containerd's own service.
 */
import * as grpc from "@grpc/grpc-js";
import { snapshotsClientConstructor } from "../../src/agent/snapshot/proto-definition.ts";
import type * as W from "../../src/agent/snapshot/wire-types.ts";

export interface SnapshotsClient {
  prepare(key: string, parent?: string, labels?: Record<string, string>): Promise<W.WireMount[]>;
  view(key: string, parent?: string, labels?: Record<string, string>): Promise<W.WireMount[]>;
  mounts(key: string): Promise<W.WireMount[]>;
  commit(name: string, key: string, labels?: Record<string, string>): Promise<void>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<W.WireInfo>;
  update(info: Partial<W.WireInfo> & { name: string }, paths?: string[]): Promise<W.WireInfo>;
  list(filters?: string[]): Promise<W.WireInfo[]>;
  usage(key: string): Promise<W.UsageResponse>;
  cleanup(): Promise<void>;
  close(): void;
}

export interface ClientOptions {
  /** Sent as the request's snapshotter field ("overlayfs" when talking to containerd). */
  snapshotter?: string;
  /** containerd namespace header, needed when talking to containerd itself. */
  namespace?: string;
}

export function snapshotsClient(socketPath: string, options: ClientOptions = {}): SnapshotsClient {
  const Ctor = snapshotsClientConstructor();
  const client = new Ctor(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.enable_channelz": 0,
  });
  const snapshotter = options.snapshotter ?? "stargz";
  const md = new grpc.Metadata();
  if (options.namespace) md.set("containerd-namespace", options.namespace);
  const call = <Res>(method: string, req: object): Promise<Res> =>
    new Promise((resolve, reject) => {
      const fn = client[method] as (
        r: object,
        m: grpc.Metadata,
        cb: (e: grpc.ServiceError | null, r: Res) => void,
      ) => void;
      fn.call(client, { snapshotter, ...req }, md, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  return {
    prepare: async (key, parent = "", labels = {}) =>
      (await call<W.MountsResponse>("Prepare", { key, parent, labels })).mounts,
    view: async (key, parent = "", labels = {}) =>
      (await call<W.MountsResponse>("View", { key, parent, labels })).mounts,
    mounts: async (key) => (await call<W.MountsResponse>("Mounts", { key })).mounts,
    commit: async (name, key, labels = {}) => void (await call("Commit", { name, key, labels })),
    remove: async (key) => void (await call("Remove", { key })),
    stat: async (key) => (await call<W.InfoResponse>("Stat", { key })).info as W.WireInfo,
    update: async (info, paths) =>
      (await call<W.InfoResponse>("Update", { info, update_mask: paths ? { paths } : null }))
        .info as W.WireInfo,
    list: (filters = []) =>
      new Promise((resolve, reject) => {
        const out: W.WireInfo[] = [];
        const stream = (
          client.List as (
            r: object,
            m: grpc.Metadata,
          ) => grpc.ClientReadableStream<W.ListSnapshotsResponse>
        ).call(client, { snapshotter, filters }, md);
        stream.on("data", (m: W.ListSnapshotsResponse) => out.push(...m.info));
        stream.on("error", reject);
        stream.on("end", () => resolve(out));
      }),
    usage: (key) => call<W.UsageResponse>("Usage", { key }),
    cleanup: async () => void (await call("Cleanup", {})),
    close: () => client.close(),
  };
}
