/**
 * Compatibility, both ways: layers the Go reference (ctr-remote, Debian's
 * stargz-snapshotter) converts are read by our reader, and layers our builder
 * writes are accepted by Go's estargz package. The truth in every comparison
 * is the manifest of the source tar, read by an independent tar reader.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import {
  archiveTree,
  createFixture,
  expectedEntries,
  fixtureSkipReason,
  sha256,
  type Fixture,
} from "../support/fixture-tree.ts";
import { goVerifierSkipReason, verifyWithGo, type GoVerification } from "../support/go-verifier.ts";
import {
  convertWithGo,
  goReferenceSkipReason,
  type GoConversion,
} from "../support/go-reference.ts";
import { annotations, digestOf, pushOciLayout, writeOciLayout } from "../support/oci-image.ts";
import { compareListing } from "../support/manifest-compare.ts";
import { comparableToc, tocDiffs, tocOf } from "../support/estargz-toc.ts";
import { openLayer, type BuildResult, type LayerReader } from "../../src/estargz/index.ts";
import {
  bufferSource,
  buildOurs,
  estargzTocOffset,
  legacyFooter,
  listWithCli,
  listWithOurReader,
  stargz,
} from "../support/our-layers.ts";

/** Small, so files of several chunks stay small. */
const chunkSize = 64 * 1024;

const skipFixture = fixtureSkipReason();
const skipVerifier = skipFixture ?? goVerifierSkipReason();
const skipConvert = skipFixture ?? goReferenceSkipReason();
const skipGoBoth = skipConvert ?? skipVerifier;

/** Files put first in the prioritized builds: a hardlink (whose target must move too), nested and non-ASCII names. */
const prioritizedFiles = [
  "z-hardlinks/to-big",
  "ünïcødé/emoji-😀.txt",
  "modes/setuid",
  "xattrs/file",
];

describe("eStargz compatibility with the Go reference", () => {
  let tmp: TempDir;
  let fixture: Fixture;
  let registry: TestRegistry | undefined;
  let containerd: TestContainerd | undefined;
  let goConversion: Promise<GoConversion & { blobFile: string }> | undefined;

  before(async () => {
    if (skipFixture) return;
    tmp = await makeTempDir();
    fixture = await createFixture({ dir: join(tmp.path, "fixture"), chunkSize });
    if (skipConvert) return;
    registry = await startRegistry({ dir: join(tmp.path, "registry") });
    containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  });

  after(async () => {
    await containerd?.stop();
    await registry?.stop();
    await tmp?.remove();
  });

  /** The fixture converted by ctr-remote, once for every test that needs it. */
  const goLayer = (): Promise<GoConversion & { blobFile: string }> => {
    goConversion ??= (async () => {
      assert.ok(registry && containerd);
      const conversion = await convertWithGo({
        registry,
        containerd,
        dir: join(tmp.path, "go-convert"),
        tar: fixture.tar,
        chunkSize,
      });
      const blobFile = join(tmp.path, "go-layer.estargz");
      await writeFile(blobFile, conversion.blob);
      return { ...conversion, blobFile };
    })();
    return goConversion;
  };

  test("the fixture holds every kind of entry the issue lists", { skip: skipFixture }, () => {
    const types = new Set(fixture.entries.map((e) => e.type));
    for (const t of ["dir", "reg", "symlink", "hardlink", "char", "block", "fifo"]) {
      assert.ok(types.has(t as never), `no ${t} entry`);
    }
    const sizes = fixture.entries.filter((e) => e.type === "reg").map((e) => e.size);
    assert.ok(
      sizes.some((s) => s > 2 * chunkSize),
      "a file larger than two chunks",
    );
    assert.ok(
      sizes.some((s) => s > 0 && s % chunkSize === 0),
      "a file of an exact multiple of the chunk size",
    );
    assert.ok(sizes.includes(0), "an empty file");
    const names = fixture.entries.map((e) => e.name);
    assert.ok(
      names.some((n) => n.endsWith("/.wh..wh..opq")),
      "an opaque dir marker",
    );
    assert.ok(
      names.some((n) => /\/\.wh\.[^.]/.test(n)),
      "a whiteout",
    );
    assert.ok(
      names.some((n) => /[^\x20-\x7e]/.test(n)),
      "a non-ASCII name",
    );
    assert.ok(
      names.some((n) => Buffer.byteLength(n) > 100),
      "a name longer than ustar's 100 bytes",
    );
    assert.ok(
      fixture.entries.some((e) => e.mode & 0o4000),
      "a setuid file",
    );
    assert.ok(
      fixture.entries.some((e) => e.mode & 0o2000),
      "a setgid entry",
    );
    assert.ok(
      fixture.entries.some((e) => Object.keys(e.xattrs).length > 1),
      "xattrs",
    );
    assert.ok(
      fixture.entries.some((e) => e.uid > 0o7777777),
      "a uid only PAX can hold",
    );
  });

  describe("a: Go converts, Go verifies (checks the harness itself)", { skip: skipGoBoth }, () => {
    let go: GoVerification;
    before(async () => {
      if (skipGoBoth) return;
      const layer = await goLayer();
      go = await verifyWithGo(layer.blobFile, {
        tocDigest: layer.descriptor.annotations?.[annotations.tocDigest],
      });
    });

    test("the converted layer carries Go's annotations and diffID", async () => {
      const layer = await goLayer();
      assert.equal(layer.descriptor.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
      assert.equal(layer.descriptor.annotations?.[annotations.tocDigest], go.summary.tocDigest);
      assert.equal(layer.diffID, go.summary.diffID);
      const uncompressed = Number(layer.descriptor.annotations?.[annotations.uncompressedSize]);
      assert.ok(uncompressed > fixture.tar.length / 2, `uncompressed size ${uncompressed}`);
      assert.equal(go.summary.footerSize, 51);
      assert.equal(go.summary.tocVersion, 1);
    });

    test("its listing equals the source tar's manifest", () => {
      const { diffs, landmarks } = compareListing(fixture.entries, go.entries);
      assert.deepEqual(diffs, []);
      assert.deepEqual(landmarks, [".no.prefetch.landmark"]);
      assert.equal(go.entries[0]?.name, ".no.prefetch.landmark", "the landmark comes first");
      const order = go.entries.slice(1).map((e) => e.name);
      assert.deepEqual(
        order,
        fixture.entries.map((e) => e.name),
        "source order kept",
      );
    });

    test("files are split at the chunk size", () => {
      for (const e of go.entries.filter((x) => x.type === "reg")) {
        assert.equal(e.chunks, Math.ceil(e.size / chunkSize), `${e.name}: ${e.chunks} chunks`);
      }
    });

    test("the verifier rejects a wrong TOC digest and a corrupted blob", async () => {
      const layer = await goLayer();
      await assert.rejects(
        verifyWithGo(layer.blobFile, { tocDigest: sha256(Buffer.from("other")) }),
        /VerifyTOC/,
      );
      const corrupt = Buffer.from(await readFile(layer.blobFile));
      const at = Math.floor(corrupt.length / 3);
      corrupt[at] = (corrupt[at] ?? 0) ^ 0xff;
      const corruptFile = join(tmp.path, "go-layer-corrupt.estargz");
      await writeFile(corruptFile, corrupt);
      await assert.rejects(verifyWithGo(corruptFile), /estargz-verify: /);
    });
  });

  describe("b: Go converts, our reader reads", { skip: skipConvert }, () => {
    let reader: LayerReader;
    let blob: Buffer;
    before(async () => {
      if (skipConvert) return;
      const layer = await goLayer();
      blob = layer.blob;
      reader = await openLayer(bufferSource(blob), {
        layerName: layer.descriptor.digest,
        expectedTocDigest: layer.descriptor.annotations?.[annotations.tocDigest],
      });
    });

    test("the TOC digest is the one Go annotated, and the one the bytes hash to", async () => {
      const layer = await goLayer();
      assert.equal(reader.tocDigest, layer.descriptor.annotations?.[annotations.tocDigest]);
      assert.equal(reader.tocDigest, tocOf(blob).digest);
      await assert.rejects(
        openLayer(bufferSource(blob), { expectedTocDigest: sha256(Buffer.from("other")) }),
      );
    });

    test("every entry's metadata and every file's content equal the source tar", async () => {
      const { diffs, landmarks } = compareListing(fixture.entries, await listWithOurReader(reader));
      assert.deepEqual(diffs, []);
      assert.deepEqual(landmarks, [".no.prefetch.landmark"]);
    });

    test("hardlinks resolve to their target's node and content", async () => {
      for (const e of fixture.entries.filter((x) => x.type === "hardlink")) {
        const target = fixture.entries.find((x) => x.name === e.linkName);
        assert.equal(reader.lookup(e.name), reader.lookup(e.linkName), e.name);
        assert.equal(sha256(await reader.readFile(e.name)), target?.sha256, e.name);
      }
      const links = fixture.entries.filter((x) => x.linkName === "a-dir/sub/deeper/big.bin");
      assert.equal(reader.lookup("a-dir/sub/deeper/big.bin")?.numLink, 1 + links.length);
    });

    test("whiteouts and the opaque marker are stored as they are in the tar", () => {
      assert.equal(reader.lookup("whiteouts/.wh.deleted-file")?.type, "reg");
      assert.equal(reader.lookup("whiteouts/opaque/.wh..wh..opq")?.type, "reg");
      assert.ok(reader.lookup("whiteouts/opaque")?.children.has("kept.txt"));
    });

    test("every chunk verifies, and a corrupted chunk is refused", async () => {
      const big = reader.lookup("a-dir/sub/deeper/big.bin");
      assert.equal(big?.chunks.length, 3);
      const { chunks } = await reader.verifyAll();
      assert.ok(chunks >= 3);
      const second = big!.chunks[1]!;
      const corrupt = Buffer.from(blob);
      const at = (second.compressedOffset + second.compressedEnd) >> 1;
      corrupt[at] = (corrupt[at] ?? 0) ^ 0xff;
      const bad = await openLayer(bufferSource(corrupt), { layerName: "corrupt" });
      await assert.rejects(bad.readFile("a-dir/sub/deeper/big.bin"));
    });
  });

  describe("c: our builder writes, Go reads", { skip: skipVerifier }, () => {
    let ours: { blob: Buffer; result: BuildResult; blobFile: string };
    let go: GoVerification;
    before(async () => {
      if (skipVerifier) return;
      const blobFile = join(tmp.path, "our-layer.estargz");
      ours = { ...(await buildOurs(fixture.tarFile, blobFile, { chunkSize })), blobFile };
      go = await verifyWithGo(blobFile, { tocDigest: ours.result.tocDigest });
    });

    test("Go verifies our layer and lists exactly the source tar", () => {
      const { diffs, landmarks } = compareListing(fixture.entries, go.entries);
      assert.deepEqual(diffs, []);
      assert.deepEqual(landmarks, [".no.prefetch.landmark"]);
      assert.equal(go.entries[0]?.name, ".no.prefetch.landmark", "the landmark comes first");
      const order = go.entries.slice(1).map((e) => e.name);
      assert.deepEqual(
        order,
        fixture.entries.map((e) => e.name),
        "source order kept",
      );
      for (const e of go.entries.filter((x) => x.type === "reg")) {
        assert.equal(e.chunks, Math.ceil(e.size / chunkSize), `${e.name}: ${e.chunks} chunks`);
      }
    });

    test("digest, size, diffID, TOC digest and uncompressed size are what Go computes", () => {
      const { result, blob } = ours;
      assert.equal(go.summary.tocDigest, result.tocDigest);
      assert.equal(tocOf(blob).digest, result.tocDigest);
      assert.equal(go.summary.diffID, result.diffID);
      assert.equal(go.summary.footerSize, 51);
      assert.equal(go.summary.tocVersion, 1);
      assert.equal(result.digest, digestOf(blob));
      assert.equal(result.size, blob.length);
      assert.equal(result.uncompressedSize, gunzipSync(blob).length);
    });

    test("with a legacy 47-byte stargz footer instead, Go and our reader still agree", async () => {
      const tocOffset = estargzTocOffset(ours.blob);
      const legacy = Buffer.concat([
        ours.blob.subarray(0, ours.blob.length - 51),
        legacyFooter(tocOffset),
      ]);
      const legacyFile = join(tmp.path, "our-layer-legacy.stargz");
      await writeFile(legacyFile, legacy);
      const go = await verifyWithGo(legacyFile, { tocDigest: ours.result.tocDigest });
      assert.equal(go.summary.footerSize, 47);
      assert.deepEqual(compareListing(fixture.entries, go.entries).diffs, []);
      const reader = await openLayer(bufferSource(legacy), {
        expectedTocDigest: ours.result.tocDigest,
      });
      assert.deepEqual(compareListing(fixture.entries, await listWithOurReader(reader)).diffs, []);
    });

    test(
      "our TOC equals Go's for the same tar, apart from offsets",
      { skip: skipConvert },
      async () => {
        const theirs = tocOf((await goLayer()).blob);
        const mine = tocOf(ours.blob);
        assert.deepEqual(tocDiffs(mine.toc, theirs.toc, ["ours", "Go"]), []);
        assert.deepEqual(mine.tarNames, theirs.tarNames, "tar entry names as stored");
      },
    );

    test(
      "with user and group names in the tar, our TOC resolves to the same names as Go's",
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const tarFile = join(tmp.path, "fixture-names.tar");
        const tar = await archiveTree(fixture.root, tarFile, { ownerNames: true });
        const mine = await buildOurs(tarFile, join(tmp.path, "our-names.estargz"), { chunkSize });
        const theirs = await convertWithGo({
          registry,
          containerd,
          dir: join(tmp.path, "go-convert-names"),
          repo: "compat/names",
          tar,
          chunkSize,
        });
        const goToc = tocOf(theirs.blob).toc;
        assert.ok(
          goToc.entries.some((e) => e.userName === "root"),
          "the tar has names",
        );
        assert.deepEqual(tocDiffs(tocOf(mine.blob).toc, goToc, ["ours", "Go"]), []);
      },
    );

    test(
      'names prefixed with "./" and a root entry: both ways, and the same TOC',
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const tarFile = join(tmp.path, "fixture-dot.tar");
        const tar = await archiveTree(fixture.root, tarFile, { dotPrefix: true });
        const expected = expectedEntries(tar);
        assert.equal(expected[0]?.name, "", "the root is an entry");
        const mine = await buildOurs(tarFile, join(tmp.path, "our-dot.estargz"), { chunkSize });
        const goOnOurs = await verifyWithGo(join(tmp.path, "our-dot.estargz"));
        assert.deepEqual(compareListing(expected, goOnOurs.entries).diffs, []);
        const theirs = await convertWithGo({
          registry,
          containerd,
          dir: join(tmp.path, "go-convert-dot"),
          repo: "compat/dot",
          tar,
          chunkSize,
        });
        const reader = await openLayer(bufferSource(theirs.blob));
        assert.deepEqual(compareListing(expected, await listWithOurReader(reader)).diffs, []);
        assert.deepEqual(
          tocDiffs(tocOf(mine.blob).toc, tocOf(theirs.blob).toc, ["ours", "Go"]),
          [],
        );
        assert.deepEqual(tocOf(mine.blob).tarNames, tocOf(theirs.blob).tarNames);
      },
    );

    test(
      "default chunk size: a 9 MiB file is chunked as Go chunks it",
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const dir = join(tmp.path, "default-chunk");
        await mkdir(join(dir, "tree"), { recursive: true });
        const lines = Array.from(
          { length: 600_000 },
          (_, i) => `line ${i} of a file past two default chunks\n`,
        );
        const big = Buffer.from(lines.join("")).subarray(0, 9 << 20);
        await writeFile(join(dir, "tree", "nine-mib.bin"), big);
        const tarFile = join(dir, "big.tar");
        const tar = await archiveTree(join(dir, "tree"), tarFile);
        const { blob: mine } = await buildOurs(tarFile, join(dir, "ours.estargz")); // default chunk size
        const theirs = await convertWithGo({
          registry,
          containerd,
          dir: join(dir, "go"),
          repo: "compat/default-chunk",
          tar,
        });
        const chunks = tocOf(theirs.blob).toc.entries.filter((e) => e.name === "nine-mib.bin");
        assert.equal(chunks.length, 3, "4 MiB + 4 MiB + 1 MiB");
        assert.deepEqual(tocDiffs(tocOf(mine).toc, tocOf(theirs.blob).toc, ["ours", "Go"]), []);
      },
    );

    test(
      "duplicate names: the later entry wins, at the later position, as in Go",
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const dir = join(tmp.path, "duplicates");
        for (const [tree, content] of [
          ["v1", "first version\n"],
          ["v2", "second version, longer\n"],
        ] as const) {
          await mkdir(join(dir, tree, "d"), { recursive: true });
          await writeFile(join(dir, tree, "d", "f"), content);
          await writeFile(join(dir, tree, "g"), "g\n");
        }
        const tarFile = join(dir, "dup.tar");
        await promisify(execFile)("tar", [
          "--format=pax",
          "-cf",
          tarFile,
          "-C",
          join(dir, "v1"),
          "d",
          "g",
        ]);
        await promisify(execFile)("tar", [
          "--format=pax",
          "-rf",
          tarFile,
          "-C",
          join(dir, "v2"),
          "d",
        ]);
        const tar = await readFile(tarFile);
        const mine = await buildOurs(tarFile, join(dir, "ours.estargz"), {
          chunkSize,
          randomAccess: true,
        });
        const theirs = await convertWithGo({
          registry,
          containerd,
          dir: join(dir, "go"),
          repo: "compat/dup",
          tar,
          chunkSize,
        });
        const goToc = tocOf(theirs.blob).toc;
        assert.deepEqual(
          goToc.entries.map((e) => e.name),
          [".no.prefetch.landmark", "g", "d/", "d/f"],
        );
        assert.deepEqual(tocDiffs(tocOf(mine.blob).toc, goToc, ["ours", "Go"]), []);
        const go = await verifyWithGo(join(dir, "ours.estargz"), {
          tocDigest: mine.result.tocDigest,
        });
        assert.equal(
          go.entries.find((e) => e.name === "d/f")?.sha256,
          sha256(Buffer.from("second version, longer\n")),
        );
      },
    );

    test(
      "with prioritized files: Go accepts it and orders entries as Go does",
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const blobFile = join(tmp.path, "our-prioritized.estargz");
        const mine = await buildOurs(fixture.tarFile, blobFile, { chunkSize, prioritizedFiles });
        const verified = await verifyWithGo(blobFile, { tocDigest: mine.result.tocDigest });
        const { diffs, landmarks } = compareListing(fixture.entries, verified.entries);
        assert.deepEqual(diffs, []);
        assert.deepEqual(landmarks, [".prefetch.landmark"]);
        const theirs = await convertWithGo({
          registry,
          containerd,
          dir: join(tmp.path, "go-convert-prioritized"),
          repo: "compat/prioritized",
          tar: fixture.tar,
          chunkSize,
          prioritizedFiles,
        });
        const order = (b: Buffer): string[] =>
          comparableToc(tocOf(b).toc).map((e) => `${e.type} ${e.name}`);
        assert.deepEqual(order(mine.blob), order(theirs.blob));
        const tocDiff = tocDiffs(tocOf(mine.blob).toc, tocOf(theirs.blob).toc, ["ours", "Go"]);
        assert.deepEqual(tocDiff, []);
      },
    );

    test(
      "containerd pulls an image of our layer and ctr-remote reads its TOC digest",
      { skip: skipConvert },
      async () => {
        assert.ok(registry && containerd);
        const layout = await writeOciLayout(join(tmp.path, "our-oci"), [
          {
            blob: ours.blob,
            diffID: ours.result.diffID,
            annotations: {
              [annotations.tocDigest]: ours.result.tocDigest,
              [annotations.uncompressedSize]: `${ours.result.uncompressedSize}`,
            },
          },
        ]);
        const ref = `${registry.host}/compat/ours:v1`;
        await pushOciLayout(layout, ref);
        // A plain pull unpacks the layer as tar.gz and checks it against the config's diffID.
        await containerd.ctrRemote(["image", "pull", "--plain-http", ref]);
        const got = await containerd.ctrRemote(["image", "get-toc-digest", ours.result.digest]);
        assert.equal(got.trim(), ours.result.tocDigest);
      },
    );
  });

  describe("d: the stargz layer command agrees", { skip: skipGoBoth }, () => {
    test("`layer ls` and `layer cat` on Go's layer match the source tar", async () => {
      const layer = await goLayer();
      const { diffs, landmarks } = compareListing(
        fixture.entries,
        await listWithCli(layer.blobFile),
      );
      assert.deepEqual(diffs, []);
      assert.deepEqual(landmarks, [".no.prefetch.landmark"]);
      const byName = new Map(fixture.entries.map((e) => [e.name, e]));
      const samples = [
        "a-dir/sub/deeper/big.bin",
        "exact-two-chunks.bin",
        "exact-one-chunk.bin",
        "empty",
        "ünïcødé/emoji-😀.txt",
        "z-hardlinks/to-big",
        "whiteouts/.wh.deleted-file",
      ];
      for (const name of samples) {
        const entry = byName.get(name)!;
        const want = entry.sha256 ?? byName.get(entry.linkName)?.sha256;
        const { code, stdout, stderr } = await stargz(["layer", "cat", layer.blobFile, name]);
        assert.equal(code, 0, stderr);
        assert.equal(sha256(stdout), want, name);
      }
      const missing = await stargz(["layer", "cat", layer.blobFile, "no/such/file"]);
      assert.equal(missing.code, 1);
    });

    test("`layer verify` accepts Go's layer and refuses a wrong digest or a corrupted blob", async () => {
      const layer = await goLayer();
      const tocDigest = layer.descriptor.annotations?.[annotations.tocDigest] ?? "";
      const ok = await stargz(["layer", "verify", layer.blobFile, "--toc-digest", tocDigest]);
      assert.equal(ok.code, 0, ok.stderr);
      const wrong = sha256(Buffer.from("other"));
      assert.equal(
        (await stargz(["layer", "verify", layer.blobFile, "--toc-digest", wrong])).code,
        1,
      );
      const corrupt = Buffer.from(layer.blob);
      const at = Math.floor(corrupt.length / 3);
      corrupt[at] = (corrupt[at] ?? 0) ^ 0xff;
      const corruptFile = join(tmp.path, "cli-corrupt.estargz");
      await writeFile(corruptFile, corrupt);
      assert.equal((await stargz(["layer", "verify", corruptFile])).code, 1);
    });

    test("`layer build` output, from tar and tar.gz, is accepted by Go and lists the source tar", async () => {
      const tarGz = join(tmp.path, "fixture.tar.gz");
      await writeFile(tarGz, gzipSync(fixture.tar));
      const results = [];
      for (const [input, out] of [
        [fixture.tarFile, join(tmp.path, "cli-from-tar.estargz")],
        [tarGz, join(tmp.path, "cli-from-targz.estargz")],
      ] as const) {
        const built = await stargz(["layer", "build", input, out, "--chunk-size", `${chunkSize}`]);
        assert.equal(built.code, 0, built.stderr);
        const result = JSON.parse(built.stdout.toString()) as BuildResult;
        const go = await verifyWithGo(out, { tocDigest: result.tocDigest });
        assert.deepEqual(compareListing(fixture.entries, go.entries).diffs, []);
        assert.equal(go.summary.diffID, result.diffID);
        assert.equal(result.digest, digestOf(await readFile(out)));
        assert.deepEqual(compareListing(fixture.entries, await listWithCli(out)).diffs, []);
        results.push(result);
      }
      assert.equal(results[0]?.tocDigest, results[1]?.tocDigest, "same TOC from tar and tar.gz");
    });

    test("`layer build --prioritized-files` puts them first, as Go does", async () => {
      const list = join(tmp.path, "prioritized.txt");
      await writeFile(list, prioritizedFiles.join("\n") + "\n");
      const out = join(tmp.path, "cli-prioritized.estargz");
      const built = await stargz([
        "layer",
        "build",
        fixture.tarFile,
        out,
        "--chunk-size",
        `${chunkSize}`,
        "--prioritized-files",
        list,
      ]);
      assert.equal(built.code, 0, built.stderr);
      const result = JSON.parse(built.stdout.toString()) as BuildResult;
      const go = await verifyWithGo(out, { tocDigest: result.tocDigest });
      const { diffs, landmarks } = compareListing(fixture.entries, go.entries);
      assert.deepEqual(diffs, []);
      assert.deepEqual(landmarks, [".prefetch.landmark"]);
      const landmarkAt = go.entries.findIndex((e) => e.name === ".prefetch.landmark");
      const first = new Set(go.entries.slice(0, landmarkAt).map((e) => e.name));
      for (const name of prioritizedFiles)
        assert.ok(first.has(name), `${name} before the landmark`);
      assert.ok(first.has("a-dir/sub/deeper/big.bin"), "a prioritized hardlink's target moves too");
    });
  });
});
