/**
 * The one-machine demo (npm run demo, as root): a registry, containerd and
 * stargz-agent start under a temp dir; a Debian 12 image with python3 is built,
 * pushed and converted to eStargz with `stargz image convert`; then the same
 * program runs twice, legacy (download and unpack everything first) and lazy
 * (mount the layers from the registry, fetch files when read), with times and
 * downloaded bytes side by side. Everything is stopped and removed at the end.
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildAndPushDemoImage } from "./lib/demo-image.ts";
import { run } from "./lib/exec.ts";
import { pullCreateRun, type PullMode, type PullRunResult } from "./lib/pull-run.ts";
import {
  startAgent,
  startContainerd,
  startRegistry,
  stargzCli,
  unmountUnder,
  type Service,
} from "./lib/stack.ts";
import { startTcpProxy, type TcpProxy } from "./lib/tcp-proxy.ts";
import { freePort } from "../test/support/process.ts";

type Measured = PullRunResult & { bytes: number; bytesAfterPull: number };

const command = ["python3", "-c", 'print("hello")'];

function step(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

function note(text: string): void {
  process.stdout.write(`   ${text}\n`);
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

interface Demo {
  dir: string;
  services: Service[];
  proxy?: TcpProxy;
  /** host:port of the proxy in front of the registry. */
  registry?: string;
  containerdAddress?: string;
}

const backgroundFetch = process.argv.includes("--background-fetch");

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("the demo mounts filesystems and runs containers: run it as root");
  }
  const demo: Demo = { dir: await mkdtemp("/tmp/stargz-demo-"), services: [] };
  try {
    const { registry } = await startServices(demo);
    const legacyRef = `${registry}/demo/python:gzip`;
    const lazyRef = `${registry}/demo/python:esgz`;
    await buildImage(demo, legacyRef);
    await convertImage(legacyRef, lazyRef);
    const legacy = await pullAndRun(demo, "legacy", legacyRef);
    const lazy = await pullAndRun(demo, "lazy", lazyRef);
    printTable(legacy, lazy);
  } finally {
    step("Cleaning up");
    await cleanup(demo);
  }
}

async function startServices(demo: Demo): Promise<{ registry: string }> {
  step(`1. Starting a registry, stargz-agent and containerd under ${demo.dir}`);
  const registryPort = await freePort();
  demo.services.push(await startRegistry(join(demo.dir, "registry"), `127.0.0.1:${registryPort}`));
  demo.proxy = await startTcpProxy({
    listenHost: "127.0.0.1",
    targetHost: "127.0.0.1",
    targetPort: registryPort,
  });
  const registry = `127.0.0.1:${demo.proxy.port}`;
  note(`registry at ${registry} (through a proxy that counts the bytes it serves)`);
  // Without background fetch, the bytes counted are those the container read.
  const config = backgroundFetch ? undefined : "no_background_fetch = true\n";
  const agent = await startAgent(join(demo.dir, "agent"), config);
  demo.services.push(agent);
  note(`stargz-agent (our containerd snapshotter) on ${agent.socket}`);
  if (!backgroundFetch) {
    note("with no_background_fetch = true, so the byte count shows what python3 read; by default");
    note("the agent fetches the rest of each layer in the background (--background-fetch)");
  }
  const containerd = await startContainerd(join(demo.dir, "containerd"), agent.socket);
  demo.services.push(containerd);
  demo.containerdAddress = containerd.address;
  note(`containerd on ${containerd.address}`);
  note("snapshotters: overlayfs (built in) and stargz (the agent)");
  return { registry };
}

async function buildImage(demo: Demo, ref: string): Promise<void> {
  step("2. Building the image: Debian 12 (debootstrap) with python3, pip and numpy");
  const image = await buildAndPushDemoImage(join(demo.dir, "image"), ref, { log: note });
  for (const l of image.layers) note(`layer ${l.name.padEnd(15)} ${mb(l.size).padStart(9)} gzip`);
  const bytes = image.layers.reduce((s, l) => s + l.size, 0);
  note(`pushed ${ref}: ${image.layers.length} layers, ${mb(bytes)}`);
}

async function convertImage(source: string, target: string): Promise<void> {
  step("3. Converting it to eStargz: stargz image convert");
  note(`stargz image convert --plain-http ${source} ${target}`);
  const started = Date.now();
  const args = ["image", "convert", "--plain-http", "--progress", "plain", source, target];
  await run(process.execPath, [stargzCli, ...args]);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  note(`done in ${seconds} s; the result still runs anywhere (an eStargz layer is a gzip tar)`);
}

async function pullAndRun(demo: Demo, mode: PullMode, ref: string): Promise<Measured> {
  step(
    mode === "legacy"
      ? "4. Legacy: ctr image pull (download and unpack every layer onto overlayfs), then run"
      : "5. Lazy: stargz image rpull (mount every layer from the registry), then run on stargz",
  );
  note(`python3 -c 'print("hello")'`);
  const proxy = demo.proxy as TcpProxy;
  proxy.reset();
  const bytesAfter: Record<string, number> = {};
  const result = await pullCreateRun({
    mode,
    ref,
    address: demo.containerdAddress as string,
    namespace: "demo",
    containerId: `demo-${mode}`,
    command,
    afterPhase: (phase) => {
      bytesAfter[phase] = proxy.counts().down;
    },
  });
  if (mode === "lazy") {
    for (const line of result.pullOutput.trimEnd().split("\n")) note(`rpull: ${line}`);
  }
  note(`container printed: ${result.output.trim()}`);
  return { ...result, bytes: bytesAfter.run ?? 0, bytesAfterPull: bytesAfter.pull ?? 0 };
}

function printTable(legacy: Measured, lazy: Measured): void {
  step("Result");
  const sec = (n: number): string => `${n.toFixed(2)} s`;
  const rows: [string, string, string][] = [
    ["pull", sec(legacy.pullSec), sec(lazy.pullSec)],
    ["create", sec(legacy.createSec), sec(lazy.createSec)],
    ["run", sec(legacy.runSec), sec(lazy.runSec)],
    ["total", sec(legacy.totalSec), sec(lazy.totalSec)],
    ["downloaded in pull", mb(legacy.bytesAfterPull), mb(lazy.bytesAfterPull)],
    ["downloaded in total", mb(legacy.bytes), mb(lazy.bytes)],
  ];
  process.stdout.write(
    `   ${"".padEnd(20)}${"legacy (overlayfs)".padStart(20)}${"lazy (stargz)".padStart(16)}\n`,
  );
  for (const [name, a, b] of rows) {
    process.stdout.write(`   ${name.padEnd(20)}${a.padStart(20)}${b.padStart(16)}\n`);
  }
  process.stdout.write("\n");
  const lines = [
    "pull: until the image is ready to run; create: the container and its root filesystem;",
    "run: python3 starts, prints, exits. Downloaded: what the registry sent, counted at the proxy.",
    ...(lazy.bytesAfterPull < legacy.bytes / 2
      ? [
          "Lazy fetched only the files python3 read (with --background-fetch, the agent also fetches",
          "the rest of every layer in the background once it is mounted).",
        ]
      : [
          "The lazy pull downloaded the layers: the agent did not mount them remotely (see the",
          "rpull lines above for the reason), so containerd unpacked them as for legacy.",
        ]),
  ];
  for (const line of lines) note(line);
}

async function cleanup({ dir, services, proxy }: Demo): Promise<void> {
  // containerd first (it holds overlay mounts on the agent's layers), then the agent.
  for (const s of [...services].reverse()) {
    await s.stop().catch((err: unknown) => note(`stopping ${s.name}: ${String(err)}`));
    if (s.name === "containerd") await unmountUnder(join(dir, "containerd"));
    note(`stopped ${s.name} (pid ${s.process.pid})`);
  }
  const left = await unmountUnder(dir);
  if (left.length > 0) note(`unmounted ${left.length} leftover mounts`);
  await proxy?.close();
  if (process.argv.includes("--keep-logs")) {
    const logs = await mkdtemp("/tmp/stargz-demo-logs-");
    for (const name of ["registry", "agent", "containerd"]) {
      await cp(join(dir, name, `${name}.log`), join(logs, `${name}.log`)).catch(() => {});
    }
    note(`logs kept in ${logs}`);
  }
  await rm(dir, { recursive: true, force: true });
  note(`removed ${dir}`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
