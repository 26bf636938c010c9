/** Counters of the remote-snapshot path, on the agent's one prom-client registry. Labels are bounded. */
import { Counter, type Registry } from "prom-client";
import type { FallbackReason } from "./fallback-reason.ts";

export interface RemoteMetrics {
  /** Layers mounted remotely. */
  mounted(): void;
  /** Layers that fell back to unpacking, by reason. */
  fallback(reason: FallbackReason): void;
  /** Remote snapshots that could not be remounted at start, by reason. */
  restoreFailed(reason: FallbackReason): void;
  /** Availability checks: ok, refreshed (ok after one refresh), failed. */
  check(result: "ok" | "refreshed" | "failed"): void;
}

export function createRemoteMetrics(registry: Registry): RemoteMetrics {
  const mounts = new Counter({
    name: "stargz_remote_mounts_total",
    help: "Layers mounted remotely (lazily) instead of unpacked",
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: "stargz_remote_fallbacks_total",
    help: "Layers that could not be mounted remotely and were unpacked by containerd, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  const restores = new Counter({
    name: "stargz_remote_restore_failures_total",
    help: "Remote snapshots that could not be remounted when the agent started, by reason",
    labelNames: ["reason"],
    registers: [registry],
  });
  const checks = new Counter({
    name: "stargz_remote_checks_total",
    help: "Availability checks of remote layers before returning mounts, by result",
    labelNames: ["result"],
    registers: [registry],
  });
  return {
    mounted: () => mounts.inc(),
    fallback: (reason) => fallbacks.inc({ reason }),
    restoreFailed: (reason) => restores.inc({ reason }),
    check: (result) => checks.inc({ result }),
  };
}

/** For callers without a registry (tests). */
export function noRemoteMetrics(): RemoteMetrics {
  return { mounted: () => {}, fallback: () => {}, restoreFailed: () => {}, check: () => {} };
}
