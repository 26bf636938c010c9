import { test } from "node:test";
import assert from "node:assert/strict";
import { MetadataStore } from "../../../src/agent/snapshot/metadata-store.ts";
import { StargzError } from "../../../src/util/errors.ts";
import { makeTempDir } from "../../support/tmp.ts";

const code = (c: string) => (err: unknown) => err instanceof StargzError && err.code === c;

test("a transaction that throws leaves no trace", async () => {
  const store = new MetadataStore({ path: ":memory:" });
  await assert.rejects(
    store.withTransaction(true, (tx) => {
      tx.createSnapshot("active", "a", "", { l: "1" });
      throw new Error("boom");
    }),
    /metadata transaction failed/,
  );
  await assert.rejects(
    store.withTransaction(false, (tx) => tx.getInfo("a")),
    code("NOT_FOUND"),
  );
  await store.close();
});

test("an async callback keeps its transaction to itself", async () => {
  const store = new MetadataStore({ path: ":memory:" });
  const slow = store.withTransaction(true, async (tx) => {
    tx.createSnapshot("active", "slow", "", {});
    await new Promise((r) => setTimeout(r, 20));
    return tx.ids().size;
  });
  const fast = store.withTransaction(true, (tx) => tx.createSnapshot("active", "fast", "", {}).id);
  assert.equal(await slow, 1);
  assert.equal(await fast, 2);
  await store.close();
});

test("parent chains, commit, and removal rules", async () => {
  const store = new MetadataStore({ path: ":memory:" });
  await store.withTransaction(true, (tx) => {
    tx.createSnapshot("active", "k1", "", {});
    tx.commitActive("k1", "c1", { size: 10, inodes: 2 }, { x: "y" });
    const s = tx.createSnapshot("active", "k2", "c1", {});
    assert.deepEqual(s.parentIds, [1]);
    tx.commitActive("k2", "c2", { size: 1, inodes: 1 }, {});
    assert.deepEqual(tx.createSnapshot("view", "v", "c2", {}).parentIds, [2, 1]);
    assert.throws(() => tx.remove("c1"), code("FAILED_PRECONDITION"));
    assert.throws(
      () => tx.commitActive("v", "x", { size: 0, inodes: 0 }, {}),
      code("FAILED_PRECONDITION"),
    );
    assert.throws(() => tx.createSnapshot("active", "k3", "v", {}), code("INVALID_ARGUMENT"));
    assert.deepEqual(tx.getInfo("c1").usage, { size: 10, inodes: 2 });
    assert.deepEqual(tx.getInfo("c1").info.labels, { x: "y" });
  });
  await assert.rejects(
    store.withTransaction(false, (tx) => tx.remove("v")),
    /read-only/,
  );
  await store.close();
  await store.close();
});

test("WAL mode on disk; ids are not reused after removal", async () => {
  const tmp = await makeTempDir();
  const path = `${tmp.path}/m.db`;
  let store = new MetadataStore({ path });
  await store.withTransaction(true, (tx) => {
    tx.createSnapshot("active", "a", "", {});
    tx.createSnapshot("active", "b", "", {});
    tx.remove("b");
  });
  await store.close();
  store = new MetadataStore({ path });
  const id = await store.withTransaction(true, (tx) => tx.createSnapshot("active", "c", "", {}).id);
  assert.equal(id, 3);
  await store.close();
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path);
  assert.deepEqual({ ...db.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
  db.close();
  await tmp.remove();
});
