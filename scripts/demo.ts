/**
 * The one-machine demo (npm run demo, as root): a registry, containerd and
 * stargz-agent start under a temp dir; a Debian 12 image with python3 is built,
 * pushed and converted to eStargz with `stargz image convert`; then the same
 * program runs twice, legacy (download and unpack everything first) and lazy
 * (mount the layers from the registry, fetch files when read), with times and
 * downloaded bytes side by side. Everything is stopped and removed at the end.
 */
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildAndPushDemoImage } from "./lib/demo-image.ts";
import { run } from "./lib/exec.ts";
import { hasOurRpull, pullCreateRun, type PullRunResult, type RpullTool } from "./lib/pull-run.ts";
import {
  startAgent,
  startContainerd,
  startRegistry,
  projectDir,
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("the demo mounts filesystems and runs containers: run it as root");
  }
  const dir = await mkdtemp("/tmp/stargz-demo-");
  const services: Service[] = [];
  let proxy: TcpProxy | undefined;
  try {
    step(`1. Starting a registry, stargz-agent and containerd under ${dir}`);
    const registryPort = await freePort();
    services.push(await startRegistry(join(dir, "registry"), `127.0.0.1:${registryPort}`));
    proxy = await startTcpProxy({
      listenHost: "127.0.0.1",
      targetHost: "127.0.0.1",
      targetPort: registryPort,
    });
    const registry = `127.0.0.1:${proxy.port}`;
    note(`registry at ${registry} (through a proxy that counts the bytes it serves)`);
    const backgroundFetch = process.argv.includes("--background-fetch");
    const agent = await startAgent(join(dir, "agent"), await demoAgentConfig(backgroundFetch));
    services.push(agent);
    note(`stargz-agent (our containerd snapshotter) on ${agent.socket}`);
    if (!backgroundFetch) {
      note(
        "with no_background_fetch = true, so the byte count shows what python3 read; by default",
      );
      note("the agent fetches the rest of each layer in the background (--background-fetch)");
    }
    const containerd = await startContainerd(join(dir, "containerd"), agent.socket);
    services.push(containerd);
    note(
      `containerd on ${containerd.address}, snapshotters: overlayfs (built in) and stargz (the agent)`,
    );

    const legacyRef = `${registry}/demo/python:gzip`;
    const lazyRef = `${registry}/demo/python:esgz`;
    step("2. Building the image: Debian 12 (debootstrap) with python3, pip and numpy");
    const image = await buildAndPushDemoImage(join(dir, "image"), legacyRef, { log: note });
    for (const l of image.layers) note(`layer ${l.name.padEnd(15)} ${mb(l.size).padStart(9)} gzip`);
    const legacyBytes = image.layers.reduce((s, l) => s + l.size, 0);
    note(`pushed ${legacyRef}: ${image.layers.length} layers, ${mb(legacyBytes)}`);

    step("3. Converting it to eStargz: stargz image convert");
    note(`stargz image convert --plain-http ${legacyRef} ${lazyRef}`);
    const started = Date.now();
    await run(process.execPath, [
      stargzCli,
      "image",
      "convert",
      "--plain-http",
      "--progress",
      "plain",
      legacyRef,
      lazyRef,
    ]);
    note(
      `done in ${((Date.now() - started) / 1000).toFixed(1)} s; the result still runs anywhere (eStargz is gzip)`,
    );

    const rpullTool: RpullTool = (await hasOurRpull()) ? "stargz" : "ctr-remote";
    const results: Record<string, Measured> = {};
    for (const mode of ["legacy", "lazy"] as const) {
      const ref = mode === "legacy" ? legacyRef : lazyRef;
      step(
        mode === "legacy"
          ? "4. Legacy: ctr image pull (download and unpack every layer onto overlayfs), then run"
          : `5. Lazy: ${rpullTool === "stargz" ? "stargz image rpull" : "ctr-remote image rpull (the Go tool, standing in for ours)"} onto the stargz snapshotter, then run`,
      );
      note(`${command.join(" ")}`);
      proxy.reset();
      const counter = proxy;
      const bytesAfter: Record<string, number> = {};
      const result = await pullCreateRun({
        mode,
        ref,
        address: containerd.address,
        namespace: "demo",
        containerId: `demo-${mode}`,
        command,
        rpullTool,
        afterPhase: (phase) => {
          bytesAfter[phase] = counter.counts().down;
        },
      });
      results[mode] = {
        ...result,
        bytes: bytesAfter.run ?? 0,
        bytesAfterPull: bytesAfter.pull ?? 0,
      };
      if (mode === "lazy") {
        for (const line of result.pullOutput.trimEnd().split("\n")) note(`rpull: ${line}`);
      }
      note(`container printed: ${result.output.trim()}`);
    }
    printTable(results);
  } finally {
    step("Cleaning up");
    await cleanup(dir, services, proxy);
  }
}

/**
 * The agent's TOML for the demo. Without background fetch, the bytes counted
 * are those the container read. Older agents (before lazy pulling) have no
 * such key and would refuse it.
 */
async function demoAgentConfig(backgroundFetch: boolean): Promise<string | undefined> {
  const schema = await readFile(join(projectDir, "src/agent/config/config.ts"), "utf8");
  if (backgroundFetch || !schema.includes("no_background_fetch")) return undefined;
  return "no_background_fetch = true\n";
}

function printTable(results: Record<string, Measured>): void {
  const legacy = results.legacy;
  const lazy = results.lazy;
  if (!legacy || !lazy) return;
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

async function cleanup(
  dir: string,
  services: Service[],
  proxy: TcpProxy | undefined,
): Promise<void> {
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
