import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import {
  buildLayer,
  openLayer,
  FOOTER_SIZE,
  TOC_TAR_NAME,
  type BuildResult,
} from "../../../src/estargz/index.ts";
import { readTarEntries, streamSource } from "../../../src/estargz/tar-reader.ts";
import { buildTar, noise, type TestEntry } from "../../support/tar-builder.ts";
import { memoryBlob, memorySink, streamOf } from "../../support/memory-blob.ts";

const CHUNK = 4096;

const fixture: TestEntry[] = [
  { type: "dir", name: "etc/", mode: 0o755 },
  {
    type: "reg",
    name: "etc/hostname",
    content: Buffer.from("layer\n"),
    uid: 1000,
    gid: 1000,
    userName: "alice",
    groupName: "staff",
  },
  { type: "dir", name: "usr/", mode: 0o755 },
  { type: "dir", name: "usr/lib/", mode: 0o755 },
  { type: "dir", name: "usr/lib/deep/nested/", mode: 0o700 },
  { type: "reg", name: "usr/lib/big.bin", content: noise(CHUNK * 2 + 123, 7) },
  { type: "reg", name: "usr/lib/exact.bin", content: noise(CHUNK * 3, 9) },
  { type: "reg", name: "usr/lib/empty", content: Buffer.alloc(0) },
  { type: "reg", name: "usr/bin/sudo", content: Buffer.from("#!/bin/sh\n"), mode: 0o4755 },
  { type: "symlink", name: "usr/lib/link", linkName: "big.bin" },
  { type: "hardlink", name: "usr/lib/hard", linkName: "usr/lib/exact.bin" },
  {
    type: "reg",
    name: "usr/lib/xattr",
    content: Buffer.from("x"),
    xattrs: { "user.note": Buffer.from([0, 1, 2, 255]), "security.capability": Buffer.from("cap") },
  },
  { type: "reg", name: "usr/share/naïve-日本語.txt", content: Buffer.from("unicode\n") },
  { type: "reg", name: `usr/share/${"long-".repeat(30)}name`, content: Buffer.from("long") },
  { type: "reg", name: "var/.wh.removed", content: Buffer.alloc(0) },
  { type: "dir", name: "opt/" },
  { type: "reg", name: "opt/.wh..wh..opq", content: Buffer.alloc(0) },
  { type: "char", name: "dev/null", devMajor: 1, devMinor: 3, mode: 0o666 },
  { type: "block", name: "dev/sda", devMajor: 8, devMinor: 0 },
  { type: "fifo", name: "run/pipe" },
];

async function build(
  tar: Buffer,
  options: Parameters<typeof buildLayer>[2] = {},
  stream = false,
): Promise<{ blob: Buffer; result: BuildResult }> {
  const sink = memorySink();
  const input = stream ? streamOf(tar) : memoryBlob(tar);
  const result = await buildLayer(input, sink, { chunkSize: CHUNK, ...options });
  return { blob: sink.bytes(), result };
}

const sha256 = (data: Buffer): string =>
  `sha256:${createHash("sha256").update(data).digest("hex")}`;

for (const stream of [false, true]) {
  test(`round trip of every entry kind (${stream ? "streamed" : "random-access"} input)`, async () => {
    const { blob, result } = await build(buildTar(fixture), {}, stream);
    const reader = await openLayer(memoryBlob(blob), {
      layerName: "fixture",
      expectedTocDigest: result.tocDigest,
    });
    for (const entry of fixture) {
      const path = entry.name.replace(/\/$/, "");
      const node = reader.lookup(path);
      assert.ok(node, `${path} is in the index`);
      if (entry.type === "reg") {
        assert.deepEqual(await reader.readFile(path), entry.content, path);
        assert.equal(node.digest, sha256(entry.content));
      }
      if (entry.type === "hardlink")
        assert.equal(node, reader.lookup(entry.linkName), "hardlink shares its target's node");
      if (entry.type === "symlink") assert.equal(node.linkName, entry.linkName);
      if (entry.type === "char" || entry.type === "block")
        assert.deepEqual([node.devMajor, node.devMinor], [entry.devMajor, entry.devMinor]);
      if (entry.type !== "hardlink") assert.equal(node.type, entry.type, path);
      if (entry.mode !== undefined && entry.type !== "hardlink")
        assert.equal(node.mode, entry.mode, path);
    }
    assert.equal(reader.lookup("usr/lib/exact.bin")!.numLink, 2);
    assert.deepEqual(
      reader.lookup("usr/lib/xattr")!.xattrs.get("user.note"),
      Buffer.from([0, 1, 2, 255]),
    );
    assert.equal(reader.lookup("etc/hostname")!.userName, "alice");
    assert.deepEqual([...reader.lookup("usr/lib")!.children.keys()].sort(), [
      "big.bin",
      "deep",
      "empty",
      "exact.bin",
      "hard",
      "link",
      "xattr",
    ]);
    assert.ok(reader.lookup("var/.wh.removed"), "whiteouts are kept as stored");
    assert.ok(reader.lookup("opt/.wh..wh..opq"), "opaque markers are kept as stored");
    assert.equal(reader.lookup("usr/lib/deep")!.type, "dir", "implicit parent directories exist");
  });
}

test("chunking: a file over two chunks, an exact multiple, an empty file", async () => {
  const { blob } = await build(buildTar(fixture));
  const reader = await openLayer(memoryBlob(blob));
  const sizes = (path: string) =>
    reader.lookup(path)!.chunks.map((c) => [c.chunkOffset, c.chunkSize]);
  assert.deepEqual(sizes("usr/lib/big.bin"), [
    [0, CHUNK],
    [CHUNK, CHUNK],
    [2 * CHUNK, 123],
  ]);
  assert.deepEqual(sizes("usr/lib/exact.bin"), [
    [0, CHUNK],
    [CHUNK, CHUNK],
    [2 * CHUNK, CHUNK],
  ]);
  assert.deepEqual(sizes("usr/lib/empty"), []);
  const big = reader.toc.entries.filter((e) => e.name === "usr/lib/big.bin");
  assert.deepEqual(
    big.map((e) => e.type),
    ["reg", "chunk", "chunk"],
  );
  assert.ok(
    big.every((e) => /^sha256:/.test(e.chunkDigest ?? "")),
    "every chunk has its own digest",
  );
});

test("the blob is a valid tar.gz whose last entry is the TOC, and the reported digests are right", async () => {
  const tar = buildTar(fixture);
  const { blob, result } = await build(tar);
  const plain = gunzipSync(blob);
  assert.equal(result.diffID, sha256(plain));
  assert.equal(result.digest, sha256(blob));
  assert.equal(result.size, blob.length);
  assert.equal(result.uncompressedSize, plain.length);
  const names: string[] = [];
  for await (const entry of readTarEntries(streamSource(streamOf(plain))))
    names.push(entry.header.name);
  assert.equal(names.at(-1), TOC_TAR_NAME);
  assert.equal(names[0], ".no.prefetch.landmark");
  assert.equal(names.length, fixture.length + 2);
});

test("every chunk starts its own gzip member, so it inflates alone", async () => {
  const { blob } = await build(buildTar(fixture));
  const reader = await openLayer(memoryBlob(blob));
  for (const chunk of reader.index.allChunks) {
    const alone = blob.subarray(chunk.compressedOffset, chunk.compressedEnd);
    assert.equal(alone[0], 0x1f);
    assert.equal(alone[1], 0x8b);
    const data = await reader.decode(chunk, alone);
    assert.equal(data.length, chunk.chunkSize);
  }
  assert.equal(blob.length - reader.footer.tocOffset > FOOTER_SIZE, true);
  assert.equal(reader.footer.kind, "estargz");
});

test("reading one file fetches only its chunks", async () => {
  const { blob } = await build(buildTar(fixture));
  const source = memoryBlob(blob);
  const reader = await openLayer(source);
  const afterOpen = source.bytesRead;
  await reader.readFile("etc/hostname");
  assert.ok(
    source.bytesRead - afterOpen < 200,
    `read ${source.bytesRead - afterOpen} bytes for a 6-byte file`,
  );
});

test("prioritized files come first with their parents and hardlink targets, then the prefetch landmark", async () => {
  const { blob } = await build(buildTar(fixture), {
    prioritizedFiles: ["usr/lib/hard", "/etc/hostname"],
  });
  const reader = await openLayer(memoryBlob(blob));
  const order = reader.index.listed.map((e) => e.path);
  assert.deepEqual(order.slice(0, 7), [
    "usr",
    "usr/lib",
    "usr/lib/exact.bin",
    "usr/lib/hard",
    "etc",
    "etc/hostname",
    ".prefetch.landmark",
  ]);
  assert.ok(!order.includes(".no.prefetch.landmark"));
  assert.deepEqual(await reader.readFile(".prefetch.landmark"), Buffer.from([0x0f]));
  assert.equal(order.length, fixture.length + 1);
});

test("without prioritized files the no-prefetch landmark comes first", async () => {
  const { blob } = await build(buildTar(fixture));
  const reader = await openLayer(memoryBlob(blob));
  assert.equal(reader.index.listed[0]!.path, ".no.prefetch.landmark");
  assert.deepEqual(await reader.readFile(".no.prefetch.landmark"), Buffer.from([0x0f]));
});

test("a prioritized file that is not in the layer is an error naming it", async () => {
  await assert.rejects(
    build(buildTar(fixture), { prioritizedFiles: ["nope/missing"] }),
    /prioritized file is not in the layer.*entry=nope\/missing/,
  );
});

test("prioritized files need a random-access input", async () => {
  await assert.rejects(
    build(buildTar(fixture), { prioritizedFiles: ["etc/hostname"] }, true),
    /random-access/,
  );
});

test("a later duplicate replaces the earlier entry (random-access input)", async () => {
  const tar = buildTar([
    { type: "reg", name: "a", content: Buffer.from("old") },
    { type: "reg", name: "b", content: Buffer.from("b") },
    { type: "reg", name: "./a", content: Buffer.from("new") },
  ]);
  const { blob } = await build(tar);
  const reader = await openLayer(memoryBlob(blob));
  assert.deepEqual(await reader.readFile("a"), Buffer.from("new"));
  assert.deepEqual(
    reader.index.listed.map((e) => e.path),
    [".no.prefetch.landmark", "b", "a"],
  );
});

test("an existing TOC or landmark in the input is dropped, not duplicated", async () => {
  const tar = buildTar([
    { type: "reg", name: ".no.prefetch.landmark", content: Buffer.from([0x0f]) },
    { type: "reg", name: "stargz.index.json", content: Buffer.from("{}") },
    { type: "reg", name: "x", content: Buffer.from("x") },
  ]);
  const { blob } = await build(tar);
  const reader = await openLayer(memoryBlob(blob));
  assert.deepEqual(
    reader.index.listed.map((e) => e.path),
    [".no.prefetch.landmark", "x"],
  );
});

test("options are validated", async () => {
  await assert.rejects(build(buildTar(fixture), { chunkSize: 0 }), /chunk size/);
  await assert.rejects(build(buildTar(fixture), { compressionLevel: 10 }), /compression level/);
});

test("the same input builds the same blob", async () => {
  const tar = buildTar(fixture);
  const first = await build(tar);
  const second = await build(tar, {}, true);
  assert.equal(first.result.digest, second.result.digest);
});

test("an aborted build stops with the abort reason", async () => {
  const controller = new AbortController();
  controller.abort(new Error("stop now"));
  await assert.rejects(build(buildTar(fixture), { signal: controller.signal }), /stop now/);
});

test("allowMissingPrioritized skips files the layer lacks and reports them, keeping the prefetch landmark", async () => {
  const { blob, result } = await build(buildTar(fixture), {
    prioritizedFiles: ["etc/hostname", "not/here"],
    allowMissingPrioritized: true,
  });
  assert.deepEqual(result.missingPrioritized, ["not/here"]);
  const reader = await openLayer(memoryBlob(blob));
  const order = reader.index.listed.map((e) => e.path);
  assert.deepEqual(order.slice(0, 3), ["etc", "etc/hostname", ".prefetch.landmark"]);
});
