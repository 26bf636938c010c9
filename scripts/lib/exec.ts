/** Runs a command to completion; rejects with its stderr when it fails. */
import { spawn } from "node:child_process";
import { once } from "node:events";

export async function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const [code, signal] = (await once(child, "close")) as [number | null, string | null];
  const stdout = Buffer.concat(out).toString();
  const stderr = Buffer.concat(err).toString();
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${code ?? signal}: ${stderr.slice(-2000)}`,
    );
  }
  return { stdout, stderr };
}
