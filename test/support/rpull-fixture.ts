/**
 * Shared pieces of the rpull integration tests: a runnable busybox image,
 * pushing it, converting it with `stargz image convert`, and running the
 * `stargz` CLI as a child process.
 */
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { buildImage, tarArchive, type TestImage } from "./test-image.ts";
import { RegistryClient, parseReference } from "../../src/registry/index.ts";

export const cliPath = join(import.meta.dirname, "../../src/cli/main.ts");

export function hasBusybox(): boolean {
  return existsSync("/bin/busybox");
}

/** Two layers: busybox with a few applets, then an app layer with a file to cat. */
export async function busyboxImage(message = "hello from rpull\n"): Promise<TestImage> {
  const busybox = await readFile("/bin/busybox");
  const tools = ["sh", "cat", "echo", "ls", "wc", "sha256sum"];
  const base = tarArchive([
    { path: "bin", type: "dir" },
    { path: "bin/busybox", data: busybox, mode: 0o755 },
    ...tools.map((t) => ({ path: `bin/${t}`, type: "symlink" as const, linkname: "busybox" })),
    { path: "etc", type: "dir" },
    { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
  ]);
  const app = tarArchive([
    { path: "srv", type: "dir" },
    { path: "srv/hello.txt", data: message },
    { path: "srv/big.bin", data: Buffer.alloc(3 * 1024 * 1024, 7) },
  ]);
  return buildImage([base, app], { cmd: ["/bin/cat", "/srv/hello.txt"] });
}

export async function pushImage(
  client: RegistryClient,
  image: TestImage,
  ref: string,
): Promise<void> {
  const r = parseReference(ref);
  for (const b of [image.config, ...image.layers]) await client.pushBlob(r, b, b.bytes);
  await client.putManifest(r, image.manifest.mediaType, image.manifest.bytes);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node src/cli/main.ts ARGS` and returns its exit code and output, never throwing. */
export async function stargz(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliRun> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const [code] = (await once(child, "close")) as [number | null];
  return {
    code: code ?? -1,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
  };
}

/** The JSON lines rpull prints when stdout is not a terminal. */
export function parseJsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
