import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";

export interface RunningProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after graceMs. Only ever signals the PID this helper started. */
  stop(graceMs?: number): Promise<number | string>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here, for reading after a failure. */
  logFile: string;
}

export function startProcess(
  command: string,
  args: string[],
  options: StartOptions,
): RunningProcess {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  exited.finally(() => log.end()).catch(() => {});
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  const pid = child.pid;
  const stop = async (graceMs = 5000): Promise<number | string> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { pid, child, exited, stop };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Polls until check() resolves true, or throws with the last error after timeoutMs. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`, { cause: last });
}

/** Runs a command to completion, capturing output; rejects with both streams on failure. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: Buffer | string } = {},
): Promise<{ stdout: Buffer; stderr: string }> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  // A command that exits without reading its input closes the pipe early;
  // the resulting EPIPE is not the command's failure (its exit code says that).
  child.stdin.on("error", () => {});
  child.stdin.end(options.input ?? "");
  const [code, signal] = (await once(child, "close")) as [number | null, string | null];
  const stdout = Buffer.concat(out);
  const stderr = Buffer.concat(err).toString();
  if (code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${code ?? signal}: ${stderr}`);
  }
  return { stdout, stderr };
}
