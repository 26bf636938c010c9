/**
 * The gRPC adapter: decodes containerd's requests, calls the Snapshotter and
 * encodes its results. Errors are mapped to gRPC status here and nowhere else.
 * Each call gets an AbortSignal that fires when the client cancels.
 */
import * as grpc from "@grpc/grpc-js";
import { StargzError } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { grpcStatusOf, toServiceError } from "./grpc-status.ts";
import type { Snapshotter } from "./snapshotter.ts";
import type { Kind, Mount, SnapshotInfo } from "./types.ts";
import type * as W from "./wire-types.ts";

/** How many Info messages go into one List response message. */
const listBatch = 100;

type Handler<Req, Res> = (req: Req, signal: AbortSignal) => Promise<Res>;

export function snapshotsHandlers(sn: Snapshotter, log: Logger): grpc.UntypedServiceImplementation {
  return {
    Prepare: unary<W.PrepareSnapshotRequest, W.PrepareSnapshotResponse>(
      log,
      "Prepare",
      async (r, signal) => ({
        mounts: toWireMounts(await sn.prepare(need(r.key, "key"), r.parent, r.labels, { signal })),
      }),
    ),
    View: unary<W.ViewSnapshotRequest, W.ViewSnapshotResponse>(log, "View", async (r) => ({
      mounts: toWireMounts(await sn.view(need(r.key, "key"), r.parent, r.labels)),
    })),
    Mounts: unary<W.MountsRequest, W.MountsResponse>(log, "Mounts", async (r) => ({
      mounts: toWireMounts(await sn.mounts(need(r.key, "key"))),
    })),
    Commit: unary<W.CommitSnapshotRequest, object>(log, "Commit", async (r, signal) => {
      await sn.commit(need(r.name, "name"), need(r.key, "key"), r.labels, { signal });
      return {};
    }),
    Remove: unary<W.RemoveSnapshotRequest, object>(log, "Remove", async (r) => {
      await sn.remove(need(r.key, "key"));
      return {};
    }),
    Stat: unary<W.StatSnapshotRequest, W.StatSnapshotResponse>(log, "Stat", async (r) => ({
      info: toWireInfo(await sn.stat(need(r.key, "key"))),
    })),
    Update: unary<W.UpdateSnapshotRequest, W.UpdateSnapshotResponse>(log, "Update", async (r) => {
      const info = r.info ?? invalid("info is required");
      const updated = await sn.update(
        need(info.name, "info.name"),
        info.labels,
        r.update_mask?.paths ?? [],
      );
      return { info: toWireInfo(updated) };
    }),
    List: list(sn, log),
    Usage: unary<W.UsageRequest, W.UsageResponse>(log, "Usage", async (r, signal) =>
      sn.usage(need(r.key, "key"), { signal }),
    ),
    Cleanup: unary<W.CleanupRequest, object>(log, "Cleanup", async () => {
      await sn.cleanup();
      return {};
    }),
  };
}

function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: Handler<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const abort = new AbortController();
    call.on("cancelled", () =>
      abort.abort(new StargzError("CANCELLED", "call cancelled by the client")),
    );
    fn(call.request, abort.signal).then(
      (res) => callback(null, res),
      (err: unknown) => {
        logFailure(log, method, err);
        callback(toServiceError(err));
      },
    );
  };
}

function list(
  sn: Snapshotter,
  log: Logger,
): grpc.handleServerStreamingCall<W.ListSnapshotsRequest, W.ListSnapshotsResponse> {
  return (call) => {
    const send = async (): Promise<void> => {
      const infos = await sn.list(call.request.filters);
      for (let i = 0; i < infos.length; i += listBatch) {
        if (call.cancelled) return;
        call.write({ info: infos.slice(i, i + listBatch).map(toWireInfo) });
      }
    };
    send().then(
      () => call.end(),
      (err: unknown) => {
        logFailure(log, "List", err);
        call.emit("error", toServiceError(err));
      },
    );
  };
}

/** Expected outcomes (not found, exists...) at debug; the rest as errors. */
function logFailure(log: Logger, method: string, err: unknown): void {
  const code = grpcStatusOf(err);
  const expected = err instanceof StargzError && err.code !== "INTERNAL";
  (expected ? log.debug : log.error)("snapshot call failed", {
    method,
    code: grpc.status[code],
    error: err,
  });
}

function need(value: string, field: string): string {
  if (value === "") invalid(`${field} is required`);
  return value;
}

function invalid(message: string): never {
  throw new StargzError("INVALID_ARGUMENT", message);
}

const wireKind: Record<Kind, W.WireKind> = {
  view: "VIEW",
  active: "ACTIVE",
  committed: "COMMITTED",
};

export function toWireInfo(info: SnapshotInfo): W.WireInfo {
  return {
    name: info.name,
    parent: info.parent,
    kind: wireKind[info.kind],
    created_at: toTimestamp(info.createdUs),
    updated_at: toTimestamp(info.updatedUs),
    labels: { ...info.labels },
  };
}

function toTimestamp(us: number): W.WireTimestamp {
  return { seconds: Math.floor(us / 1e6), nanos: (us % 1e6) * 1000 };
}

function toWireMounts(mounts: readonly Mount[]): W.WireMount[] {
  return mounts.map((m) => ({
    type: m.type,
    source: m.source,
    target: "",
    options: [...m.options],
  }));
}
