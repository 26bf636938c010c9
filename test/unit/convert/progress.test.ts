import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { logProgress, terminalProgress } from "../../../src/convert/progress.ts";
import { createLimiter } from "../../../src/convert/limiter.ts";
import { createLogger } from "../../../src/util/log.ts";

const layer = "sha256:" + "ab".repeat(32);

test("terminal progress redraws one line per layer with bytes read and written", () => {
  let text = "";
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const p = terminalProgress(out, 10_000);
  p.layerStarted(layer, 4 << 20);
  p.layerRead(layer, 1 << 20);
  p.layerWritten(layer, 512 << 10);
  p.layerDone(layer, "converted", "sha256:" + "cd".repeat(32));
  p.finish();
  assert.match(text, /abababababab {2}converted +read 4\.0MiB\/4\.0MiB \(100%\) {2}wrote 0\.5MiB/);
});

test("plain progress logs one line per layer start and end", () => {
  const lines: string[] = [];
  const p = logProgress(createLogger({ write: (l) => lines.push(l) }));
  p.layerStarted(layer, 10);
  p.layerRead(layer, 5);
  p.layerDone(layer, "reused", layer);
  assert.equal(lines.length, 2);
  assert.match(lines[1] ?? "", /"outcome":"reused"/);
});

test("the limiter never runs more than its limit at once", async () => {
  const limit = createLimiter(2);
  let active = 0;
  let peak = 0;
  const task = async (): Promise<void> => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 5));
    active--;
  };
  await Promise.all(Array.from({ length: 7 }, () => limit(task)));
  assert.equal(peak, 2);
});
