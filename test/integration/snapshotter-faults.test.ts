/**
 * Faults with the real agent process: SIGKILL in the middle of Commit and
 * Remove and at random points under load, and a root on a full filesystem.
 * After each, the next start must leave the store and the directories
 * consistent: every stored snapshot has its directory, no other directory
 * survives, and every acknowledged change is still there.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { status } from "@grpc/grpc-js";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startAgent, type TestAgent } from "../support/agent.ts";
import { snapshotsClient, type SnapshotsClient } from "../support/snapshots-client.ts";
import { run } from "../support/process.ts";
import { unmountUnder } from "../support/mounts.ts";

const skip = process.getuid?.() === 0 ? undefined : "needs root (tmpfs for the full-disk case)";

describe("agent faults", { skip }, () => {
  let tmp: TempDir;
  before(async () => {
    tmp = await makeTempDir("sgz-fault-");
  });
  after(async () => {
    await unmountUnder(tmp.path);
    await tmp.remove();
  });

  test("SIGKILL during Commit: the snapshot is either still active or committed, never both or lost", async () => {
    const dir = join(tmp.path, "commit");
    let agent = await startAgent({ dir });
    let client = snapshotsClient(agent.socket);
    const [m] = await client.prepare("big");
    await fillFiles(m!.source, 20000);
    const commit = client.commit("big-c", "big").then(
      () => "ok",
      (e: Error) => e.message,
    );
    await sleep(40);
    await kill(agent);
    await commit;
    client.close();
    agent = await startAgent({ dir });
    client = snapshotsClient(agent.socket);
    try {
      const states = await Promise.all(
        ["big", "big-c"].map((k) =>
          client.stat(k).then(
            (i) => i.kind,
            () => "absent",
          ),
        ),
      );
      assert.ok(["ACTIVE,absent", "absent,COMMITTED"].includes(states.join(",")), states.join(","));
      if (states[0] === "ACTIVE") await client.commit("big-c", "big");
      assert.equal((await client.usage("big-c")).inodes, 20001);
      await assertConsistent(agent.root);
    } finally {
      client.close();
      await agent.stop();
    }
  });

  test("SIGKILL during Remove: the next start finishes or keeps the snapshot, whole", async () => {
    const dir = join(tmp.path, "remove");
    let agent = await startAgent({ dir });
    let client = snapshotsClient(agent.socket);
    const [m] = await client.prepare("doomed-k");
    await fillFiles(m!.source, 20000);
    await client.commit("doomed", "doomed-k");
    const removal = client.remove("doomed").then(
      () => "ok",
      (e: Error) => e.message,
    );
    await sleep(30);
    await kill(agent);
    await removal;
    client.close();
    agent = await startAgent({ dir });
    client = snapshotsClient(agent.socket);
    try {
      const kind = await client.stat("doomed").then(
        (i) => i.kind,
        () => "absent",
      );
      if (kind === "COMMITTED") assert.equal((await client.usage("doomed")).inodes, 20001);
      else assert.equal(kind, "absent");
      await assertConsistent(agent.root);
    } finally {
      client.close();
      await agent.stop();
    }
  });

  test("SIGKILL at random points under load keeps every acknowledged change", async () => {
    const dir = join(tmp.path, "random");
    const acked = new Map<string, Acked>();
    for (let round = 0; round < 5; round++) {
      const agent = await startAgent({ dir });
      const client = snapshotsClient(agent.socket);
      try {
        await assertConsistent(agent.root);
        await assertAcked(client, acked);
        const stop = { now: false };
        const workers = Array.from({ length: 4 }, (_, w) =>
          churn(client, `r${round}w${w}`, acked, stop),
        );
        await sleep(100 + Math.floor(Math.random() * 300));
        await kill(agent);
        stop.now = true;
        await Promise.all(workers);
      } finally {
        client.close();
        await agent.stop();
      }
    }
    const agent = await startAgent({ dir });
    const client = snapshotsClient(agent.socket);
    try {
      await assertConsistent(agent.root);
      await assertAcked(client, acked);
    } finally {
      client.close();
      await agent.stop();
    }
  });

  test("a full disk fails calls cleanly and nothing is half-created", async () => {
    const dir = join(tmp.path, "full");
    await mkdir(dir, { recursive: true });
    await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir]);
    const agent = await startAgent({ dir: join(tmp.path, "full-agent"), root: join(dir, "root") });
    const client = snapshotsClient(agent.socket);
    try {
      const [m] = await client.prepare("filler");
      await writeFile(join(m!.source, "big"), Buffer.alloc(8 << 20)).catch(() => undefined);
      const failures: number[] = [];
      for (let i = 0; i < 50; i++) {
        await client.prepare(`more-${i}`).catch((e: { code: number }) => failures.push(e.code));
        await writeFile(join(m!.source, `pad-${i}`), Buffer.alloc(64 << 10)).catch(() => undefined);
      }
      assert.ok(failures.length > 0, "some Prepare must fail on a full disk");
      assert.ok(
        failures.every((c) => c === status.INTERNAL),
        failures.join(","),
      );
      await assertConsistent(agent.root);
      // SQLite needs room in its WAL even to delete a row, so Remove fails too
      // until space is freed outside the snapshotter.
      await rejectsCode(client.remove("filler"), status.INTERNAL);
      await rm(join(m!.source, "big"), { force: true });
      await client.remove("filler");
      await client.prepare("after-space-freed");
      await assertConsistent(agent.root);
    } finally {
      client.close();
      await agent.stop();
      await run("umount", [dir]);
    }
  });
});

/** What the test was told: committed, removed, or a Remove sent but not answered. */
type Acked = "committed" | "removed" | "removing";

async function churn(
  client: SnapshotsClient,
  prefix: string,
  acked: Map<string, Acked>,
  stop: { now: boolean },
): Promise<void> {
  let parent = "";
  for (let i = 0; !stop.now; i++) {
    const name = `${prefix}-${i}`;
    try {
      const [m] = await client.prepare(`${name}-k`, parent);
      if (m?.type === "bind") await fillFiles(m.source, 50);
      await client.commit(name, `${name}-k`);
      acked.set(name, "committed");
      if (i % 3 === 2) {
        acked.set(name, "removing");
        await client.remove(name);
        acked.set(name, "removed");
      } else parent = name;
    } catch {
      return;
    }
  }
}

async function assertAcked(client: SnapshotsClient, acked: Map<string, Acked>): Promise<void> {
  for (const [name, state] of acked) {
    const kind = await client.stat(name).then(
      (i) => i.kind,
      (err: { code?: number }) => {
        if (err.code === status.NOT_FOUND) return "absent";
        throw err;
      },
    );
    if (state === "removing") {
      // The agent died with this Remove in flight: either outcome is right; settle it.
      acked.set(name, kind === "COMMITTED" ? "committed" : "removed");
      continue;
    }
    assert.equal(kind, state === "committed" ? "COMMITTED" : "absent", name);
  }
}

/** Every stored snapshot has a directory and no other directory is left. */
async function assertConsistent(agentRoot: string): Promise<void> {
  const root = join(agentRoot, "snapshotter");
  const db = new DatabaseSync(join(root, "metadata.db"), { readOnly: true });
  const ids = (db.prepare("SELECT id FROM snapshots").all() as { id: number }[])
    .map((r) => String(r.id))
    .sort();
  db.close();
  const dirs = (await readdir(join(root, "snapshots"))).sort();
  assert.deepEqual(dirs, ids);
}

async function fillFiles(dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) =>
        writeFile(join(dir, `f${i + j}`), "x"),
      ),
    );
  }
}

async function kill(agent: TestAgent): Promise<void> {
  agent.process.child.kill("SIGKILL");
  await agent.process.exited;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function rejectsCode(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (err: { code?: number }) => err.code === code);
}
