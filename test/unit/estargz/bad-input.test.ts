import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32, gzipSync } from "node:zlib";
import {
  buildLayer,
  EStargzError,
  encodeToc,
  openLayer,
  type Toc,
  type TocEntry,
} from "../../../src/estargz/index.ts";
import { regularFileHeader } from "../../../src/estargz/tar-header.ts";
import { encodeFooter } from "../../../src/estargz/footer.ts";
import { buildTar, noise } from "../../support/tar-builder.ts";
import { memoryBlob, memorySink } from "../../support/memory-blob.ts";

const CHUNK = 1024;

async function validBlob(): Promise<Buffer> {
  const sink = memorySink();
  const tar = buildTar([
    { type: "dir", name: "d/" },
    { type: "reg", name: "d/file", content: noise(CHUNK * 2 + 10) },
    { type: "reg", name: "d/small", content: Buffer.from("hello") },
  ]);
  await buildLayer(memoryBlob(tar), sink, { chunkSize: CHUNK });
  return sink.bytes();
}

/** The same data members with a different TOC, re-serialized as a real TOC member and footer. */
async function withToc(blob: Buffer, change: (toc: Toc) => Buffer | void): Promise<Buffer> {
  const reader = await openLayer(memoryBlob(blob));
  const toc: Toc = structuredClone(reader.toc);
  const json = change(toc) ?? encodeToc(toc);
  const tocOffset = reader.footer.tocOffset;
  const member = gzipSync(
    Buffer.concat([
      regularFileHeader("stargz.index.json", json.length),
      json,
      Buffer.alloc(((512 - (json.length % 512)) % 512) + 1024),
    ]),
  );
  return Buffer.concat([blob.subarray(0, tocOffset), member, encodeFooter(tocOffset)]);
}

const entry = (toc: Toc, name: string, type = "reg"): TocEntry =>
  toc.entries.find((e) => e.name === name && e.type === type)!;

async function rejects(
  blob: Buffer,
  problem: string,
  pattern: RegExp,
  options = {},
): Promise<void> {
  await assert.rejects(
    async () =>
      (await openLayer(memoryBlob(blob), { layerName: "sha256:test", ...options })).verifyAll(),
    (err: unknown) => {
      assert.ok(err instanceof EStargzError, `EStargzError, got ${String(err)}`);
      assert.equal(err.problem, problem);
      assert.match(err.message, pattern);
      assert.match(err.message, /layer=sha256:test/);
      return true;
    },
  );
}

test("truncated blobs are rejected", async () => {
  const blob = await validBlob();
  await rejects(blob.subarray(0, blob.length - 10), "bad-footer", /not an eStargz blob/);
  await rejects(blob.subarray(0, 20), "bad-footer", /shorter than any footer/);
  await rejects(blob.subarray(blob.length - 51), "out-of-bounds", /TOC offset/);
});

test("a wrong footer is rejected", async () => {
  const blob = Buffer.from(await validBlob());
  blob.write("XX", blob.length - 51 + 12, "latin1");
  await rejects(blob, "bad-footer", /not 'SG'/);
  await rejects(gzipSync(Buffer.from("just a gzip file")), "bad-footer", /not an eStargz blob/);
});

test("a legacy 47-byte stargz footer is read", async () => {
  const blob = await validBlob();
  const reader = await openLayer(memoryBlob(blob));
  const extra = Buffer.from(
    reader.footer.tocOffset.toString(16).padStart(16, "0") + "STARGZ",
    "latin1",
  );
  const header = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, extra.length, 0]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(Buffer.alloc(0)));
  const legacyFooter = Buffer.concat([header, extra, Buffer.from([1, 0, 0, 0xff, 0xff]), trailer]);
  assert.equal(legacyFooter.length, 47);
  const legacy = Buffer.concat([blob.subarray(0, blob.length - 51), legacyFooter]);
  const opened = await openLayer(memoryBlob(legacy));
  assert.equal(opened.footer.kind, "legacy");
  assert.deepEqual(await opened.readFile("d/small"), Buffer.from("hello"));
});

test("malformed and oversized TOC JSON is rejected", async () => {
  const blob = await validBlob();
  await rejects(await withToc(blob, () => Buffer.from("{not json")), "bad-toc", /not valid JSON/);
  await rejects(
    await withToc(blob, () => Buffer.from('{"version":2,"entries":[]}')),
    "bad-toc",
    /version 2/,
  );
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/small").size = -4)),
    "bad-entry",
    /size is not a non-negative integer/,
  );
  await rejects(
    await withToc(
      blob,
      (toc) => void ((entry(toc, "d/small") as { type: string }).type = "socket"),
    ),
    "bad-entry",
    /unknown type/,
  );
  await rejects(blob, "toc-too-large", /limit 100|inflates past 100/, { maxTocBytes: 100 });
});

test("unsafe names are rejected", async () => {
  const blob = await validBlob();
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/small").name = "/etc/shadow")),
    "bad-entry",
    /absolute path.*entry=\/etc\/shadow/,
  );
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/small").name = "d/../../x")),
    "bad-entry",
    /'\.\.'/,
  );
});

test("duplicate names are rejected", async () => {
  const blob = await validBlob();
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/small").name = "./d/file")),
    "bad-entry",
    /duplicate entry name/,
  );
});

test("offsets outside the blob are rejected", async () => {
  const blob = await validBlob();
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/small").offset = blob.length * 2)),
    "bad-entry",
    /outside the blob.*entry=d\/small/,
  );
});

test("chunks that do not tile the file are rejected", async () => {
  const blob = await validBlob();
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/file", "chunk").chunkOffset = 5)),
    "bad-entry",
    /chunk at 0 has size 1024, not 5/,
  );
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/file").size = CHUNK + 10)),
    "bad-entry",
    /chunk at 2048 starts past the end of the 1034-byte file/,
  );
  // A last chunk with no declared size stretches to the file size; the data then runs short.
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/file").size = CHUNK * 5)),
    "bad-chunk",
    /inflates to \d+ bytes, TOC says 3072/,
  );
});

test("a chunk whose data is longer than the TOC declares never yields unverified bytes", async () => {
  const blob = await validBlob();
  // Declare the small file shorter than it is: the bytes served would be a prefix; the digest catches it.
  const lied = await withToc(blob, (toc) => void (entry(toc, "d/small").size = 3));
  await rejects(lied, "digest-mismatch", /entry=d\/small/);
});

test("a chunk that inflates to less than declared is rejected", async () => {
  const blob = await validBlob();
  const lied = await withToc(blob, (toc) => {
    const small = entry(toc, "d/small");
    small.size = 4000;
    delete small.chunkSize;
  });
  await rejects(lied, "bad-chunk", /inflates to/);
});

test("a digest mismatch is rejected and names the entry", async () => {
  const blob = await validBlob();
  const wrong = "sha256:" + "0".repeat(64);
  await rejects(
    await withToc(blob, (toc) => void (entry(toc, "d/file", "chunk").chunkDigest = wrong)),
    "digest-mismatch",
    /entry=d\/file/,
  );
  await assert.rejects(
    openLayer(memoryBlob(blob), { expectedTocDigest: wrong }),
    /TOC digest is sha256:[0-9a-f]{64}, expected sha256:0+/,
  );
});

test("chunks without digests are refused unless explicitly allowed", async () => {
  const blob = await validBlob();
  const undigested = await withToc(blob, (toc) => {
    for (const e of toc.entries) {
      delete e.chunkDigest;
      delete e.digest;
    }
  });
  await rejects(undigested, "unverifiable", /no digest/);
  const reader = await openLayer(memoryBlob(undigested), { allowUnverified: true });
  assert.deepEqual(await reader.readFile("d/small"), Buffer.from("hello"));
});

test("bad tar input to the builder is a typed error", async () => {
  const tar = buildTar([{ type: "reg", name: "f", content: noise(5000) }], { endMarker: false });
  const sink = memorySink();
  await assert.rejects(
    buildLayer(memoryBlob(tar.subarray(0, 3000)), sink, { layerName: "in.tar" }),
    /tar ends inside.*layer=in\.tar/,
  );
  const corrupt = Buffer.from(tar);
  corrupt[0] = 0x41;
  await assert.rejects(buildLayer(memoryBlob(corrupt), sink), /bad header checksum/);
});

test("an extended header whose size field is not a number is a typed error", async () => {
  const tar = buildTar([
    { type: "reg", name: "f", content: Buffer.from("x"), xattrs: { "user.k": Buffer.from("v") } },
  ]);
  const block = tar.subarray(0, 512);
  assert.equal(String.fromCharCode(block[156]!), "x", "the first block is the PAX header");
  block.write("zzzzzzzzzzz\0", 124, 12, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  await assert.rejects(
    buildLayer(memoryBlob(tar), memorySink(), { layerName: "in.tar" }),
    (err: unknown) => {
      assert.ok(err instanceof EStargzError, String(err));
      assert.equal(err.problem, "bad-tar");
      return true;
    },
  );
});
