/**
 * The stargz-agent binary: flags and config validation, JSON logs, and a
 * graceful SIGTERM that lets an in-flight call finish.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir } from "../support/tmp.ts";
import { agentMain, startAgent } from "../support/agent.ts";
import { run } from "../support/process.ts";
import { snapshotsClient } from "../support/snapshots-client.ts";

async function runAgent(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [agentMain, ...args]);
    return { code: 0, stderr };
  } catch (err) {
    const m = /exited (\d+): ([\s\S]*)$/.exec((err as Error).message);
    return { code: Number(m?.[1] ?? -1), stderr: m?.[2] ?? "" };
  }
}

test("an unknown or bad config key stops the agent before it serves, naming the key", async () => {
  const tmp = await makeTempDir();
  try {
    const file = join(tmp.path, "bad.toml");
    await writeFile(file, "[snapshotter]\nasync_remove = true\nmystery_knob = 3\n");
    const socket = join(tmp.path, "a.sock");
    const res = await runAgent([
      "--config",
      file,
      "--address",
      socket,
      "--root",
      join(tmp.path, "root"),
    ]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /unknown config key "snapshotter.mystery_knob"/);
    assert.equal(existsSync(socket), false);
    const bad = await runAgent(["--log-level", "chatty"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--log-level/);
    const help = await run(process.execPath, [agentMain, "--help"]);
    assert.match(help.stdout.toString(), /--address PATH/);
  } finally {
    await tmp.remove();
  }
});

test("SIGTERM finishes the in-flight call, removes the socket and exits 0; logs are JSON", async () => {
  const tmp = await makeTempDir();
  const agent = await startAgent({
    dir: tmp.path,
    config: 'log_level = "debug"\n[snapshotter]\nshutdown_grace_sec = 20\n',
  });
  const client = snapshotsClient(agent.socket);
  try {
    const [m] = await client.prepare("slow");
    for (let i = 0; i < 20000; i += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) => writeFile(join(m!.source, `f${i + j}`), "x")),
      );
    }
    const commit = client.commit("slow-c", "slow");
    await new Promise((r) => setTimeout(r, 20));
    agent.process.child.kill("SIGTERM");
    await commit;
    assert.equal(await agent.process.exited, 0);
    assert.equal(existsSync(agent.socket), false);
    const lines = (await readFile(agent.logFile, "utf8")).trim().split("\n");
    const records = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.ok(records.some((r) => r.msg === "shutting down"));
    assert.ok(records.some((r) => r.msg === "stopped"));
  } finally {
    client.close();
    await agent.stop();
    await tmp.remove();
  }
});
