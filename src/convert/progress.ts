/**
 * Conversion progress. On a terminal: one line per layer, redrawn in place
 * (bytes read from the source, bytes written as eStargz). Elsewhere: one log
 * line when a layer starts and when it ends.
 */
import type { Logger } from "../util/log.ts";

export type LayerOutcomeKind = "converted" | "reused" | "already-estargz";

export interface ConvertProgress {
  layerStarted(layer: string, size: number): void;
  layerRead(layer: string, bytes: number): void;
  layerWritten(layer: string, bytes: number): void;
  layerDone(layer: string, outcome: LayerOutcomeKind, newDigest: string): void;
  finish(): void;
}

export const silentProgress: ConvertProgress = {
  layerStarted: () => {},
  layerRead: () => {},
  layerWritten: () => {},
  layerDone: () => {},
  finish: () => {},
};

export function logProgress(logger: Logger): ConvertProgress {
  const sizes = new Map<string, number>();
  return {
    ...silentProgress,
    layerStarted: (layer, size) => {
      sizes.set(layer, size);
      logger.info("converting layer", { layer, size });
    },
    layerDone: (layer, outcome, newDigest) =>
      logger.info("layer done", { layer, outcome, digest: newDigest }),
  };
}

interface Row {
  layer: string;
  size: number;
  read: number;
  written: number;
  state: string;
}

export function terminalProgress(out: NodeJS.WritableStream, intervalMs = 200): ConvertProgress {
  const rows: Row[] = [];
  let drawn = 0;
  const find = (layer: string): Row | undefined => rows.find((r) => r.layer === layer);
  const draw = (): void => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const r of rows) {
      const pct = r.size > 0 ? Math.floor((r.read / r.size) * 100) : 0;
      text += `\x1b[2K${r.layer.slice(7, 19)}  ${r.state.padEnd(15)} read ${mib(r.read)}/${mib(r.size)} (${pct}%)  wrote ${mib(r.written)}\n`;
    }
    drawn = rows.length;
    out.write(text);
  };
  const timer = setInterval(draw, intervalMs);
  timer.unref();
  return {
    layerStarted: (layer, size) => {
      rows.push({ layer, size, read: 0, written: 0, state: "converting" });
    },
    layerRead: (layer, bytes) => {
      const r = find(layer);
      if (r) r.read = bytes;
    },
    layerWritten: (layer, bytes) => {
      const r = find(layer);
      if (r) r.written = bytes;
    },
    layerDone: (layer, outcome) => {
      const r = find(layer);
      if (r) {
        r.state = outcome;
        r.read = r.size;
      }
    },
    finish: () => {
      clearInterval(timer);
      draw();
    },
  };
}

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)}MiB`;
}
