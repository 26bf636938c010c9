/**
 * containerd's snapshot semantics through the gRPC socket: kinds, parents,
 * names, labels, removal rules, listing, usage and the error codes containerd
 * expects. Mount-level behaviours are in testsuite.test.ts.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status } from "@grpc/grpc-js";
import { rejectsWith, startFixture, type Fixture } from "./fixture.ts";

describe("snapshot semantics over gRPC", () => {
  let f: Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(async () => {
    await f.close();
  });

  test("Stat of an active snapshot (StatActive)", async () => {
    await f.client.prepare("stat-active", "", { a: "1" });
    const info = await f.client.stat("stat-active");
    assert.equal(info.name, "stat-active");
    assert.equal(info.kind, "ACTIVE");
    assert.equal(info.parent, "");
    assert.deepEqual(info.labels, { a: "1" });
    assert.ok(info.created_at && info.created_at.seconds > 0);
  });

  test("Stat of a committed snapshot (StatComitted)", async () => {
    await f.client.prepare("stat-c-key");
    await f.client.commit("stat-c", "stat-c-key", { b: "2" });
    const info = await f.client.stat("stat-c");
    assert.equal(info.kind, "COMMITTED");
    assert.deepEqual(info.labels, { b: "2" });
    await rejectsWith(f.client.stat("stat-c-key"), status.NOT_FOUND);
  });

  test("parents must be committed and exist (PreareViewFailingtest)", async () => {
    await f.client.prepare("pv-active");
    await rejectsWith(f.client.prepare("pv-child", "pv-active"), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.view("pv-view", "pv-active"), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.prepare("pv-child", "no-such-parent"), status.NOT_FOUND);
    await rejectsWith(f.client.prepare("pv-active"), status.ALREADY_EXISTS);
    await rejectsWith(f.client.view("pv-active"), status.ALREADY_EXISTS);
  });

  test("keys and names share one namespace", async () => {
    await f.client.prepare("ns-a");
    await f.client.commit("ns-b", "ns-a");
    await rejectsWith(f.client.prepare("ns-b"), status.ALREADY_EXISTS);
    await f.client.prepare("ns-c", "ns-b");
    await rejectsWith(f.client.commit("ns-b", "ns-c"), status.ALREADY_EXISTS);
    await rejectsWith(f.client.commit("ns-d", "no-such"), status.NOT_FOUND);
  });

  test("only active snapshots can be committed; committed ones have no mounts", async () => {
    await f.client.prepare("cm-base-key");
    await f.client.commit("cm-base", "cm-base-key");
    await f.client.view("cm-view", "cm-base");
    await rejectsWith(f.client.commit("cm-x", "cm-view"), status.FAILED_PRECONDITION);
    await rejectsWith(f.client.mounts("cm-base"), status.FAILED_PRECONDITION);
    await rejectsWith(f.client.mounts("cm-missing"), status.NOT_FOUND);
  });

  test("a chain keeps its parents (TransitivityTest)", async () => {
    await f.client.prepare("tr-1k");
    await f.client.commit("tr-1", "tr-1k");
    await f.client.prepare("tr-2k", "tr-1");
    await f.client.commit("tr-2", "tr-2k");
    assert.equal((await f.client.stat("tr-2")).parent, "tr-1");
    const mounts = await f.client.view("tr-view", "tr-2");
    assert.equal(mounts[0]?.type, "overlay");
    assert.equal(
      mounts[0]?.options.filter((o) => o.startsWith("lowerdir="))[0]?.split(":").length,
      2,
    );
  });

  test("labels update with field paths (Update)", async () => {
    await f.client.prepare("up-key", "", { keep: "1", drop: "2", change: "3" });
    await f.client.commit("up", "up-key", { keep: "1", drop: "2", change: "3" });
    const before = await f.client.stat("up");
    await new Promise((r) => setTimeout(r, 5));
    let info = await f.client.update({ name: "up", labels: { change: "x", drop: "" } }, [
      "labels.change",
    ]);
    assert.deepEqual(info.labels, { keep: "1", drop: "2", change: "x" });
    info = await f.client.update({ name: "up", labels: {} }, ["labels.drop"]);
    assert.deepEqual(info.labels, { keep: "1", change: "x" });
    info = await f.client.update({ name: "up", labels: { only: "y" } }, ["labels"]);
    assert.deepEqual(info.labels, { only: "y" });
    info = await f.client.update({ name: "up", labels: { all: "z" } });
    assert.deepEqual(info.labels, { all: "z" });
    assert.deepEqual(info.created_at, before.created_at);
    assert.ok(toMs(info.updated_at) > toMs(before.updated_at));
    assert.equal(info.kind, "COMMITTED");
    await rejectsWith(
      f.client.update({ name: "up", labels: {} }, ["name"]),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(
      f.client.update({ name: "up", labels: {} }, ["parent"]),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(f.client.update({ name: "nope", labels: {} }, ["labels"]), status.NOT_FOUND);
  });

  test("label size is limited to 4096 bytes per pair", async () => {
    await rejectsWith(
      f.client.prepare("big-label", "", { k: "v".repeat(5000) }),
      status.INVALID_ARGUMENT,
    );
    await rejectsWith(f.client.stat("big-label"), status.NOT_FOUND);
  });

  test("removal rules (Remove, RemoveIntermediateSnapshot)", async () => {
    await f.client.prepare("rm-1k");
    await f.client.commit("rm-1", "rm-1k");
    await f.client.prepare("rm-2k", "rm-1");
    await f.client.commit("rm-2", "rm-2k");
    await f.client.view("rm-view", "rm-2");
    await rejectsWith(f.client.remove("rm-1"), status.FAILED_PRECONDITION);
    await rejectsWith(f.client.remove("rm-2"), status.FAILED_PRECONDITION);
    await f.client.remove("rm-view");
    await f.client.remove("rm-2");
    await f.client.remove("rm-1");
    await rejectsWith(f.client.remove("rm-1"), status.NOT_FOUND);
  });

  test("List filters by name, parent, kind and labels; several filters are ORed (Walk)", async () => {
    await f.client.prepare("wk-bk", "", { "wk/l": "base" });
    await f.client.commit("wk-base", "wk-bk", { "wk/l": "base", "containerd.io/gc.root": "x" });
    await f.client.prepare("wk-a1", "wk-base", { "wk/l": "a" });
    await f.client.view("wk-v1", "wk-base", { "wk/l": "v" });
    const names = async (filters: string[]): Promise<string[]> =>
      (await f.client.list(filters))
        .map((i) => i.name)
        .filter((n) => n.startsWith("wk-"))
        .sort();
    assert.deepEqual(await names(["name==wk-a1"]), ["wk-a1"]);
    assert.deepEqual(await names(["parent==wk-base"]), ["wk-a1", "wk-v1"]);
    assert.deepEqual(await names(["parent==wk-base,kind==view"]), ["wk-v1"]);
    assert.deepEqual(await names(['labels."wk/l"==a', "kind==committed,name~=^wk-"]), [
      "wk-a1",
      "wk-base",
    ]);
    assert.deepEqual(await names(['labels."wk/l"!=base,name~=/^wk-/']), ["wk-a1", "wk-v1"]);
    assert.deepEqual(await names(['labels."containerd.io/gc.root"']), ["wk-base"]);
    assert.deepEqual(await names([]), ["wk-a1", "wk-base", "wk-v1"]);
    await rejectsWith(f.client.list(["name=="]), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.list(["name~=("]), status.INVALID_ARGUMENT);
  });

  test("Usage of active and committed snapshots", async () => {
    await f.client.prepare("us-k");
    const active = await f.client.usage("us-k");
    assert.ok(active.inodes >= 1);
    await f.client.commit("us", "us-k");
    const committed = await f.client.usage("us");
    assert.equal(committed.inodes, active.inodes);
    await rejectsWith(f.client.usage("us-none"), status.NOT_FOUND);
  });

  test("malformed requests get INVALID_ARGUMENT", async () => {
    await rejectsWith(f.client.prepare(""), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.commit("", "x"), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.stat(""), status.INVALID_ARGUMENT);
    await rejectsWith(f.client.update({ name: "" }), status.INVALID_ARGUMENT);
  });

  test("concurrent Prepare of one key: one wins, the others get ALREADY_EXISTS", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => f.client.prepare("race")),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected")
        assert.equal((r.reason as { code: number }).code, status.ALREADY_EXISTS);
    }
  });

  test("state survives a restart, Cleanup removes unknown directories", async () => {
    const { mkdir, readdir } = await import("node:fs/promises");
    const { join } = await import("node:path");
    await f.client.prepare("rs-k");
    await f.client.commit("rs", "rs-k");
    await mkdir(join(f.root, "snapshots", "new-leftover", "fs"), { recursive: true });
    await mkdir(join(f.root, "snapshots", "99999", "fs"), { recursive: true });
    await f.restart();
    assert.equal((await f.client.stat("rs")).kind, "COMMITTED");
    const dirs = await readdir(join(f.root, "snapshots"));
    assert.ok(!dirs.includes("new-leftover") && !dirs.includes("99999"), dirs.join(","));
    await mkdir(join(f.root, "snapshots", "new-again"));
    await f.client.cleanup();
    assert.ok(!(await readdir(join(f.root, "snapshots"))).includes("new-again"));
  });

  test("closing twice is harmless (CloseTwice)", async () => {
    const g = await startFixture();
    await g.snapshotter.close();
    await g.snapshotter.close();
    await g.close();
  });
});

function toMs(t: { seconds: number; nanos: number } | null): number {
  return t ? t.seconds * 1000 + t.nanos / 1e6 : 0;
}
