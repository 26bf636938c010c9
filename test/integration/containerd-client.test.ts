/**
 * src/containerd against a real containerd 1.6: the content Write protocol
 * (fresh, already stored, resumed, wrong digest), labels, leases and the
 * namespace and lease metadata.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { missingForIntegration } from "../support/gates.ts";
import { ContainerdClient } from "../../src/containerd/index.ts";
import { isErrorCode } from "../../src/util/errors.ts";

const skip = missingForIntegration(["containerd", "ctr"]);
const digestOf = (b: Uint8Array): string =>
  "sha256:" + createHash("sha256").update(b).digest("hex");

let tmp: TempDir;
let containerd: TestContainerd;
let cd: ContainerdClient;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  cd = new ContainerdClient({ address: containerd.address, namespace: "client-test" });
});

after(async () => {
  if (skip) return;
  cd.close();
  await containerd.stop();
  await tmp.remove();
});

test(
  "a blob is written in pieces with labels, and a second write finds it stored",
  { skip },
  async () => {
    const data = randomBytes(2.5 * 1024 * 1024);
    const desc = { digest: digestOf(data), size: data.length };
    async function* pieces(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 1000);
      yield data.subarray(1000);
    }
    const lease = await cd.leases.create({ expireAfterMs: 60_000 });
    const leased = cd.withLease(lease.id);
    const first = await leased.content.write(desc, pieces(), {
      ref: "test-blob-1",
      labels: { "x.test/a": "1" },
    });
    assert.deepEqual(first, { existed: false, bytesWritten: data.length });
    const info = await cd.content.info(desc.digest);
    assert.equal(info.size, data.length);
    assert.equal(info.labels["x.test/a"], "1");
    const second = await leased.content.write(desc, data, { ref: "test-blob-1b" });
    assert.deepEqual(second, { existed: true, bytesWritten: 0 });
    await cd.content.setLabels(desc.digest, { "x.test/b": "2" });
    assert.deepEqual((await cd.content.info(desc.digest)).labels, {
      "x.test/a": "1",
      "x.test/b": "2",
    });
    const listed = await cd.leases.list();
    assert.deepEqual(
      listed.map((l) => l.id),
      [lease.id],
    );
    assert.match(
      listed[0]!.labels["containerd.io/gc.expire"] ?? "",
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
    await cd.leases.delete(lease.id);
    assert.deepEqual(await cd.leases.list(), []);
  },
);

test(
  "bytes that do not hash to the expected digest are refused and nothing is stored",
  { skip },
  async () => {
    const data = randomBytes(1000);
    const desc = { digest: digestOf(Buffer.from("something else")), size: data.length };
    await assert.rejects(cd.content.write(desc, data, { ref: "test-bad" }), (err: unknown) => {
      assert.match((err as Error).message, /digest|size/i);
      return true;
    });
    await assert.rejects(cd.content.info(desc.digest), (err: unknown) =>
      isErrorCode(err, "NOT_FOUND"),
    );
  },
);

test("an interrupted ingest resumes at containerd's offset", { skip }, async () => {
  const data = randomBytes(300_000);
  const desc = { digest: digestOf(data), size: data.length };
  const controller = new AbortController();
  async function* halfThenAbort(): AsyncGenerator<Uint8Array> {
    yield data.subarray(0, 100_000);
    controller.abort(new Error("stop"));
    yield data.subarray(100_000);
  }
  await assert.rejects(
    cd.content.write(desc, halfThenAbort(), { ref: "test-resume", signal: controller.signal }),
    (err: unknown) => isErrorCode(err, "CANCELLED"),
  );
  const resumed = await cd.content.write(desc, data, { ref: "test-resume" });
  assert.equal(resumed.existed, false);
  assert.equal(resumed.bytesWritten, data.length - 100_000);
  assert.equal((await cd.content.info(desc.digest)).size, data.length);
});

test("namespaces are separate: another namespace does not see the labels", { skip }, async () => {
  const other = new ContainerdClient({ address: containerd.address, namespace: "elsewhere" });
  try {
    const data = Buffer.from("namespaced");
    await cd.content.write({ digest: digestOf(data), size: data.length }, data, { ref: "ns-1" });
    await assert.rejects(other.content.info(digestOf(data)), (err: unknown) =>
      isErrorCode(err, "NOT_FOUND"),
    );
  } finally {
    other.close();
  }
});
