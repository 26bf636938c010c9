/**
 * The FUSE layer filesystem for real: layers built in memory, mounted with
 * fuse-native, inspected only from child processes (this process serves the
 * mount; touching it from here could deadlock).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { missingForIntegration } from "../support/gates.ts";
import { noise, type TestEntry } from "../support/tar-builder.ts";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import {
  buildTestLayer,
  catFile,
  mountTestLayer,
  run,
  sha256Hex,
  type MountedTestLayer,
  type TestLayer,
} from "../support/layer-fs.ts";

const skip = missingForIntegration([
  "fusermount",
  "stat",
  "getfattr",
  "sha256sum",
  "mount",
  "umount",
]);
const CHUNK = 64 << 10;
const MTIME = 1_700_000_000;

const bigContent = noise(5 * CHUNK + 1234, 7);
const smallFiles = Array.from({ length: 40 }, (_, i) => ({
  name: `files/f${i}`,
  content: noise(20_000 + i, 100 + i),
}));

const entries: TestEntry[] = [
  { type: "dir", name: "etc", mode: 0o755 },
  { type: "reg", name: "etc/hostname", content: Buffer.from("stargz\n") },
  { type: "reg", name: "big.bin", content: bigContent, mode: 0o640, uid: 1000, gid: 1001 },
  { type: "dir", name: "bin" },
  {
    type: "reg",
    name: "bin/setuid",
    content: Buffer.from("#!/bin/sh\n"),
    mode: 0o4755,
    uid: 0,
    gid: 50,
  },
  { type: "hardlink", name: "bin/setuid-link", linkName: "bin/setuid" },
  { type: "symlink", name: "link", linkName: "etc/hostname" },
  { type: "dir", name: "dev" },
  { type: "char", name: "dev/null", devMajor: 1, devMinor: 3, mode: 0o666 },
  { type: "block", name: "dev/loop", devMajor: 7, devMinor: 200, mode: 0o660 },
  { type: "fifo", name: "dev/fifo", mode: 0o644 },
  {
    type: "reg",
    name: "xattr.txt",
    content: Buffer.from("x\n"),
    xattrs: { "user.comment": Buffer.from("hello") },
  },
  { type: "dir", name: "del" },
  { type: "reg", name: "del/.wh.gone", content: Buffer.alloc(0) },
  { type: "dir", name: "opq" },
  { type: "reg", name: "opq/.wh..wh..opq", content: Buffer.alloc(0) },
  { type: "reg", name: "opq/new.txt", content: Buffer.from("new\n") },
  { type: "dir", name: "files" },
  ...smallFiles.map((f) => ({ type: "reg" as const, ...f })),
  { type: "reg", name: "empty", content: Buffer.alloc(0) },
];

const regularFiles = new Map<string, Buffer>([
  ["etc/hostname", Buffer.from("stargz\n")],
  ["big.bin", bigContent],
  ["bin/setuid", Buffer.from("#!/bin/sh\n")],
  ["bin/setuid-link", Buffer.from("#!/bin/sh\n")],
  ["xattr.txt", Buffer.from("x\n")],
  ["opq/new.txt", Buffer.from("new\n")],
  ["empty", Buffer.alloc(0)],
  ...smallFiles.map((f) => [f.name, f.content] as [string, Buffer]),
]);

async function statOf(path: string): Promise<string[]> {
  // raw mode (hex), uid, gid, size, mtime, links, inode, major, minor (hex)
  const { stdout } = await run("stat", ["-c", "%f %u %g %s %Y %h %i %t %T", path]);
  return stdout.toString().trim().split(" ");
}

async function expectFailure(cmd: string, args: string[], pattern: RegExp): Promise<void> {
  await assert.rejects(run(cmd, args), pattern);
}

describe("layer filesystem over FUSE", { skip }, () => {
  let tmp: TempDir;
  let layer: TestLayer;
  const mounts: MountedTestLayer[] = [];
  const mount = async (
    options: Parameters<typeof mountTestLayer>[2] = {},
    which: TestLayer = layer,
  ): Promise<MountedTestLayer> => {
    const m = await mountTestLayer(tmp.path, which, options);
    mounts.push(m);
    return m;
  };

  before(async () => {
    tmp = await makeTempDir("sgz-fs-");
    layer = await buildTestLayer(entries, { chunkSize: CHUNK });
  });

  after(async () => {
    for (const m of mounts) await m.unmount();
    await tmp.remove();
  });

  test("every file's content matches the source", async () => {
    const m = await mount();
    const paths = [...regularFiles.keys()];
    const { stdout } = await run(
      "sha256sum",
      paths.map((p) => join(m.mountpoint, p)),
    );
    const sums = new Map(
      stdout
        .toString()
        .trim()
        .split("\n")
        .map((line) => {
          const [sum, path] = line.split(/\s+/);
          return [path!.slice(m.mountpoint.length + 1), sum!];
        }),
    );
    for (const [path, content] of regularFiles)
      assert.equal(sums.get(path), sha256Hex(content), path);
  });

  test("stat fields: modes with setuid, owners, sizes, times, hardlinks, devices, symlinks", async () => {
    const m = await mount();
    const at = (p: string): string => join(m.mountpoint, p);
    const big = await statOf(at("big.bin"));
    assert.deepEqual(big.slice(0, 6), [
      "81a0",
      "1000",
      "1001",
      String(bigContent.length),
      String(MTIME),
      "1",
    ]);
    const setuid = await statOf(at("bin/setuid"));
    const link = await statOf(at("bin/setuid-link"));
    assert.deepEqual(setuid.slice(0, 6), ["89ed", "0", "50", "10", String(MTIME), "2"]);
    assert.equal(link[6], setuid[6], "hardlinks share an inode number");
    assert.equal(link[5], "2");
    assert.deepEqual(
      (await statOf(at("dev/null"))).slice(0, 1).concat((await statOf(at("dev/null"))).slice(7)),
      ["21b6", "1", "3"],
    );
    assert.deepEqual((await statOf(at("dev/loop"))).slice(7), ["7", "c8"]);
    assert.equal((await statOf(at("dev/fifo")))[0], "11a4");
    assert.equal((await run("readlink", [at("link")])).stdout.toString(), "etc/hostname\n");
    assert.equal((await statOf(at("link")))[3], String("etc/hostname".length));
    assert.equal((await statOf(at("etc")))[0], "41ed");
    const again = await statOf(at("big.bin"));
    assert.equal(again[6], big[6], "inode numbers are stable");
  });

  test("xattrs, whiteouts and opaque directories as overlayfs expects", async () => {
    const m = await mount();
    const at = (p: string): string => join(m.mountpoint, p);
    const xattr = await run("getfattr", ["--only-values", "-n", "user.comment", at("xattr.txt")]);
    assert.equal(xattr.stdout.toString(), "hello");
    const opaque = await run("getfattr", [
      "--only-values",
      "-n",
      "trusted.overlay.opaque",
      at("opq"),
    ]);
    assert.equal(opaque.stdout.toString(), "y");
    const userOpaque = await run("getfattr", [
      "--only-values",
      "-n",
      "user.overlay.opaque",
      at("opq"),
    ]);
    assert.equal(userOpaque.stdout.toString(), "y");
    const listing = (await run("ls", ["-A", at("del"), at("opq"), at("")])).stdout.toString();
    assert.doesNotMatch(listing, /\.wh\./);
    assert.doesNotMatch(listing, /landmark/);
    const gone = await statOf(at("del/gone"));
    assert.deepEqual(
      [gone[0], gone[7], gone[8]],
      ["2000", "0", "0"],
      "whiteout is a char device 0/0",
    );
    await expectFailure("stat", [at("del/.wh.gone")], /No such file/);
  });

  test("as an overlayfs lower dir, whiteouts delete and opaque dirs hide the layers below", async () => {
    const m = await mount();
    const lower = join(tmp.path, "lower");
    const merged = join(tmp.path, "merged");
    await mkdir(join(lower, "del"), { recursive: true });
    await mkdir(join(lower, "opq"), { recursive: true });
    await mkdir(merged, { recursive: true });
    await writeFile(join(lower, "del", "gone"), "old\n");
    await writeFile(join(lower, "del", "kept"), "kept\n");
    await writeFile(join(lower, "opq", "old.txt"), "old\n");
    await run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `ro,lowerdir=${m.mountpoint}:${lower}`,
      merged,
    ]);
    try {
      const del = (await run("ls", ["-A", join(merged, "del")])).stdout
        .toString()
        .trim()
        .split("\n");
      assert.deepEqual(del, ["kept"]);
      const opq = (await run("ls", ["-A", join(merged, "opq")])).stdout
        .toString()
        .trim()
        .split("\n");
      assert.deepEqual(opq, ["new.txt"]);
      const big = (await run("sha256sum", [join(merged, "big.bin")])).stdout
        .toString()
        .split(" ")[0];
      assert.equal(big, sha256Hex(bigContent));
    } finally {
      await run("umount", [merged]);
    }
  });

  test("mounter contract: check, double mount, stale mounts, idempotent unmount", async () => {
    const m = await mount();
    await m.mounter.check(m.mountpoint);
    const again = { digest: layer.digest, reader: undefined as never, source: m.source };
    await assert.rejects(
      m.mounter.mount(m.mountpoint, again, AbortSignal.timeout(1000)),
      /already mounted/,
    );
    await run("fusermount", ["-u", m.mountpoint]);
    await assert.rejects(m.mounter.check(m.mountpoint), /mount is gone/);
    await m.mounter.unmount(m.mountpoint);
    await m.mounter.unmount(m.mountpoint);
    await assert.rejects(m.mounter.check(m.mountpoint), /no layer is mounted/);
    await assert.rejects(
      m.mounter.mount("relative/path", again, AbortSignal.timeout(1000)),
      /absolute/,
    );
  });

  test("writes get EROFS", async () => {
    const m = await mount();
    await expectFailure("touch", [join(m.mountpoint, "new-file")], /Read-only file system/);
    await expectFailure(
      "sh",
      ["-c", `echo x >> ${join(m.mountpoint, "etc/hostname")}`],
      /Read-only file system/,
    );
    await expectFailure("mkdir", [join(m.mountpoint, "d")], /Read-only file system/);
    await expectFailure("rm", ["-f", join(m.mountpoint, "etc/hostname")], /Read-only file system/);
  });

  test("reading one small file fetches far less than the blob, in one request", async () => {
    const m = await mount();
    const data = await catFile(join(m.mountpoint, "files/f3"));
    assert.equal(sha256Hex(data), sha256Hex(smallFiles[3]!.content));
    assert.equal(m.source.requests, 1);
    assert.ok(
      m.source.bytesRead < layer.blob.length / 10,
      `${m.source.bytesRead} of ${layer.blob.length}`,
    );
  });

  test("concurrent readers of the same chunk share one fetch", async () => {
    const m = await mount();
    m.source.delayMs = 300;
    const path = join(m.mountpoint, "files/f5");
    const results = await Promise.all(Array.from({ length: 6 }, () => catFile(path)));
    for (const r of results) assert.equal(sha256Hex(r), sha256Hex(smallFiles[5]!.content));
    assert.equal(m.source.requests, 1);
  });

  test("a failing source gives EIO, records the cause, and cached files stay readable", async () => {
    const m = await mount();
    await catFile(join(m.mountpoint, "files/f1"));
    m.source.mode = "fail";
    await expectFailure("cat", [join(m.mountpoint, "files/f2")], /Input\/output error/);
    assert.equal(
      sha256Hex(await catFile(join(m.mountpoint, "files/f1"))),
      sha256Hex(smallFiles[1]!.content),
    );
    const stateFile = join(m.mountpoint, ".stargz-snapshotter", `${layer.digest}.json`);
    const state = JSON.parse((await catFile(stateFile)).toString()) as {
      error?: string;
      digest: string;
    };
    assert.equal(state.digest, layer.digest);
    assert.match(state.error ?? "", /registry unreachable/);
    m.source.mode = "ok";
    assert.equal(
      sha256Hex(await catFile(join(m.mountpoint, "files/f2"))),
      sha256Hex(smallFiles[2]!.content),
    );
  });

  test("corrupted blob bytes give EIO, never wrong content", async () => {
    const m = await mount();
    m.source.mode = "corrupt";
    await expectFailure("cat", [join(m.mountpoint, "files/f8")], /Input\/output error/);
    assert.match(m.mounter.state(m.mountpoint).error ?? "", /verification/);
  });

  test("a hanging source gives EIO within the fetch timeout", async () => {
    const m = await mount({ fetchTimeoutMs: 1000 });
    m.source.mode = "hang";
    const started = Date.now();
    await expectFailure("cat", [join(m.mountpoint, "files/f7")], /Input\/output error/);
    const took = Date.now() - started;
    assert.ok(took < 3000, `took ${took} ms`);
    assert.match(m.mounter.state(m.mountpoint).error ?? "", /timed out/);
  });

  test("the disk cache is reused after a remount, verified", async () => {
    const cacheDir = join(tmp.path, "cache");
    const first = await mount({ cacheDir });
    await catFile(join(first.mountpoint, "files/f9"));
    await first.unmount();
    await new Promise((r) => setTimeout(r, 200)); // disk writes finish in the background
    const second = await mount({ cacheDir });
    second.source.mode = "fail";
    const data = await catFile(join(second.mountpoint, "files/f9"));
    assert.equal(sha256Hex(data), sha256Hex(smallFiles[9]!.content));
    assert.equal(second.source.bytesRead, 0);
  });

  test("a corrupted disk cache entry is detected, dropped and fetched again", async () => {
    const cacheDir = join(tmp.path, "cache-corrupt");
    const first = await mount({ cacheDir });
    await catFile(join(first.mountpoint, "files/f10"));
    await first.unmount();
    await new Promise((r) => setTimeout(r, 200));
    const { stdout } = await run("find", [cacheDir, "-type", "f"]);
    const entries = stdout.toString().trim().split("\n");
    assert.equal(entries.length, 1);
    await writeFile(entries[0]!, Buffer.alloc(smallFiles[10]!.content.length, 0x41));
    const second = await mount({ cacheDir });
    const data = await catFile(join(second.mountpoint, "files/f10"));
    assert.equal(sha256Hex(data), sha256Hex(smallFiles[10]!.content));
    assert.equal(second.source.requests, 1);
  });

  test("prefetch fetches everything before the landmark in one request", async () => {
    const prioritized = await buildTestLayer(entries, {
      chunkSize: CHUNK,
      prioritizedFiles: ["files/f11", "files/f12"],
    });
    const m = await mount({}, prioritized);
    assert.equal(await m.mounter.waitForPrefetch(m.mountpoint, 5000), true);
    assert.equal(m.source.requests, 1);
    const before = m.source.bytesRead;
    assert.ok(before > 0 && before < prioritized.blob.length / 4);
    m.source.mode = "fail";
    for (const name of ["files/f11", "files/f12"]) {
      const index = Number(name.slice("files/f".length));
      assert.equal(
        sha256Hex(await catFile(join(m.mountpoint, name))),
        sha256Hex(smallFiles[index]!.content),
      );
    }
    assert.equal(m.mounter.state(m.mountpoint).prefetch, "done");
  });

  test("background fetch completes the layer", async () => {
    const m = await mount({ noBackgroundFetch: false, cacheDir: join(tmp.path, "bg-cache") });
    await m.mounter.waitForBackgroundFetch(m.mountpoint);
    const state = m.mounter.state(m.mountpoint);
    assert.equal(state.backgroundFetch, "done");
    assert.equal(state.fetchedPercent, 100);
    m.source.mode = "fail";
    const paths = [...regularFiles.keys()].map((p) => join(m.mountpoint, p));
    const { stdout } = await run("sha256sum", paths);
    assert.equal(stdout.toString().trim().split("\n").length, paths.length);
  });
});
