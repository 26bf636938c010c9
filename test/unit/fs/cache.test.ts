import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readdir, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DiskCache, MemoryLru } from "../../../src/agent/cache/index.ts";
import { makeTempDir } from "../../support/tmp.ts";

describe("MemoryLru", () => {
  test("evicts least recently used entries past the byte bound", () => {
    const lru = new MemoryLru({ maxBytes: 10 });
    lru.set("a", Buffer.alloc(4));
    lru.set("b", Buffer.alloc(4));
    assert.ok(lru.get("a")); // a is now most recent
    lru.set("c", Buffer.alloc(4));
    assert.equal(lru.has("b"), false);
    assert.equal(lru.has("a"), true);
    assert.equal(lru.has("c"), true);
    assert.equal(lru.bytes, 8);
  });

  test("does not keep a buffer larger than the bound, and replaces in place", () => {
    const lru = new MemoryLru({ maxBytes: 10 });
    lru.set("big", Buffer.alloc(11));
    assert.equal(lru.size, 0);
    lru.set("a", Buffer.alloc(3));
    lru.set("a", Buffer.alloc(5));
    assert.equal(lru.bytes, 5);
    lru.delete("a");
    assert.equal(lru.bytes, 0);
  });
});

describe("DiskCache", () => {
  test("add/commit makes a blob readable; abort leaves nothing", async () => {
    const tmp = await makeTempDir();
    try {
      const cache = await DiskCache.open({ dir: tmp.path, maxBytes: 1 << 20 });
      const w = cache.add("abcdef");
      w.write(Buffer.from("hello "));
      w.write(Buffer.from("world"));
      assert.equal(cache.has("abcdef"), false);
      await w.commit();
      assert.equal((await cache.get("abcdef"))?.toString(), "hello world");
      const aborted = cache.add("aborted");
      aborted.write(Buffer.from("x"));
      await aborted.abort();
      assert.equal(cache.has("aborted"), false);
      assert.equal(await cache.get("aborted"), undefined);
      const shard = await readdir(join(tmp.path, "ab"));
      assert.deepEqual(shard, ["abcdef"]);
    } finally {
      await tmp.remove();
    }
  });

  test("evicts least recently used blobs past the size limit", async () => {
    const tmp = await makeTempDir();
    try {
      const cache = await DiskCache.open({ dir: tmp.path, maxBytes: 10 });
      for (const key of ["k1", "k2"]) {
        const w = cache.add(key);
        w.write(Buffer.alloc(4));
        await w.commit();
      }
      await cache.get("k1");
      const w = cache.add("k3");
      w.write(Buffer.alloc(4));
      await w.commit();
      assert.deepEqual([cache.has("k1"), cache.has("k2"), cache.has("k3")], [true, false, true]);
      assert.equal(cache.bytes, 8);
    } finally {
      await tmp.remove();
    }
  });

  test("a reopened cache finds earlier blobs and removes partial leftovers", async () => {
    const tmp = await makeTempDir();
    try {
      const first = await DiskCache.open({ dir: tmp.path, maxBytes: 1 << 20 });
      const w = first.add("persist");
      w.write(Buffer.from("kept"));
      await w.commit();
      await mkdir(join(tmp.path, "zz"), { recursive: true });
      await writeFile(join(tmp.path, "zz", "zzz.partial-123"), "half");
      const second = await DiskCache.open({ dir: tmp.path, maxBytes: 1 << 20 });
      assert.equal((await second.get("persist"))?.toString(), "kept");
      assert.deepEqual(await readdir(join(tmp.path, "zz")), []);
    } finally {
      await tmp.remove();
    }
  });

  test("refuses keys that are not plain file names", async () => {
    const tmp = await makeTempDir();
    try {
      const cache = await DiskCache.open({ dir: tmp.path, maxBytes: 1 << 20 });
      assert.throws(() => cache.add("../escape"), /invalid cache key/);
      assert.throws(() => cache.add(""), /invalid cache key/);
    } finally {
      await tmp.remove();
    }
  });
});
