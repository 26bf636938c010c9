/**
 * Memory of stargz-agent with many mounted eStargz layers and a running
 * container: images of N layers (a busybox base and N-1 small layers of a few
 * files each) are converted with `stargz image convert`, pulled lazily with
 * `stargz image rpull`, and one container runs `sleep`; then VmRSS and VmHWM
 * of the agent (and any process it started, such as a FUSE server) are read
 * from /proc. A fresh agent and containerd per image.
 *
 *   node bench/agent-rss.ts [--layers 40,100] [--compiled]
 *
 * --compiled runs the agent from dist/ (npm run build first) instead of the
 * TypeScript sources.
 *
 * Root only; a registry on loopback, everything under a temp dir, stopped,
 * unmounted and removed at the end.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { run } from "../scripts/lib/exec.ts";
import { pushLayout } from "../scripts/lib/demo-image.ts";
import {
  projectDir,
  stargzCli,
  startAgent,
  startContainerd,
  startRegistry,
  unmountUnder,
  type Service,
} from "../scripts/lib/stack.ts";
import { busyboxLayer } from "../test/support/busybox-image.ts";
import { tarLayer, writeOciLayout, type TarEntry } from "../test/support/layer-image.ts";
import { freePort } from "../test/support/process.ts";

/** Layer i (i >= 1): four files of 16 KiB under /data/layer-i. */
function smallLayer(i: number): Buffer {
  const entries: TarEntry[] = [
    { path: "data", type: "dir" },
    { path: `data/layer-${i}`, type: "dir" },
  ];
  for (let j = 0; j < 4; j++) {
    entries.push({
      path: `data/layer-${i}/file-${j}`,
      content: `${i}/${j} `.repeat(2048).slice(0, 16384),
    });
  }
  return tarLayer(entries);
}

async function buildImage(dir: string, layers: number, registry: string): Promise<string> {
  const tars = [await busyboxLayer()];
  for (let i = 1; i < layers; i++) tars.push(smallLayer(i));
  const layout = join(dir, `layout-${layers}`);
  await writeOciLayout(layout, "bench", { layers: tars, cmd: ["/bin/sleep", "3600"] });
  const gzipRef = `${registry}/rss/layers-${layers}:gzip`;
  const esgzRef = `${registry}/rss/layers-${layers}:esgz`;
  await pushLayout(layout, "bench", gzipRef);
  await run(process.execPath, [
    stargzCli,
    "image",
    "convert",
    "--plain-http",
    "--progress",
    "plain",
    gzipRef,
    esgzRef,
  ]);
  await rm(layout, { recursive: true, force: true });
  return esgzRef;
}

interface Memory {
  pid: number;
  command: string;
  rssKiB: number;
  hwmKiB: number;
}

async function statusOf(pid: number): Promise<Memory | undefined> {
  const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const kib = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  const command = (await readFile(`/proc/${pid}/cmdline`, "utf8"))
    .split("\0")
    .slice(0, 2)
    .join(" ");
  return { pid, command, rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM") };
}

/** The process and its descendants. */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    parents.set(Number(name), ppid);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

async function fuseMountsUnder(dir: string): Promise<number> {
  const lines = (await readFile("/proc/self/mountinfo", "utf8")).split("\n");
  return lines.filter((l) => {
    const f = l.split(" ");
    return (f[4] ?? "").startsWith(`${dir}/`) && (f[f.indexOf("-") + 1] ?? "").startsWith("fuse");
  }).length;
}

async function measure(
  dir: string,
  ref: string,
  layers: number,
  entry: string,
): Promise<Record<string, unknown>> {
  const runDir = join(dir, `run-${layers}`);
  const services: Service[] = [];
  try {
    const agent = await startAgent(join(runDir, "agent"), undefined, [], entry);
    services.push(agent);
    const idle = await statusOf(agent.process.pid);
    const containerd = await startContainerd(join(runDir, "containerd"), agent.socket);
    services.push(containerd);
    const ctr = ["-a", containerd.address, "-n", "rss"];
    const { stdout: rpullOut } = await run(process.execPath, [
      stargzCli,
      "image",
      "rpull",
      "--address",
      containerd.address,
      "--namespace",
      "rss",
      "--plain-http",
      "--output",
      "json",
      ref,
    ]);
    await run("ctr", [...ctr, "run", "-d", "--snapshotter", "stargz", ref, "rss-sleeper"]);
    await new Promise((r) => setTimeout(r, 3000));
    const tasks = (await run("ctr", [...ctr, "task", "ls"])).stdout;
    const tree = await processTree(agent.process.pid);
    const memory = (await Promise.all(tree.map(statusOf))).filter(
      (m): m is Memory => m !== undefined,
    );
    const fuseMounts = await fuseMountsUnder(agent.root);
    await run("ctr", [...ctr, "task", "kill", "-s", "KILL", "rss-sleeper"]).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    await run("ctr", [...ctr, "task", "delete", "rss-sleeper"]).catch(() => {});
    await run("ctr", [...ctr, "container", "delete", "rss-sleeper"]).catch(() => {});
    const remote = rpullOut.split("\n").filter((l) => l.includes('"mode":"remote"')).length;
    return {
      layers,
      fuseMounts,
      remoteLayersReportedByRpull: remote,
      containerRunning: /rss-sleeper\s+\d+\s+RUNNING/.test(tasks),
      idleAgentRssMiB: (idle?.rssKiB ?? 0) / 1024,
      processes: memory.map((m) => ({ ...m, rssMiB: m.rssKiB / 1024, hwmMiB: m.hwmKiB / 1024 })),
      totalRssMiB: memory.reduce((s, m) => s + m.rssKiB, 0) / 1024,
    };
  } finally {
    for (const s of [...services].reverse()) {
      await s.stop().catch(() => {});
      await unmountUnder(runDir);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { layers: { type: "string", default: "40,100" }, compiled: { type: "boolean" } },
  });
  const entry = join(projectDir, values.compiled ? "dist/src/agent/main.js" : "src/agent/main.ts");
  if (process.getuid?.() !== 0) throw new Error("root needed (FUSE, containerd)");
  const counts = (values.layers ?? "").split(",").map(Number);
  const dir = await mkdtemp("/tmp/sgzb-rss-");
  let registry: Service | undefined;
  try {
    const host = `127.0.0.1:${await freePort()}`;
    registry = await startRegistry(join(dir, "registry"), host);
    const results = [];
    for (const n of counts) {
      const ref = await buildImage(dir, n, host);
      const r = await measure(dir, ref, n, entry);
      console.error(JSON.stringify(r));
      results.push(r);
    }
    const out = {
      bench: "agent-rss",
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
      },
      agentEntry: entry,
      results,
    };
    await mkdir(join(projectDir, "bench/results"), { recursive: true });
    const file = join(projectDir, "bench/results", `agent-rss-${Date.now()}.json`);
    await writeFile(file, JSON.stringify(out, null, 2));
    console.error(`results: ${file}`);
  } finally {
    await registry?.stop().catch(() => {});
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
