/**
 * Keeps the hand-written wire interfaces honest: every message's fields as
 * @grpc/proto-loader sees them in /proto match wire-types.ts, and the field
 * numbers are containerd's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadSnapshotsPackage } from "../../../src/agent/snapshot/proto-definition.ts";
import { wireMessages } from "../../../src/agent/snapshot/wire-types.ts";

interface FieldDesc {
  name: string;
  number: number;
}
const pkg = loadSnapshotsPackage();
const fields = (msg: string): FieldDesc[] =>
  ((pkg[msg] as { type: { field: FieldDesc[] } }).type.field ?? []).map((f) => ({
    name: f.name,
    number: f.number,
  }));

test("message fields match wire-types.ts", () => {
  for (const [msg, names] of Object.entries(wireMessages)) {
    assert.deepEqual(
      fields(`containerd.services.snapshots.v1.${msg}`).map((f) => f.name),
      [...names],
      msg,
    );
  }
});

test("field numbers are containerd's", () => {
  const n = (msg: string): Record<string, number> =>
    Object.fromEntries(fields(msg).map((f) => [f.name, f.number]));
  const v1 = "containerd.services.snapshots.v1.";
  assert.deepEqual(n(`${v1}PrepareSnapshotRequest`), {
    snapshotter: 1,
    key: 2,
    parent: 3,
    labels: 4,
  });
  assert.deepEqual(n(`${v1}CommitSnapshotRequest`), { snapshotter: 1, name: 2, key: 3, labels: 4 });
  assert.deepEqual(n(`${v1}Info`), {
    name: 1,
    parent: 2,
    kind: 3,
    created_at: 4,
    updated_at: 5,
    labels: 6,
  });
  assert.deepEqual(n(`${v1}UpdateSnapshotRequest`), { snapshotter: 1, info: 2, update_mask: 3 });
  assert.deepEqual(n(`${v1}UsageResponse`), { size: 1, inodes: 2 });
  assert.deepEqual(n("containerd.types.Mount"), { type: 1, source: 2, target: 3, options: 4 });
  const kind = pkg[`${v1}Kind`] as { type: { value: { name: string; number: number }[] } };
  assert.deepEqual(
    kind.type.value.map((v) => [v.name, v.number]),
    [
      ["UNKNOWN", 0],
      ["VIEW", 1],
      ["ACTIVE", 2],
      ["COMMITTED", 3],
    ],
  );
});

test("the service has containerd's ten methods, List streaming", () => {
  const svc = pkg["containerd.services.snapshots.v1.Snapshots"] as Record<
    string,
    { path: string; responseStream: boolean }
  >;
  assert.deepEqual(Object.keys(svc).sort(), [
    "Cleanup",
    "Commit",
    "List",
    "Mounts",
    "Prepare",
    "Remove",
    "Stat",
    "Update",
    "Usage",
    "View",
  ]);
  assert.equal(svc.List?.responseStream, true);
  assert.equal(svc.Prepare?.path, "/containerd.services.snapshots.v1.Snapshots/Prepare");
});
