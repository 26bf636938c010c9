import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { rpullOutput } from "../../../src/cli/rpull-output.ts";
import type { LayerOutcome, PullResult } from "../../../src/pull/index.ts";

const layers: LayerOutcome[] = [
  {
    index: 0,
    digest: "sha256:" + "a".repeat(64),
    chainId: "sha256:" + "c".repeat(64),
    mode: "remote",
    bytesDownloaded: 0,
  },
  {
    index: 1,
    digest: "sha256:" + "b".repeat(64),
    chainId: "sha256:" + "d".repeat(64),
    mode: "fallback",
    reason: "not eStargz",
    bytesDownloaded: 3 * 1024 * 1024,
  },
];
const result: PullResult = {
  name: "r.io/app:1",
  target: {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: "sha256:" + "e".repeat(64),
    size: 1,
  },
  manifest: {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: "sha256:" + "e".repeat(64),
    size: 1,
  },
  config: {
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest: "sha256:" + "f".repeat(64),
    size: 1,
  },
  chainId: "sha256:" + "d".repeat(64),
  snapshotter: "stargz",
  layers,
  bytesDownloaded: 3 * 1024 * 1024 + 500,
};

function capture(tty: boolean): string {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const printer = rpullOutput(out, tty);
  for (const l of layers) printer.layer(l, 2);
  printer.summary(result);
  return Buffer.concat(chunks).toString();
}

test("JSON lines: one per layer, then the summary", () => {
  const lines = capture(false)
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines[0], {
    layer: layers[0]!.digest,
    index: 0,
    of: 2,
    chainId: layers[0]!.chainId,
    mode: "remote",
    bytesDownloaded: 0,
  });
  assert.equal(lines[1]!.reason, "not eStargz");
  assert.deepEqual(lines[2], {
    image: "r.io/app:1",
    digest: result.target.digest,
    snapshotter: "stargz",
    chainId: result.chainId,
    layers: 2,
    remote: 1,
    fallback: 1,
    present: 0,
    bytesDownloaded: 3 * 1024 * 1024 + 500,
  });
});

test("text: aligned layer lines with mode, size and reason, then a summary sentence", () => {
  const text = capture(true).split("\n");
  assert.match(text[0]!, /^\s+1\/2 sha256:aaaaaaaaaaaa\s+remote\s+0 B$/);
  assert.match(text[1]!, /^\s+2\/2 sha256:bbbbbbbbbbbb\s+fallback\s+3\.0 MiB \(not eStargz\)$/);
  assert.match(
    text[2]!,
    /^r\.io\/app:1: 1 remote, 1 fallback, 0 already present; 3\.0 MiB downloaded/,
  );
});
