/**
 * One timed "pull, create, run" of an image into containerd, the way a node
 * starts a container: legacy (ctr image pull: download every layer, unpack it
 * onto overlayfs) or lazy (rpull onto the stargz snapshotter: mount the layers
 * from the registry, download nothing yet). Bytes are counted by the caller's
 * proxy in front of the registry.
 */
import { run } from "./exec.ts";
import { stargzCli, type Wrap } from "./stack.ts";

export type PullMode = "legacy" | "lazy";

/** Which program does the lazy pull: ours, or the Go `ctr-remote` (for comparison). */
export type RpullTool = "stargz" | "ctr-remote";

export interface PullRunOptions {
  mode: PullMode;
  ref: string;
  /** containerd's socket. */
  address: string;
  namespace: string;
  containerId: string;
  command: readonly string[];
  rpullTool?: RpullTool;
  /** Prefix for commands that talk to the registry (a network namespace). */
  wrap?: Wrap;
  /** Called as each phase ends (e.g. to read a byte counter). */
  afterPhase?: (phase: "pull" | "create" | "run") => Promise<void> | void;
}

export interface PullRunResult {
  pullSec: number;
  createSec: number;
  runSec: number;
  totalSec: number;
  /** What the container printed. */
  output: string;
  /** What the pull command printed (rpull: one line per layer). */
  pullOutput: string;
}

async function timed(command: string, args: readonly string[]): Promise<[number, string]> {
  const start = process.hrtime.bigint();
  const { stdout } = await run(command, args);
  return [Number(process.hrtime.bigint() - start) / 1e9, stdout];
}

function pullCommand(o: PullRunOptions): string[] {
  const wrap = o.wrap ?? [];
  if (o.mode === "legacy") {
    return [
      ...wrap,
      "ctr",
      "-a",
      o.address,
      "-n",
      o.namespace,
      "image",
      "pull",
      "--plain-http",
      o.ref,
    ];
  }
  if ((o.rpullTool ?? "stargz") === "ctr-remote") {
    return [
      ...wrap,
      "ctr-remote",
      "-a",
      o.address,
      "-n",
      o.namespace,
      "image",
      "rpull",
      "--plain-http",
      "--snapshotter",
      "stargz",
      o.ref,
    ];
  }
  return [
    ...wrap,
    process.execPath,
    stargzCli,
    "image",
    "rpull",
    "--address",
    o.address,
    "--namespace",
    o.namespace,
    "--snapshotter",
    "stargz",
    "--plain-http",
    "--output",
    "text",
    o.ref,
  ];
}

/** Pulls, creates and starts the container (waiting for it to exit), then deletes the container. */
export async function pullCreateRun(o: PullRunOptions): Promise<PullRunResult> {
  const ctr = ["ctr", "-a", o.address, "-n", o.namespace];
  const snapshotter = o.mode === "lazy" ? ["--snapshotter", "stargz"] : [];
  const [head, ...pullArgs] = pullCommand(o);
  const [pullSec, pullOutput] = await timed(head as string, pullArgs);
  await o.afterPhase?.("pull");
  const [createSec] = await timed(ctr[0] as string, [
    ...ctr.slice(1),
    "container",
    "create",
    ...snapshotter,
    // "--" ends ctr's own flags: the command's "-c" is not ctr's --config.
    "--",
    o.ref,
    o.containerId,
    ...o.command,
  ]);
  await o.afterPhase?.("create");
  const [runSec, output] = await timed(ctr[0] as string, [
    ...ctr.slice(1),
    "task",
    "start",
    o.containerId,
  ]);
  await o.afterPhase?.("run");
  await run(ctr[0] as string, [...ctr.slice(1), "task", "delete", o.containerId]).catch(() => {});
  await run(ctr[0] as string, [...ctr.slice(1), "container", "delete", o.containerId]);
  return {
    pullSec,
    createSec,
    runSec,
    totalSec: pullSec + createSec + runSec,
    output,
    pullOutput,
  };
}
