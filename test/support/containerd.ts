/**
 * A real containerd (Debian's 1.6) with its own root, state and sockets under
 * a temp dir, never the host's /etc/containerd or /run/containerd. The CRI
 * plugin is off: tests drive containerd with ctr and its gRPC API.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startProcess, waitFor, run, type RunningProcess } from "./process.ts";
import { existsSync } from "node:fs";

export interface ContainerdOptions {
  dir: string;
  /** Proxy snapshotters by name, each a unix socket path (e.g. { stargz: ".../agent.sock" }). */
  proxySnapshotters?: Record<string, string>;
  /** Extra TOML appended to the config. */
  extraConfig?: string;
}

export interface TestContainerd {
  readonly address: string;
  readonly root: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly process: RunningProcess;
  /** Runs `ctr --address ADDR --namespace NS ARGS…` and returns stdout. */
  ctr(args: string[], options?: { namespace?: string; input?: string }): Promise<string>;
  /** The same for the Go reference tool `ctr-remote`. */
  ctrRemote(args: string[], options?: { namespace?: string }): Promise<string>;
  /**
   * Waits until containerd answers through proxy snapshotter `name` again.
   * After the snapshotter's process restarts, containerd redials its socket
   * with a growing backoff, and calls fail until it has.
   */
  waitForSnapshotter(name: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startContainerd(options: ContainerdOptions): Promise<TestContainerd> {
  const root = join(options.dir, "root");
  const state = join(options.dir, "state");
  await mkdir(root, { recursive: true });
  await mkdir(state, { recursive: true });
  const address = join(options.dir, "containerd.sock");
  const configFile = join(options.dir, "containerd.toml");
  await writeFile(configFile, containerdConfig(options, root, state, address));
  const logFile = join(options.dir, "containerd.log");
  const proc = startProcess("containerd", ["--config", configFile], { logFile });
  const ctrWith =
    (tool: string) =>
    async (args: string[], o: { namespace?: string; input?: string } = {}) => {
      const full = ["--address", address, "--namespace", o.namespace ?? "default", ...args];
      const { stdout } = await run(tool, full, { input: o.input });
      return stdout.toString();
    };
  const ctr = ctrWith("ctr");
  await waitFor(`containerd at ${address}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`containerd exited, see ${logFile}`);
    if (!existsSync(address)) return false;
    await ctr(["version"]);
    return true;
  });
  return {
    address,
    root,
    configFile,
    logFile,
    process: proc,
    ctr,
    ctrRemote: ctrWith("ctr-remote"),
    waitForSnapshotter: (name, timeoutMs = 60_000) =>
      waitFor(
        `containerd to reach snapshotter ${name}`,
        async () => {
          await ctr(["snapshots", "--snapshotter", name, "ls"]);
          return true;
        },
        timeoutMs,
      ),
    stop: async () => {
      await proc.stop(10000);
    },
  };
}

function containerdConfig(
  options: ContainerdOptions,
  root: string,
  state: string,
  address: string,
): string {
  const lines = [
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
  ];
  for (const [name, socket] of Object.entries(options.proxySnapshotters ?? {})) {
    lines.push(`[proxy_plugins.${name}]`, `  type = "snapshot"`, `  address = "${socket}"`);
  }
  if (options.extraConfig) lines.push(options.extraConfig);
  return lines.join("\n") + "\n";
}
