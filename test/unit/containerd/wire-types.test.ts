/**
 * Keeps the hand-written wire interfaces and protos honest: every message's
 * fields as @grpc/proto-loader sees them in /proto match wire-types.ts, and
 * field numbers and enum values are containerd's.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadContainerdPackage, serviceNames } from "../../../src/containerd/proto-definition.ts";
import { wireMessages } from "../../../src/containerd/wire-types.ts";

interface FieldDesc {
  name: string;
  number: number;
}
const pkg = loadContainerdPackage();
const fields = (msg: string): FieldDesc[] =>
  (
    (pkg[`containerd.${msg}`] as { type: { field: FieldDesc[] } } | undefined)?.type.field ?? []
  ).map((f) => ({
    name: f.name,
    number: f.number,
  }));
const numbers = (msg: string): Record<string, number> =>
  Object.fromEntries(fields(msg).map((f) => [f.name, f.number]));

test("message fields match wire-types.ts", () => {
  for (const [msg, names] of Object.entries(wireMessages)) {
    assert.deepEqual(
      fields(msg).map((f) => f.name),
      [...names],
      msg,
    );
  }
});

test("field numbers are containerd's", () => {
  assert.deepEqual(numbers("types.Descriptor"), {
    media_type: 1,
    digest: 2,
    size: 3,
    annotations: 5,
  });
  assert.deepEqual(numbers("services.content.v1.WriteContentRequest"), {
    action: 1,
    ref: 2,
    total: 3,
    expected: 4,
    offset: 5,
    data: 6,
    labels: 7,
  });
  assert.deepEqual(numbers("services.content.v1.WriteContentResponse"), {
    action: 1,
    started_at: 2,
    updated_at: 3,
    offset: 4,
    total: 5,
    digest: 6,
  });
  assert.deepEqual(numbers("services.content.v1.Info"), {
    digest: 1,
    size: 2,
    created_at: 3,
    updated_at: 4,
    labels: 5,
  });
  assert.deepEqual(numbers("services.content.v1.UpdateRequest"), { info: 1, update_mask: 2 });
  assert.deepEqual(numbers("services.images.v1.Image"), {
    name: 1,
    labels: 2,
    target: 3,
    created_at: 7,
    updated_at: 8,
  });
  assert.deepEqual(numbers("services.images.v1.UpdateImageRequest"), { image: 1, update_mask: 2 });
  assert.deepEqual(numbers("services.leases.v1.CreateRequest"), { id: 1, labels: 3 });
  assert.deepEqual(numbers("services.leases.v1.Lease"), { id: 1, created_at: 2, labels: 3 });
  assert.deepEqual(numbers("services.leases.v1.DeleteRequest"), { id: 1, sync: 2 });
  assert.deepEqual(numbers("services.diff.v1.ApplyRequest"), { diff: 1, mounts: 2, payloads: 3 });
  assert.deepEqual(numbers("services.diff.v1.DiffResponse"), { diff: 3 });
  assert.deepEqual(numbers("services.namespaces.v1.Namespace"), { name: 1, labels: 2 });
  const action = pkg["containerd.services.content.v1.WriteAction"] as {
    type: { value: FieldDesc[] };
  };
  assert.deepEqual(
    action.type.value.map((v) => [v.name, v.number]),
    [
      ["STAT", 0],
      ["WRITE", 1],
      ["COMMIT", 2],
    ],
  );
});

test("services have containerd's methods, streaming where containerd streams", () => {
  const methods = (
    key: keyof typeof serviceNames,
  ): Record<string, { requestStream: boolean; responseStream: boolean }> =>
    pkg[serviceNames[key]] as Record<string, { requestStream: boolean; responseStream: boolean }>;
  assert.deepEqual(Object.keys(methods("content")).sort(), [
    "Abort",
    "Delete",
    "Info",
    "List",
    "ListStatuses",
    "Read",
    "Status",
    "Update",
    "Write",
  ]);
  assert.equal(methods("content").Write!.requestStream, true);
  assert.equal(methods("content").Write!.responseStream, true);
  assert.deepEqual(Object.keys(methods("images")).sort(), [
    "Create",
    "Delete",
    "Get",
    "List",
    "Update",
  ]);
  assert.deepEqual(Object.keys(methods("leases")).sort(), [
    "AddResource",
    "Create",
    "Delete",
    "DeleteResource",
    "List",
    "ListResources",
  ]);
  assert.deepEqual(Object.keys(methods("diff")).sort(), ["Apply", "Diff"]);
  assert.deepEqual(Object.keys(methods("namespaces")).sort(), [
    "Create",
    "Delete",
    "Get",
    "List",
    "Update",
  ]);
});
