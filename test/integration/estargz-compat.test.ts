/**
 * Compatibility, both ways: layers the Go reference (ctr-remote, Debian's
 * stargz-snapshotter) converts are read by our reader, and layers our builder
 * writes are accepted by Go's estargz package. The truth in every comparison
 * is the manifest of the source tar, read by an independent tar reader.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { createFixture, fixtureSkipReason, sha256, type Fixture } from "../support/fixture-tree.ts";
import { goVerifierSkipReason, verifyWithGo, type GoVerification } from "../support/go-verifier.ts";
import {
  convertWithGo,
  goReferenceSkipReason,
  type GoConversion,
} from "../support/go-reference.ts";
import { annotations } from "../support/oci-image.ts";
import { compareListing } from "../support/manifest-compare.ts";

/** Small, so files of several chunks stay small. */
const chunkSize = 64 * 1024;

const skipFixture = fixtureSkipReason();
const skipVerifier = skipFixture ?? goVerifierSkipReason();
const skipConvert = skipFixture ?? goReferenceSkipReason();
const skipGoBoth = skipConvert ?? skipVerifier;

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
});
