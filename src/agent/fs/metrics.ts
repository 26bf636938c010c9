/**
 * The layer filesystem's metrics, registered on a registry the caller owns.
 * Labels are bounded sets (fetch kind, cache tier, error reason); never a
 * digest or a path.
 */
import { Counter, Histogram, type Registry } from "prom-client";

export type FetchKind = "on_demand" | "prefetch" | "background";
export type ErrorReason = "timeout" | "source" | "verification" | "aborted";

export interface LayerFsMetrics {
  fetchedBytes: Counter<"kind">;
  fetchRequests: Counter<"kind">;
  fetchSeconds: Histogram<"kind">;
  cacheLookups: Counter<"tier" | "result">;
  fetchErrors: Counter<"reason">;
}

export function createLayerFsMetrics(registry: Registry): LayerFsMetrics {
  const registers = [registry];
  return {
    fetchedBytes: new Counter({
      name: "stargz_fs_fetched_bytes_total",
      help: "Compressed layer bytes fetched from the blob source",
      labelNames: ["kind"],
      registers,
    }),
    fetchRequests: new Counter({
      name: "stargz_fs_fetch_requests_total",
      help: "Range requests sent to the blob source",
      labelNames: ["kind"],
      registers,
    }),
    fetchSeconds: new Histogram({
      name: "stargz_fs_fetch_seconds",
      help: "Time to fetch, inflate and verify one batch of chunks",
      labelNames: ["kind"],
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    cacheLookups: new Counter({
      name: "stargz_fs_cache_lookups_total",
      help: "Chunk cache lookups by tier (memory, disk) and result (hit, miss, corrupt)",
      labelNames: ["tier", "result"],
      registers,
    }),
    fetchErrors: new Counter({
      name: "stargz_fs_fetch_errors_total",
      help: "Failed chunk fetches by reason",
      labelNames: ["reason"],
      registers,
    }),
  };
}
