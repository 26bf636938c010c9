/**
 * Starts our stargz-agent (src/agent/main.ts) as a child process with its own
 * socket and root under a test dir, and waits until it serves.
 */
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startProcess, waitFor, type RunningProcess } from "./process.ts";

export const agentMain = fileURLToPath(new URL("../../src/agent/main.ts", import.meta.url));

export interface TestAgent {
  readonly socket: string;
  readonly root: string;
  readonly logFile: string;
  readonly process: RunningProcess;
  stop(): Promise<number | string>;
}

export interface AgentOptions {
  /** Holds socket, log and config (and the root unless `root` is given). */
  dir: string;
  root?: string;
  /** TOML text for --config. */
  config?: string;
  env?: NodeJS.ProcessEnv;
}

export async function startAgent(options: AgentOptions): Promise<TestAgent> {
  await mkdir(options.dir, { recursive: true });
  const socket = join(options.dir, "agent.sock");
  const root = options.root ?? join(options.dir, "root");
  // A socket left by a killed agent must not pass for the new one being up.
  await rm(socket, { force: true });
  const logFile = join(options.dir, "agent.log");
  const args = [agentMain, "--address", socket, "--root", root, "--log-level", "debug"];
  if (options.config !== undefined) {
    const configFile = join(options.dir, "agent.toml");
    await writeFile(configFile, options.config);
    args.push("--config", configFile);
  }
  const proc = startProcess(process.execPath, args, { logFile, env: options.env });
  await waitFor(`agent at ${socket}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`agent exited, see ${logFile}`);
    return existsSync(socket) && (await accepts(socket));
  });
  return { socket, root, logFile, process: proc, stop: () => proc.stop(15000) };
}

/** The socket file appears at bind(), a moment before listen(); connect to be sure. */
function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(socket, () => {
      conn.destroy();
      resolve(true);
    });
    conn.on("error", () => resolve(false));
  });
}
