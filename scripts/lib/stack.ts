/**
 * The processes a lazy pull needs on one machine, started under one directory
 * that holds their state, sockets and logs: a docker-registry, our
 * stargz-agent and a containerd whose `stargz` proxy snapshotter is the agent.
 * Never the host's /etc/containerd or /run/containerd. A `wrap` prefix (e.g.
 * ["nsenter", "--net=/run/netns/NAME"]) runs a process in another network
 * namespace, for the benchmarks. Every process is stopped by its own PID.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "./exec.ts";
import { startProcess, waitFor, type RunningProcess } from "../../test/support/process.ts";

export type Wrap = readonly string[];

export const projectDir = fileURLToPath(new URL("../..", import.meta.url));
export const stargzCli = join(projectDir, "src/cli/main.ts");
const agentMain = join(projectDir, "src/agent/main.ts");

export interface Service {
  readonly name: string;
  readonly process: RunningProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

function spawnWrapped(
  wrap: Wrap,
  command: string,
  args: string[],
  logFile: string,
): RunningProcess {
  const [head, ...rest] = [...wrap, command, ...args];
  return startProcess(head as string, rest, { logFile });
}

/** Runs a command (under `wrap`) to completion and returns its stdout. */
export async function runWrapped(wrap: Wrap, command: string, args: string[]): Promise<string> {
  const [head, ...rest] = [...wrap, command, ...args];
  return (await run(head as string, rest)).stdout;
}

/** True once something listens on TCP `port` in the (wrapped) network namespace. */
async function listening(wrap: Wrap, port: number): Promise<boolean> {
  return (await runWrapped(wrap, "ss", ["-Hltn", `sport = :${port}`])).trim() !== "";
}

function service(name: string, proc: RunningProcess, logFile: string, graceMs: number): Service {
  return {
    name,
    process: proc,
    logFile,
    stop: async () => {
      await proc.stop(graceMs);
    },
  };
}

/** docker-registry listening on `host:port`, storage under dir. */
export async function startRegistry(
  dir: string,
  listen: string,
  wrap: Wrap = [],
): Promise<Service> {
  await mkdir(join(dir, "storage"), { recursive: true });
  const config = join(dir, "registry.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: info",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "storage")}`,
      "http:",
      `  addr: ${listen}`,
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "registry.log");
  const proc = spawnWrapped(wrap, "docker-registry", ["serve", config], logFile);
  const port = Number(listen.slice(listen.lastIndexOf(":") + 1));
  await waitFor(`registry on ${listen}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`registry exited, see ${logFile}`);
    return listening(wrap, port);
  });
  return service("registry", proc, logFile, 5000);
}

export interface Agent extends Service {
  readonly socket: string;
  readonly root: string;
}

/**
 * stargz-agent serving containerd's snapshots API on dir/agent.sock, root
 * dir/root; `entry` is its main module (the TypeScript source by default, or
 * the compiled dist/src/agent/main.js).
 */
export async function startAgent(
  dir: string,
  configToml?: string,
  wrap: Wrap = [],
  entry = agentMain,
): Promise<Agent> {
  await mkdir(dir, { recursive: true });
  const socket = join(dir, "agent.sock");
  const root = join(dir, "root");
  await rm(socket, { force: true });
  const logFile = join(dir, "agent.log");
  const args = [entry, "--address", socket, "--root", root];
  if (configToml !== undefined) {
    await writeFile(join(dir, "agent.toml"), configToml);
    args.push("--config", join(dir, "agent.toml"));
  }
  const proc = spawnWrapped(wrap, process.execPath, args, logFile);
  await waitFor(`stargz-agent at ${socket}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`stargz-agent exited, see ${logFile}`);
    return existsSync(socket);
  });
  return { ...service("stargz-agent", proc, logFile, 15000), socket, root };
}

export interface Containerd extends Service {
  readonly address: string;
  readonly root: string;
}

/** containerd with its own root, state and sockets under dir and `stargz` as a proxy snapshotter. */
export async function startContainerd(dir: string, stargzSocket: string): Promise<Containerd> {
  const root = join(dir, "root");
  const state = join(dir, "state");
  await mkdir(root, { recursive: true });
  await mkdir(state, { recursive: true });
  const address = join(dir, "containerd.sock");
  const config = join(dir, "containerd.toml");
  await writeFile(
    config,
    [
      "version = 2",
      `root = "${root}"`,
      `state = "${state}"`,
      `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
      "[grpc]",
      `  address = "${address}"`,
      "[ttrpc]",
      `  address = "${address}.ttrpc"`,
      "[debug]",
      `  address = "${address}.debug"`,
      `[plugins."io.containerd.internal.v1.opt"]`,
      `  path = "${join(root, "opt")}"`,
      "[proxy_plugins.stargz]",
      `  type = "snapshot"`,
      `  address = "${stargzSocket}"`,
      "",
    ].join("\n"),
  );
  const logFile = join(dir, "containerd.log");
  const proc = startProcess("containerd", ["--config", config], { logFile });
  await waitFor(`containerd at ${address}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`containerd exited, see ${logFile}`);
    if (!existsSync(address)) return false;
    await run("ctr", ["--address", address, "version"]);
    return true;
  });
  return { ...service("containerd", proc, logFile, 10000), address, root };
}

/** Unmounts everything mounted under dir, deepest first (FUSE with fusermount -u, then umount -l). */
export async function unmountUnder(dir: string): Promise<string[]> {
  const lines = (await readFile("/proc/self/mountinfo", "utf8")).split("\n");
  const mounts = lines
    .map((l) => {
      const fields = l.split(" ");
      const sep = fields.indexOf("-");
      return { point: (fields[4] ?? "").replace(/\\040/g, " "), type: fields[sep + 1] ?? "" };
    })
    .filter((m) => m.point === dir || m.point.startsWith(`${dir}/`))
    .sort((a, b) => b.point.length - a.point.length);
  for (const m of mounts) {
    if (m.type.startsWith("fuse")) {
      await run("fusermount", ["-u", "-z", m.point]).catch(() => undefined);
    }
    await run("umount", ["-l", m.point]).catch(() => undefined);
  }
  return mounts.map((m) => m.point);
}
