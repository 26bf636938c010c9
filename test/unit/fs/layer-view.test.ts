import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { openLayer, type LayerReader } from "../../../src/estargz/index.ts";
import { LayerView, makeDev, nodeStat, type Visible } from "../../../src/agent/fs/layer-view.ts";
import { buildTestLayer } from "../../support/layer-fs.ts";
import { memoryBlob } from "../../support/memory-blob.ts";

async function open(entries: Parameters<typeof buildTestLayer>[0]): Promise<LayerReader> {
  const layer = await buildTestLayer(entries);
  return openLayer(memoryBlob(layer.blob));
}

function names(view: LayerView, path: string): string[] {
  return view.list(view.resolve(path)!).map((e) => e.name);
}

describe("LayerView: whiteouts, opaque dirs, hidden entries", () => {
  let view: LayerView;
  before(async () => {
    const reader = await open([
      { type: "dir", name: "d" },
      { type: "reg", name: "d/.wh.gone", content: Buffer.alloc(0) },
      { type: "reg", name: "d/.wh.replaced", content: Buffer.alloc(0) },
      { type: "reg", name: "d/replaced", content: Buffer.from("new") },
      { type: "reg", name: "d/kept", content: Buffer.from("k") },
      { type: "dir", name: "o" },
      { type: "reg", name: "o/.wh..wh..opq", content: Buffer.alloc(0) },
      { type: "reg", name: "o/inside", content: Buffer.from("i") },
    ]);
    view = new LayerView(reader.index, "sha256:abc.json");
  });

  test("a .wh.NAME entry shows as NAME, a char device 0/0; the .wh. entry itself is hidden", () => {
    assert.deepEqual(names(view, "/d"), ["gone", "kept", "replaced"]);
    const gone = view.resolve("/d/gone")!;
    assert.equal(gone.kind, "whiteout");
    const stat = view.stat(gone);
    assert.equal(stat.mode, 0o020000);
    assert.equal(stat.rdev, 0);
    assert.equal(view.resolve("/d/.wh.gone"), undefined);
  });

  test("a whiteout next to a real entry of the same name yields to it", () => {
    const replaced = view.resolve("/d/replaced") as Extract<Visible, { kind: "node" }>;
    assert.equal(replaced.kind, "node");
    assert.equal(replaced.node.type, "reg");
  });

  test("opaque dirs report the overlay xattrs and hide their marker", () => {
    const o = view.resolve("/o")!;
    assert.equal(view.isOpaque(o), true);
    assert.equal(view.xattr(o, "trusted.overlay.opaque")?.toString(), "y");
    assert.equal(view.xattr(o, "user.overlay.opaque")?.toString(), "y");
    assert.deepEqual(view.xattrNames(o), ["trusted.overlay.opaque", "user.overlay.opaque"]);
    assert.deepEqual(names(view, "/o"), ["inside"]);
    assert.equal(view.isOpaque(view.resolve("/d")!), false);
    assert.equal(view.xattr(view.resolve("/d")!, "trusted.overlay.opaque"), undefined);
  });

  test("the root hides landmarks and shows the state directory with one file", () => {
    assert.deepEqual(names(view, "/"), [".stargz-snapshotter", "d", "o"]);
    assert.equal(view.resolve("/.no.prefetch.landmark"), undefined);
    assert.deepEqual(names(view, "/.stargz-snapshotter"), ["sha256:abc.json"]);
    const file = view.resolve("/.stargz-snapshotter/sha256:abc.json")!;
    assert.equal(file.kind, "state-file");
    assert.equal(view.stat(file, 42).mode, 0o100400);
    assert.equal(view.stat(file, 42).size, 42);
    assert.equal(view.stat(view.resolve("/.stargz-snapshotter")!).mode, 0o040500);
    assert.equal(view.resolve("/.stargz-snapshotter/other.json"), undefined);
  });

  test("paths through files or missing names resolve to nothing", () => {
    assert.equal(view.resolve("/d/kept/x"), undefined);
    assert.equal(view.resolve("/nope"), undefined);
  });
});

describe("stats", () => {
  test("mode keeps setuid/setgid/sticky bits with the type; hardlinks share inode and count", async () => {
    const reader = await open([
      { type: "reg", name: "s", content: Buffer.from("x"), mode: 0o4755, uid: 7, gid: 8 },
      { type: "hardlink", name: "h", linkName: "s" },
      { type: "dir", name: "t", mode: 0o1777 },
      { type: "dir", name: "t/sub" },
      { type: "symlink", name: "l", linkName: "s" },
      { type: "block", name: "b", devMajor: 7, devMinor: 300 },
    ]);
    const s = nodeStat(reader.lookup("s")!);
    assert.equal(s.mode, 0o104755);
    assert.deepEqual([s.uid, s.gid, s.nlink, s.size, s.mtime], [7, 8, 2, 1, 1_700_000_000_000]);
    assert.equal(nodeStat(reader.lookup("h")!).ino, s.ino);
    const t = nodeStat(reader.lookup("t")!);
    assert.equal(t.mode, 0o041777);
    assert.equal(t.nlink, 3);
    assert.equal(nodeStat(reader.lookup("l")!).size, 1);
    assert.equal(nodeStat(reader.lookup("b")!).rdev, makeDev(7, 300));
  });

  test("makeDev matches the kernel's new_encode_dev", () => {
    assert.equal(makeDev(1, 3), 0x103);
    assert.equal(makeDev(7, 300), (7 << 8) | (300 & 0xff) | ((300 & 0xfff00) << 12));
  });
});
