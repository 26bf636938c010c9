/**
 * Snapshotter benchmark: 1,000 Prepare+Commit cycles and Mounts of an active
 * snapshot on a 128-layer chain, driven by one grpc-js client against
 *   agent-direct      our agent's socket
 *   containerd→stargz containerd's snapshots service, proxied to our agent
 *   containerd→overlayfs containerd's snapshots service, built-in overlayfs
 * The last two take the same path through containerd (metadata store
 * included), so they are the fair comparison.
 *   node bench/snapshots.ts [--cycles 1000] [--mounts 200]
 * Needs root, containerd and a free temp dir; starts and stops its own processes.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startAgent } from "../test/support/agent.ts";
import { startContainerd } from "../test/support/containerd.ts";
import { snapshotsClient, type SnapshotsClient } from "../test/support/snapshots-client.ts";
import { makeTempDir } from "../test/support/tmp.ts";

interface Stats {
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

interface TargetResult {
  target: string;
  prepare: Stats;
  commit: Stats;
  cycle: Stats;
  mounts128: Stats;
}

const gcRoot = { "containerd.io/gc.root": "bench" };

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    meanMs: round(s.reduce((a, b) => a + b, 0) / s.length),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
  };
}

async function benchTarget(
  target: string,
  c: SnapshotsClient,
  cycles: number,
  mountCalls: number,
): Promise<TargetResult> {
  const prep: number[] = [];
  const commit: number[] = [];
  const cycle: number[] = [];
  await c.prepare("base-k", "", gcRoot);
  await c.commit("base", "base-k", gcRoot);
  for (let i = 0; i < 20; i++) await c.prepare(`warm-${i}`, "base", gcRoot);
  for (let i = 0; i < cycles; i++) {
    const p = await timed(() => c.prepare(`k-${i}`, "base", gcRoot));
    const m = await timed(() => c.commit(`c-${i}`, `k-${i}`, gcRoot));
    prep.push(p);
    commit.push(m);
    cycle.push(p + m);
  }
  let parent = "";
  for (let i = 0; i < 128; i++) {
    await c.prepare(`l-${i}-k`, parent, gcRoot);
    await c.commit(`l-${i}`, `l-${i}-k`, gcRoot);
    parent = `l-${i}`;
  }
  await c.prepare("top", parent, gcRoot);
  const mounts: number[] = [];
  for (let i = 0; i < mountCalls; i++) mounts.push(await timed(() => c.mounts("top")));
  return {
    target,
    prepare: stats(prep),
    commit: stats(commit),
    cycle: stats(cycle),
    mounts128: stats(mounts),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cycles: { type: "string", default: "1000" },
      mounts: { type: "string", default: "200" },
    },
  });
  const cycles = Number(values.cycles);
  const mountCalls = Number(values.mounts);
  const tmp = await makeTempDir("sgz-bench-");
  const agent = await startAgent({ dir: join(tmp.path, "agent") });
  const containerd = await startContainerd({
    dir: join(tmp.path, "ctrd"),
    proxySnapshotters: { stargz: agent.socket },
  });
  const results: TargetResult[] = [];
  try {
    const clients: [string, SnapshotsClient][] = [
      ["agent-direct", snapshotsClient(agent.socket)],
      [
        "containerd→stargz",
        snapshotsClient(containerd.address, { snapshotter: "stargz", namespace: "bench-stargz" }),
      ],
      [
        "containerd→overlayfs",
        snapshotsClient(containerd.address, {
          snapshotter: "overlayfs",
          namespace: "bench-overlay",
        }),
      ],
    ];
    for (const [name, client] of clients) {
      results.push(await benchTarget(name, client, cycles, mountCalls));
      client.close();
    }
  } finally {
    await containerd.stop();
    await agent.stop();
    await tmp.remove();
  }
  process.stdout.write(JSON.stringify({ cycles, mountCalls, results }, null, 2) + "\n");
  process.stdout.write(markdown(results));
}

function markdown(results: TargetResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.target} | ${r.prepare.meanMs} / ${r.prepare.p99Ms} | ${r.commit.meanMs} / ${r.commit.p99Ms} | ${r.cycle.meanMs} | ${r.mounts128.meanMs} / ${r.mounts128.p99Ms} |`,
  );
  return [
    "| target | Prepare mean / p99 (ms) | Commit mean / p99 (ms) | Prepare+Commit mean (ms) | Mounts, 128 layers, mean / p99 (ms) |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

await main();
