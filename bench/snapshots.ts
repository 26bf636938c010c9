/**
 * Snapshotter benchmark: 1,000 Prepare+Commit cycles and Mounts of an active
 * snapshot on a 128-layer chain, driven by one grpc-js client against
 *   agent-direct      our agent's socket
 *   containerd→stargz containerd's snapshots service, proxied to our agent
 *   containerd→overlayfs containerd's snapshots service, built-in overlayfs
 * The last two take the same path through containerd (metadata store
 * included), so they are the fair comparison.
 *   node bench/snapshots.ts [--cycles 1000] [--mounts 200]
 * Targets take turns in slices (interleaved) so background load hits all alike.
 * Needs root and containerd; starts and stops its own processes.
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

interface Samples {
  prepare: number[];
  commit: number[];
  cycle: number[];
  mounts: number[];
}

/** A base snapshot for the cycles and an active snapshot on a 128-layer chain. */
async function setUp(c: SnapshotsClient): Promise<void> {
  await c.prepare("base-k", "", gcRoot);
  await c.commit("base", "base-k", gcRoot);
  let parent = "";
  for (let i = 0; i < 128; i++) {
    await c.prepare(`l-${i}-k`, parent, gcRoot);
    await c.commit(`l-${i}`, `l-${i}-k`, gcRoot);
    parent = `l-${i}`;
  }
  await c.prepare("top", parent, gcRoot);
  for (let i = 0; i < 20; i++) await c.prepare(`warm-${i}`, "base", gcRoot);
}

async function runCycles(
  c: SnapshotsClient,
  s: Samples,
  from: number,
  count: number,
): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const p = await timed(() => c.prepare(`k-${i}`, "base", gcRoot));
    const m = await timed(() => c.commit(`c-${i}`, `k-${i}`, gcRoot));
    s.prepare.push(p);
    s.commit.push(m);
    s.cycle.push(p + m);
  }
}

async function runMounts(c: SnapshotsClient, s: Samples, count: number): Promise<void> {
  for (let i = 0; i < count; i++) s.mounts.push(await timed(() => c.mounts("top")));
}

/**
 * Targets take turns in slices of the work, so a burst of load from other
 * processes on the machine lands on all of them alike.
 */
async function benchAll(
  targets: [string, SnapshotsClient][],
  total: number,
  mounts: number,
): Promise<TargetResult[]> {
  const samples = targets.map((): Samples => ({ prepare: [], commit: [], cycle: [], mounts: [] }));
  for (const [, c] of targets) await setUp(c);
  const slices = 10;
  for (let r = 0; r < slices; r++) {
    for (const [i, [, c]] of targets.entries()) {
      const s = samples[i] as Samples;
      await runCycles(c, s, (r * total) / slices, total / slices);
      await runMounts(c, s, mounts / slices);
    }
  }
  return targets.map(([target], i) => {
    const s = samples[i] as Samples;
    return {
      target,
      prepare: stats(s.prepare),
      commit: stats(s.commit),
      cycle: stats(s.cycle),
      mounts128: stats(s.mounts),
    };
  });
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
    results.push(...(await benchAll(clients, cycles, mountCalls)));
    for (const [, client] of clients) client.close();
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
      `| ${r.target} | ${r.prepare.meanMs} / ${r.prepare.p50Ms} / ${r.prepare.p99Ms} | ${r.commit.meanMs} / ${r.commit.p50Ms} / ${r.commit.p99Ms} | ${r.cycle.meanMs} / ${r.cycle.p50Ms} | ${r.mounts128.meanMs} / ${r.mounts128.p50Ms} / ${r.mounts128.p99Ms} |`,
  );
  return [
    "| target | Prepare mean / p50 / p99 (ms) | Commit mean / p50 / p99 (ms) | Prepare+Commit mean / p50 (ms) | Mounts, 128 layers, mean / p50 / p99 (ms) |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

await main();
