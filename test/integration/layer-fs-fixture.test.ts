/**
 * A real layer: the compatibility fixture tree (every entry kind, made with
 * mknod, chown, setfattr) archived by GNU tar, converted by our builder,
 * mounted through FUSE and compared entry by entry with the tree it came from.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { join } from "node:path";
import { buildLayer } from "../../src/estargz/index.ts";
import { createFixture, fixtureSkipReason, type Fixture } from "../support/fixture-tree.ts";
import { missingForIntegration } from "../support/gates.ts";
import { memoryBlob, memorySink } from "../support/memory-blob.ts";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { mountTestLayer, run, sha256Hex, type MountedTestLayer } from "../support/layer-fs.ts";

const skip =
  missingForIntegration(["fusermount", "stat", "getfattr", "sha256sum"]) ?? fixtureSkipReason();
const CHUNK = 64 << 10;

// %f raw mode, %u %g owners, %s size, %h links, %t %T device major/minor (hex), %Y mtime
async function stats(paths: string[]): Promise<string[][]> {
  const { stdout } = await run("stat", ["-c", "%f|%u|%g|%s|%h|%t|%T|%Y", ...paths]);
  return stdout
    .toString()
    .trim()
    .split("\n")
    .map((line) => line.split("|"));
}

let tmp: TempDir;
let fixture: Fixture;
let mounted: MountedTestLayer;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir("sgz-fsfix-");
  fixture = await createFixture({ dir: tmp.path, chunkSize: CHUNK });
  const sink = memorySink();
  const result = await buildLayer(memoryBlob(fixture.tar), sink, {
    chunkSize: CHUNK,
    compressionLevel: 1,
  });
  mounted = await mountTestLayer(tmp.path, { blob: sink.bytes(), digest: result.digest });
});

after(async () => {
  if (skip) return;
  await mounted?.unmount();
  await tmp?.remove();
});

test("every entry of a GNU tar layer looks through FUSE as it does on disk", { skip }, async () => {
  const visible = fixture.entries.filter(
    (e) => !e.name.split("/").some((p) => p.startsWith(".wh.")),
  );
  const onDisk = await stats(visible.map((e) => join(fixture.root, e.name)));
  const onMount = await stats(visible.map((e) => join(mounted.mountpoint, e.name)));
  visible.forEach((entry, i) => {
    const [mode, uid, gid, size, links, major, minor, mtime] = onMount[i]!;
    const disk = onDisk[i]!;
    assert.deepEqual(
      [mode, uid, gid, entry.type === "dir" ? "-" : size, links, major, minor],
      [disk[0], disk[1], disk[2], entry.type === "dir" ? "-" : disk[3], disk[4], disk[5], disk[6]],
      entry.name,
    );
    const expectedMtime = entry.modtime === "" ? 0 : Date.parse(entry.modtime) / 1000;
    assert.equal(Number(mtime), expectedMtime, `${entry.name} mtime`);
  });
});

test("contents, symlink targets and xattrs match", { skip }, async () => {
  const files = fixture.entries.filter(
    (e) =>
      (e.type === "reg" || e.type === "hardlink") &&
      !e.name.split("/").some((p) => p.startsWith(".wh.")),
  );
  const { stdout } = await run(
    "sha256sum",
    files.map((e) => join(mounted.mountpoint, e.name)),
  );
  const sums = stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/)[0]);
  const byName = new Map(fixture.entries.map((e) => [e.name, e]));
  files.forEach((entry, i) => {
    const target = entry.type === "hardlink" ? byName.get(entry.linkName)! : entry;
    assert.equal(`sha256:${sums[i]}`, target.sha256, entry.name);
  });
  for (const entry of fixture.entries.filter((e) => e.type === "symlink")) {
    const { stdout: target } = await run("readlink", [join(mounted.mountpoint, entry.name)]);
    assert.equal(target.toString().trimEnd(), entry.linkName, entry.name);
  }
  for (const entry of fixture.entries.filter((e) => Object.keys(e.xattrs).length > 0)) {
    for (const [name, value] of Object.entries(entry.xattrs)) {
      const args = ["--only-values", "-n", name, join(mounted.mountpoint, entry.name)];
      const { stdout: got } = await run("getfattr", args);
      assert.equal(
        sha256Hex(got),
        sha256Hex(Buffer.from(value, "base64")),
        `${entry.name} ${name}`,
      );
    }
  }
});

test(
  "whiteouts and opaque markers of the fixture are presented for overlayfs",
  { skip },
  async () => {
    const [gone] = await stats([join(mounted.mountpoint, "whiteouts/deleted-file")]);
    assert.deepEqual([gone![0], gone![5], gone![6]], ["2000", "0", "0"]);
    const { stdout } = await run("getfattr", [
      "--only-values",
      "-n",
      "trusted.overlay.opaque",
      join(mounted.mountpoint, "whiteouts/opaque"),
    ]);
    assert.equal(stdout.toString(), "y");
    const { stdout: listing } = await run("ls", [
      "-A",
      join(mounted.mountpoint, "whiteouts/opaque"),
    ]);
    assert.equal(listing.toString(), "kept.txt\n");
  },
);
