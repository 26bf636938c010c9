import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compactLowerdir,
  composeMounts,
  mountOptionLimit,
  type MountLayout,
} from "../../../src/agent/snapshot/mounts.ts";

const layout: MountLayout = {
  fsPath: (id) => `/r/snapshots/${id}/fs`,
  workPath: (id) => `/r/snapshots/${id}/work`,
};

test("a snapshot without parent is a bind mount, read-only for a view", () => {
  assert.deepEqual(composeMounts({ id: 1, kind: "active", parentIds: [] }, layout), [
    { type: "bind", source: "/r/snapshots/1/fs", options: ["rw", "rbind"] },
  ]);
  assert.deepEqual(composeMounts({ id: 2, kind: "view", parentIds: [] }, layout)[0]?.options, [
    "ro",
    "rbind",
  ]);
});

test("a view on one parent is a read-only bind of the parent", () => {
  assert.deepEqual(composeMounts({ id: 3, kind: "view", parentIds: [1] }, layout), [
    { type: "bind", source: "/r/snapshots/1/fs", options: ["ro", "rbind"] },
  ]);
});

test("an active snapshot with parents is overlay with upper and work dirs, nearest parent first", () => {
  assert.deepEqual(composeMounts({ id: 5, kind: "active", parentIds: [4, 2, 1] }, layout), [
    {
      type: "overlay",
      source: "overlay",
      options: [
        "workdir=/r/snapshots/5/work",
        "upperdir=/r/snapshots/5/fs",
        "lowerdir=/r/snapshots/4/fs:/r/snapshots/2/fs:/r/snapshots/1/fs",
      ],
    },
  ]);
});

test("a view on several parents is overlay without upper dir; userxattr and index=off when asked", () => {
  const [m] = composeMounts(
    { id: 6, kind: "view", parentIds: [2, 1] },
    { ...layout, userxattr: true, indexOff: true },
  );
  assert.deepEqual(m?.options, [
    "index=off",
    "userxattr",
    "lowerdir=/r/snapshots/2/fs:/r/snapshots/1/fs",
  ]);
});

test("long lowerdir lists are compacted to paths relative to their common parent", () => {
  const parents = Array.from({ length: 128 }, (_, i) => 1000 + i);
  const [m] = composeMounts(
    { id: 9999, kind: "active", parentIds: parents },
    {
      fsPath: (id) => `/var/lib/containerd-stargz-grpc/snapshotter/snapshots/${id}/fs`,
      workPath: (id) => `/w/${id}`,
    },
  );
  assert.ok(m && m.options.join(",").length > mountOptionLimit);
  const c = compactLowerdir(m);
  assert.equal(c?.cwd, "/var/lib/containerd-stargz-grpc/snapshotter/snapshots");
  assert.ok(c && c.options.join(",").length < mountOptionLimit);
  assert.ok(
    c.options.includes("upperdir=/var/lib/containerd-stargz-grpc/snapshotter/snapshots/9999/fs"),
  );
  assert.match(c.options.at(-1) ?? "", /^lowerdir=1000\/fs:1001\/fs:/);
  assert.equal(
    compactLowerdir(composeMounts({ id: 2, kind: "view", parentIds: [1, 0] }, layout)[0]!),
    undefined,
  );
});
