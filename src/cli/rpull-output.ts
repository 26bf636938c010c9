/**
 * What `stargz image rpull` prints: one line per layer as it is done and a
 * summary. On a terminal, aligned text; elsewhere, one JSON object per line
 * (`{"layer":…}` then `{"image":…}`) for scripts.
 */
import type { LayerOutcome, PullResult } from "../pull/index.ts";

export interface RpullOutput {
  layer(outcome: LayerOutcome, total: number): void;
  summary(result: PullResult): void;
}

export function rpullOutput(out: NodeJS.WritableStream, tty: boolean): RpullOutput {
  return tty ? textOutput(out) : jsonOutput(out);
}

function jsonOutput(out: NodeJS.WritableStream): RpullOutput {
  return {
    layer: (l, total) => {
      const line = {
        layer: l.digest,
        index: l.index,
        of: total,
        chainId: l.chainId,
        mode: l.mode,
        ...(l.reason !== undefined ? { reason: l.reason } : {}),
        bytesDownloaded: l.bytesDownloaded,
      };
      out.write(JSON.stringify(line) + "\n");
    },
    summary: (r) => out.write(JSON.stringify(summaryRecord(r)) + "\n"),
  };
}

function textOutput(out: NodeJS.WritableStream): RpullOutput {
  return {
    layer: (l, total) => {
      const reason = l.reason !== undefined ? ` (${l.reason})` : "";
      const n = `${l.index + 1}/${total}`.padStart(5);
      out.write(
        `${n} ${l.digest.slice(0, 19)}  ${l.mode.padEnd(8)} ${formatBytes(l.bytesDownloaded).padStart(9)}${reason}\n`,
      );
    },
    summary: (r) => {
      const s = summaryRecord(r);
      out.write(
        `${s.image}: ${s.remote} remote, ${s.fallback} fallback, ${s.present} already present; ` +
          `${formatBytes(s.bytesDownloaded)} downloaded; snapshotter ${s.snapshotter}, top ${s.chainId}\n`,
      );
    },
  };
}

function summaryRecord(r: PullResult) {
  const count = (mode: LayerOutcome["mode"]): number =>
    r.layers.filter((l) => l.mode === mode).length;
  return {
    image: r.name,
    digest: r.target.digest,
    snapshotter: r.snapshotter,
    chainId: r.chainId,
    layers: r.layers.length,
    remote: count("remote"),
    fallback: count("fallback"),
    present: count("present"),
    bytesDownloaded: r.bytesDownloaded,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
