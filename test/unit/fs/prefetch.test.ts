import assert from "node:assert/strict";
import { test } from "node:test";
import { openLayer } from "../../../src/estargz/index.ts";
import { batchChunks, chunksWithin, prefetchSpan } from "../../../src/agent/fs/prefetch.ts";
import { chunkKey } from "../../../src/agent/fs/chunk-cache.ts";
import { buildTestLayer } from "../../support/layer-fs.ts";
import { memoryBlob } from "../../support/memory-blob.ts";
import { noise } from "../../support/tar-builder.ts";

const entries = [
  { type: "reg" as const, name: "a", content: noise(3000, 1) },
  { type: "reg" as const, name: "b", content: noise(3000, 2) },
  { type: "reg" as const, name: "c", content: noise(3000, 3) },
];

test("prefetch covers everything before .prefetch.landmark and its chunks", async () => {
  const layer = await buildTestLayer(entries, { prioritizedFiles: ["b"] });
  const reader = await openLayer(memoryBlob(layer.blob));
  const span = prefetchSpan(reader)!;
  const landmark = reader.lookup(".prefetch.landmark")!;
  assert.deepEqual(span, { start: 0, end: landmark.chunks[0]!.compressedOffset });
  assert.deepEqual(
    chunksWithin(reader, span).map((c) => c.path),
    ["b"],
  );
});

test("a .no.prefetch.landmark layer has no prefetch", async () => {
  const layer = await buildTestLayer(entries);
  const reader = await openLayer(memoryBlob(layer.blob));
  assert.ok(reader.lookup(".no.prefetch.landmark"));
  assert.equal(prefetchSpan(reader), undefined);
});

test("batchChunks groups chunks in blob order up to a byte budget", async () => {
  const layer = await buildTestLayer(entries, { chunkSize: 1000 });
  const reader = await openLayer(memoryBlob(layer.blob));
  const chunks = reader.index.allChunks;
  const batches = batchChunks(chunks, 3000);
  assert.deepEqual(batches.flat(), [...chunks]);
  for (const batch of batches) {
    const bytes = batch.reduce((sum, c) => sum + c.compressedEnd - c.compressedOffset, 0);
    assert.ok(batch.length === 1 || bytes <= 3000);
  }
  assert.ok(batches.length > 1);
});

test("chunk keys are the chunk digest, or layer-scoped without one", () => {
  const ref = {
    path: "a",
    chunkOffset: 0,
    chunkSize: 5,
    compressedOffset: 10,
    compressedEnd: 20,
    innerOffset: 0,
  };
  assert.equal(
    chunkKey({ ...ref, digest: "sha256:" + "ab".repeat(32) }, "sha256:ff"),
    "ab".repeat(32),
  );
  assert.equal(chunkKey({ ...ref, digest: undefined }, "sha256:ff"), "ff-10-0-5");
});
