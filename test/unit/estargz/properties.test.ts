import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { buildLayer, openLayer } from "../../../src/estargz/index.ts";
import { StargzError } from "../../../src/util/errors.ts";
import { checksumOk } from "../../../src/estargz/tar-header.ts";
import { buildTar, noise, type TestEntry } from "../../support/tar-builder.ts";
import { memoryBlob, memorySink, streamOf } from "../../support/memory-blob.ts";

const dirs = ["", "a/", "a/b/", "ü/ñ/", "deep/er/still/"];

const fileArb = fc.record({
  dir: fc.constantFrom(...dirs),
  base: fc.stringMatching(/^[a-z0-9é_-]{1,12}$/).map((s) => `f-${s}`),
  size: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  mode: fc.constantFrom(0o644, 0o755, 0o4755, 0o600),
  symlink: fc.boolean(),
});

const layerArb = fc.record({
  files: fc.uniqueArray(fileArb, { selector: (f) => f.dir + f.base, minLength: 1, maxLength: 25 }),
  chunkSize: fc.integer({ min: 64, max: 2048 }),
  streamed: fc.boolean(),
  level: fc.integer({ min: 0, max: 9 }),
});

function entriesOf(
  files: Array<{
    dir: string;
    base: string;
    size: number;
    seed: number;
    mode: number;
    symlink: boolean;
  }>,
): TestEntry[] {
  return files.map((f): TestEntry =>
    f.symlink
      ? { type: "symlink", name: f.dir + f.base, linkName: `../target-${f.seed}` }
      : { type: "reg", name: f.dir + f.base, content: noise(f.size, f.seed), mode: f.mode },
  );
}

test("property: whatever goes into the builder comes out of the reader", async () => {
  await fc.assert(
    fc.asyncProperty(layerArb, async ({ files, chunkSize, streamed, level }) => {
      const entries = entriesOf(files);
      const tar = buildTar(entries);
      const sink = memorySink();
      const result = await buildLayer(streamed ? streamOf(tar, 1000) : memoryBlob(tar), sink, {
        chunkSize,
        compressionLevel: level,
      });
      const reader = await openLayer(memoryBlob(sink.bytes()), {
        expectedTocDigest: result.tocDigest,
      });
      assert.deepEqual(
        reader.index.listed.map((e) => e.path).slice(1),
        entries.map((e) => e.name),
      );
      for (const entry of entries) {
        const node = reader.lookup(entry.name)!;
        if (entry.type === "reg") {
          assert.deepEqual(await reader.readFile(entry.name), entry.content);
          assert.equal(node.mode, entry.mode);
          assert.equal(node.chunks.length, Math.ceil(entry.content.length / chunkSize));
        } else if (entry.type === "symlink") {
          assert.equal(node.linkName, entry.linkName);
        }
      }
    }),
    { numRuns: 60 },
  );
});

test("fuzz: a mutated blob is either rejected with a typed error or yields exactly the original content", async () => {
  const entries: TestEntry[] = [
    { type: "dir", name: "d/" },
    { type: "reg", name: "d/one", content: noise(3000, 3) },
    { type: "reg", name: "d/two", content: Buffer.from("two\n") },
    { type: "symlink", name: "d/link", linkName: "one" },
    { type: "reg", name: "three", content: noise(700, 5) },
  ];
  const sink = memorySink();
  await buildLayer(memoryBlob(buildTar(entries)), sink, { chunkSize: 1024 });
  const original = sink.bytes();
  const mutationArb = fc.record({
    flips: fc.array(
      fc.record({
        at: fc.nat({ max: original.length - 1 }),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    truncateTo: fc.option(fc.nat({ max: original.length }), { freq: 4 }),
  });
  await fc.assert(
    fc.asyncProperty(mutationArb, async ({ flips, truncateTo }) => {
      let blob = Buffer.from(original);
      for (const { at, value } of flips) blob[at] = value;
      if (truncateTo !== null) blob = blob.subarray(0, truncateTo);
      try {
        const reader = await openLayer(memoryBlob(blob), { layerName: "fuzz" });
        for (const entry of entries) {
          if (entry.type === "reg")
            assert.deepEqual(
              await reader.readFile(entry.name),
              entry.content,
              "content served must be the original",
            );
        }
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof StargzError, `a typed error, not ${String(err)}`);
      }
    }),
    { numRuns: 400 },
  );
});

test("fuzz: a mutated tar given to the builder either builds a readable layer or fails with a typed error", async () => {
  const tar = buildTar([
    { type: "dir", name: "d/" },
    { type: "reg", name: "d/one", content: noise(1500, 3), xattrs: { "user.k": Buffer.from("v") } },
    { type: "symlink", name: "d/link", linkName: "one" },
  ]);
  const headerBlocks: number[] = [];
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    if (checksumOk(tar.subarray(at, at + 512))) headerBlocks.push(at);
  }
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ at: fc.nat({ max: tar.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }),
        { minLength: 1, maxLength: 3 },
      ),
      async (flips) => {
        const input = Buffer.from(tar);
        for (const { at, value } of flips) input[at] = value;
        // Re-sign the headers, so the mutation reaches the parser instead of stopping at the checksum.
        for (const at of headerBlocks) fixChecksum(input.subarray(at, at + 512));
        const sink = memorySink();
        try {
          await buildLayer(memoryBlob(input), sink, { chunkSize: 512 });
        } catch (err) {
          assert.ok(err instanceof StargzError, `a typed error, not ${String(err)}`);
          return;
        }
        // What the builder accepts, the reader must accept too.
        const reader = await openLayer(memoryBlob(sink.bytes()));
        await reader.verifyAll();
      },
    ),
    { numRuns: 300 },
  );
});

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
}
