/**
 * Lazy against legacy: pull + create + run of the demo image (Debian 12 with
 * python3, pip and numpy; scripts/lib/demo-image.ts) over a shaped link, the
 * registry in a network namespace behind a veth pair with tc tbf on both ends
 * and a TCP proxy adding a one-way delay each way (see bench/lib/shaped-link.ts).
 *
 *   node bench/lazy-pull.ts [--runs 3] [--rate-mbit 100] [--delay-ms 10] [--rpull stargz|ctr-remote]
 *     [--agent-config FILE]   (the agent's TOML, e.g. no_background_fetch = true; default: none)
 *     [--optimize]            (lazy image converted with the files python3 reads at start-up
 *                              prioritized, found with strace in a chroot: scripts/lib/startup-files.ts)
 *
 * Root only. Per run, a fresh containerd and stargz-agent under a temp dir;
 * legacy and lazy alternate. Everything it starts is stopped, its mounts
 * unmounted and its namespaces deleted at the end, also on failure.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { buildAndPushDemoImage, demoRootfsTar } from "../scripts/lib/demo-image.ts";
import { startupFiles } from "../scripts/lib/startup-files.ts";
import { pullCreateRun, type PullMode, type RpullTool } from "../scripts/lib/pull-run.ts";
import {
  projectDir,
  runWrapped,
  stargzCli,
  startAgent,
  startContainerd,
  startRegistry,
  unmountUnder,
  type Service,
} from "../scripts/lib/stack.ts";
import { createShapedLink, type ShapedLink } from "./lib/shaped-link.ts";

const command = ["python3", "-c", 'print("hello")'];

interface ProxyChild {
  port: number;
  stats(): Promise<{ down: number; up: number }>;
  reset(): void;
  stop(): Promise<void>;
}

/** scripts/lib/tcp-proxy.ts as a child process in the client namespace. */
async function startProxyIn(wrap: string[], target: string, delayMs: number): Promise<ProxyChild> {
  const [head, ...rest] = [
    ...wrap,
    process.execPath,
    join(projectDir, "scripts/lib/tcp-proxy.ts"),
    "--listen",
    "127.0.0.1:5000",
    "--target",
    target,
    "--delay-ms",
    String(delayMs),
  ];
  const child: ChildProcessWithoutNullStreams = spawn(head as string, rest);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error("the delaying proxy exited");
    return r.value;
  };
  const { port } = JSON.parse(await next()) as { port: number };
  return {
    port,
    stats: async () => {
      child.stdin.write("stats\n");
      return JSON.parse(await next()) as { down: number; up: number };
    },
    reset: () => child.stdin.write("reset\n"),
    stop: async () => {
      child.stdin.end();
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

interface RunRecord {
  mode: PullMode;
  run: number;
  pullSec: number;
  createSec: number;
  runSec: number;
  totalSec: number;
  downloadedBytes: number;
  /** Downloaded by the end of pull, and of create. */
  pullBytes: number;
  createBytes: number;
  output: string;
}

interface Options {
  link: ShapedLink;
  proxy: ProxyChild;
  ref: string;
  mode: PullMode;
  runIndex: number;
  rpullTool: RpullTool;
  agentConfig: string | undefined;
}

async function oneRun(o: Options): Promise<RunRecord> {
  const dir = await mkdtemp("/tmp/sgzb-run-");
  const services: Service[] = [];
  try {
    const agent = await startAgent(join(dir, "agent"), o.agentConfig, o.link.clientWrap);
    services.push(agent);
    const containerd = await startContainerd(join(dir, "containerd"), agent.socket);
    services.push(containerd);
    o.proxy.reset();
    const bytesAfter: Record<string, number> = {};
    const result = await pullCreateRun({
      mode: o.mode,
      ref: o.ref,
      address: containerd.address,
      namespace: "bench",
      containerId: `bench-${o.mode}`,
      command,
      rpullTool: o.rpullTool,
      wrap: o.link.clientWrap,
      afterPhase: async (phase) => {
        bytesAfter[phase] = (await o.proxy.stats()).down;
      },
    });
    const { down } = await o.proxy.stats();
    return {
      mode: o.mode,
      run: o.runIndex,
      ...result,
      downloadedBytes: down,
      pullBytes: bytesAfter.pull ?? 0,
      createBytes: bytesAfter.create ?? 0,
      output: result.output.trim(),
    };
  } finally {
    for (const s of [...services].reverse()) {
      await s.stop().catch(() => {});
      await unmountUnder(dir);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      "rate-mbit": { type: "string", default: "100" },
      "delay-ms": { type: "string", default: "10" },
      rpull: { type: "string" },
      optimize: { type: "boolean" },
      "agent-config": { type: "string" },
    },
  });
  if (process.getuid?.() !== 0)
    throw new Error("root needed (network namespaces, mounts, containerd)");
  const runs = Number(values.runs);
  const rateMbit = Number(values["rate-mbit"]);
  const delayMs = Number(values["delay-ms"]);
  const rpullTool: RpullTool = values.rpull === "ctr-remote" ? "ctr-remote" : "stargz";
  const agentConfig =
    values["agent-config"] !== undefined
      ? await readFile(values["agent-config"], "utf8")
      : undefined;
  const link = await createShapedLink(String(process.pid));
  const dir = await mkdtemp("/tmp/sgzb-");
  let registry: Service | undefined;
  let proxy: ProxyChild | undefined;
  try {
    const origin = `${link.serverAddress}:5000`;
    registry = await startRegistry(join(dir, "registry"), origin, link.serverWrap);
    console.error(`building and pushing the demo image to ${origin} (unshaped)`);
    const image = await buildAndPushDemoImage(join(dir, "image"), `${origin}/demo/python:gzip`, {
      log: (l) => console.error(l),
      wrap: link.serverWrap,
    });
    const { lazyTag, prioritized } = await convertForLazy(
      link,
      origin,
      dir,
      values.optimize === true,
    );
    await link.shape(rateMbit);
    proxy = await startProxyIn(link.clientWrap, origin, delayMs);
    const registryHost = `127.0.0.1:${proxy.port}`;
    const probe = await probeLink(link, registryHost, image.layers);
    console.error(
      `shaped: ${rateMbit} Mbit/s tbf both ways, +${delayMs} ms each way at the proxy ${registryHost}`,
    );
    const records: RunRecord[] = [];
    for (let i = 1; i <= runs; i++) {
      for (const mode of ["legacy", "lazy"] as const) {
        const ref = `${registryHost}/demo/python:${mode === "legacy" ? "gzip" : lazyTag}`;
        const r = await oneRun({ link, proxy, ref, mode, runIndex: i, rpullTool, agentConfig });
        console.error(
          `${mode} run ${i}: pull ${r.pullSec.toFixed(2)} s, create ${r.createSec.toFixed(2)} s, run ${r.runSec.toFixed(2)} s, total ${r.totalSec.toFixed(2)} s, ${(r.downloadedBytes / 1e6).toFixed(1)} MB (${(r.pullBytes / 1e6).toFixed(1)} MB by the end of pull), printed "${r.output}"`,
        );
        records.push(r);
      }
    }
    const summary = summarize(records);
    const result = {
      bench: "lazy-pull",
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model,
        memGiB: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        loadavg: loadavg(),
      },
      rateMbit,
      delayMsEachWay: delayMs,
      linkProbe: probe,
      prioritizedFiles: prioritized,
      rpullTool,
      agentConfig: agentConfig ?? "",
      imageLayers: image.layers.map((l) => ({ name: l.name, gzipBytes: l.size })),
      records,
      summary,
    };
    await mkdir(join(projectDir, "bench/results"), { recursive: true });
    const file = join(projectDir, "bench/results", `lazy-pull-${Date.now()}.json`);
    await writeFile(file, JSON.stringify(result, null, 2));
    console.log(JSON.stringify(summary, null, 2));
    console.error(`results: ${file}`);
  } finally {
    await proxy?.stop().catch(() => {});
    await registry?.stop().catch(() => {});
    await link.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Converts the demo image to eStargz in the registry's namespace, optimized or not. */
async function convertForLazy(
  link: ShapedLink,
  origin: string,
  dir: string,
  optimize: boolean,
): Promise<{ lazyTag: string; prioritized: string[] }> {
  const lazyTag = optimize ? "esgz-optimized" : "esgz";
  const prioritized = optimize ? await prioritizedFilesFor(dir) : [];
  await runWrapped(link.serverWrap, process.execPath, [
    stargzCli,
    "image",
    "convert",
    "--plain-http",
    "--progress",
    "plain",
    ...(optimize ? ["--prioritized-files", join(dir, "prioritized.txt")] : []),
    `${origin}/demo/python:gzip`,
    `${origin}/demo/python:${lazyTag}`,
  ]);
  return { lazyTag, prioritized };
}

/** The files the command reads at start-up, written to dir/prioritized.txt for convert. */
async function prioritizedFilesFor(dir: string): Promise<string[]> {
  const files = await startupFiles(await demoRootfsTar(), command, join(dir, "startup"));
  await writeFile(join(dir, "prioritized.txt"), files.join("\n") + "\n");
  console.error(
    `prioritized for the optimized image: ${files.length} files python3 opens at start-up`,
  );
  return files;
}

interface LinkProbe {
  rttMs: number;
  mbit: number;
  bytes: number;
}

/** Request round trip and blob rate through the proxy, from the client namespace. */
async function probeLink(
  link: ShapedLink,
  registryHost: string,
  layers: readonly { digest: string; size: number }[],
): Promise<LinkProbe> {
  const largest = [...layers].sort((a, b) => b.size - a.size)[0];
  const probe = JSON.parse(
    await runWrapped(link.clientWrap, process.execPath, [
      join(projectDir, "bench/lib/link-probe.ts"),
      `http://${registryHost}`,
      "demo/python",
      largest?.digest ?? "",
    ]),
  ) as LinkProbe;
  console.error(
    `link as measured from the client namespace: GET /v2/ in ${probe.rttMs.toFixed(1)} ms, ${(probe.bytes / 1e6).toFixed(1)} MB blob at ${probe.mbit.toFixed(1)} Mbit/s`,
  );
  return probe;
}

function summarize(records: RunRecord[]): Record<string, unknown> {
  const of = (mode: PullMode): RunRecord[] => records.filter((r) => r.mode === mode);
  const med = (mode: PullMode, key: keyof RunRecord): number =>
    median(of(mode).map((r) => r[key] as number));
  const out: Record<string, unknown> = {};
  for (const mode of ["legacy", "lazy"] as const) {
    out[mode] = {
      pullSec: med(mode, "pullSec"),
      createSec: med(mode, "createSec"),
      runSec: med(mode, "runSec"),
      totalSec: med(mode, "totalSec"),
      downloadedMB: med(mode, "downloadedBytes") / 1e6,
    };
  }
  out.lazyOverLegacy = med("lazy", "totalSec") / med("legacy", "totalSec");
  return out;
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
