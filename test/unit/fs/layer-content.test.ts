/** LayerContent, prefetch and background fetch without FUSE: a layer in memory and a scripted source. */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { openLayer, type LayerReader } from "../../../src/estargz/index.ts";
import { ChunkCache } from "../../../src/agent/fs/chunk-cache.ts";
import { LayerContent } from "../../../src/agent/fs/layer-content.ts";
import { LayerState } from "../../../src/agent/fs/layer-state.ts";
import { runBackgroundFetch, runPrefetch } from "../../../src/agent/fs/prefetch.ts";
import { isErrorCode } from "../../../src/util/errors.ts";
import { silentLogger } from "../../../src/util/log.ts";
import {
  buildTestLayer,
  testSource,
  type TestLayer,
  type TestSource,
} from "../../support/layer-fs.ts";
import { memoryBlob } from "../../support/memory-blob.ts";
import { noise } from "../../support/tar-builder.ts";

const CHUNK = 8 << 10;
const files = Array.from({ length: 8 }, (_, i) => ({
  name: `f${i}`,
  content: noise(3 * CHUNK + 100, i + 1),
}));

interface Fixture {
  reader: LayerReader;
  source: TestSource;
  state: LayerState;
  content: LayerContent;
  stop: AbortController;
}

function setUp(layer: TestLayer, reader: LayerReader, fetchTimeoutMs = 5000): Fixture {
  const logger = silentLogger();
  const source = testSource(layer.blob);
  const state = new LayerState(layer.digest, layer.blob.length, logger);
  const stop = new AbortController();
  const cache = new ChunkCache({ memoryMaxBytes: 64 << 20, logger });
  const content = new LayerContent({
    layer: { digest: layer.digest, reader, source },
    cache,
    state,
    logger,
    fetchTimeoutMs,
    readAheadChunks: 0,
    signal: stop.signal,
  });
  return { reader, source, state, content, stop };
}

describe("LayerContent", () => {
  let layer: TestLayer;
  let reader: LayerReader;
  before(async () => {
    layer = await buildTestLayer(
      files.map((f) => ({ type: "reg" as const, ...f })),
      { chunkSize: CHUNK, prioritizedFiles: ["f2", "f3"] },
    );
    reader = await openLayer(memoryBlob(layer.blob), { layerName: layer.digest });
  });

  test("a read spanning chunks is one request and returns exactly the bytes asked for", async () => {
    const f = setUp(layer, reader);
    const node = reader.lookup("f1")!;
    const data = await f.content.read(node, CHUNK - 10, CHUNK + 20);
    assert.deepEqual(data, files[1]!.content.subarray(CHUNK - 10, 2 * CHUNK + 10));
    assert.equal(f.source.requests, 1);
    assert.equal(f.source.calls[0]!.ranges, 1, "neighbouring chunks merged into one range");
    assert.deepEqual(
      f.content.cached(node, CHUNK, 5),
      files[1]!.content.subarray(CHUNK, CHUNK + 5),
    );
  });

  test("concurrent reads of the same chunk share one fetch", async () => {
    const f = setUp(layer, reader);
    f.source.delayMs = 50;
    const node = reader.lookup("f4")!;
    const reads = await Promise.all(Array.from({ length: 5 }, () => f.content.read(node, 0, 100)));
    for (const r of reads) assert.deepEqual(r, files[4]!.content.subarray(0, 100));
    assert.equal(f.source.requests, 1);
  });

  test("corrupted bytes are never served: DATA_LOSS, cause recorded", async () => {
    const f = setUp(layer, reader);
    f.source.mode = "corrupt";
    await assert.rejects(f.content.read(reader.lookup("f5")!, 0, 10), (err) =>
      isErrorCode(err, "DATA_LOSS"),
    );
    assert.match(f.state.error ?? "", /verification/);
    f.source.mode = "ok";
    assert.deepEqual(
      await f.content.read(reader.lookup("f5")!, 0, 10),
      files[5]!.content.subarray(0, 10),
    );
  });

  test("a source that ignores its signal still fails within the fetch timeout", async () => {
    const f = setUp(layer, reader, 300);
    f.source.mode = "hang";
    const started = Date.now();
    await assert.rejects(f.content.read(reader.lookup("f6")!, 0, 10), (err) =>
      isErrorCode(err, "DEADLINE_EXCEEDED"),
    );
    assert.ok(Date.now() - started < 1500);
  });

  test("prefetch loads the landmark range in one request", async () => {
    const f = setUp(layer, reader);
    const ok = await runPrefetch({
      ...f,
      source: f.source,
      logger: silentLogger(),
      signal: f.stop.signal,
      fetchTimeoutMs: 5000,
    });
    assert.equal(ok, true);
    assert.equal(f.source.requests, 1);
    assert.equal(f.state.json().prefetch, "done");
    const node = reader.lookup("f2")!;
    assert.deepEqual(f.content.cached(node, 0, node.size), files[2]!.content);
  });

  test("background fetch completes the layer and waits while on-demand reads are pending", async () => {
    const f = setUp(layer, reader);
    f.source.delayMs = 100;
    const onDemand = f.content.read(reader.lookup("f7")!, 0, 10);
    const background = runBackgroundFetch({
      ...f,
      source: f.source,
      logger: silentLogger(),
      signal: f.stop.signal,
      fetchTimeoutMs: 5000,
      batchBytes: 16 << 10,
    });
    await onDemand;
    await background;
    const [first, ...rest] = f.source.calls;
    for (const call of rest)
      assert.ok(call.start >= first!.end, "background waited for the on-demand read");
    assert.equal(f.state.json().backgroundFetch, "done");
    assert.equal(f.state.json().fetchedPercent, 100);
  });
});
