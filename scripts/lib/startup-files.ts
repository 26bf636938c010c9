/**
 * The files a command reads when it starts in a root filesystem, in the order
 * it first opens them: the list `stargz image convert --prioritized-files`
 * takes to build an optimized image (those files go before each layer's
 * prefetch landmark). Found by running the command under strace in a chroot
 * of the rootfs tarball; paths are resolved through symlinks inside the
 * rootfs and only regular files are kept.
 */
import { lstat, mkdir, readFile, readlink, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { run } from "./exec.ts";

export async function startupFiles(
  rootfsTar: string,
  command: readonly string[],
  workDir: string,
): Promise<string[]> {
  const rootfs = join(workDir, "rootfs");
  await mkdir(rootfs, { recursive: true });
  try {
    await run("tar", ["--numeric-owner", "-xpf", rootfsTar, "-C", rootfs]);
    const trace = join(workDir, "trace");
    await run("strace", [
      "-f",
      "-qq",
      "-e",
      "trace=open,openat,execve",
      "-o",
      trace,
      "chroot",
      rootfs,
      ...command,
    ]);
    const files: string[] = [];
    for (const path of openedPaths(await readFile(trace, "utf8"))) {
      const resolved = await resolveIn(rootfs, path);
      if (resolved === undefined || files.includes(resolved)) continue;
      const stat = await lstat(join(rootfs, resolved)).catch(() => undefined);
      if (stat?.isFile()) files.push(resolved);
    }
    return files;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

/**
 * Absolute paths that strace shows opened or executed successfully from the
 * command's own exec on: the first successful execve is chroot, which then
 * opens its libraries on the host; the second is the command in the rootfs.
 */
export function openedPaths(trace: string): string[] {
  const paths: string[] = [];
  let execs = 0;
  for (const line of trace.split("\n")) {
    const m = /^\d+\s+(open|openat|execve)\((?:AT_FDCWD, )?"([^"]+)".*\)\s+=\s+(-?\d+)/.exec(line);
    if (!m || Number(m[3]) < 0) continue;
    const [, call, path] = m as unknown as [string, string, string];
    if (call === "execve") execs++;
    if (execs >= 2 && path.startsWith("/")) paths.push(path);
  }
  return paths;
}

/** `path` (absolute, as seen inside `root`) with every symlink followed, relative to root. */
export async function resolveIn(root: string, path: string): Promise<string | undefined> {
  const pending = path.split("/").filter((c) => c !== "" && c !== ".");
  const done: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift() as string;
    if (part === "..") {
      done.pop();
      continue;
    }
    const here = join(root, ...done, part);
    const stat = await lstat(here).catch(() => undefined);
    if (stat === undefined) return undefined;
    if (!stat.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++hops > 40) return undefined;
    const target = await readlink(here);
    if (target.startsWith("/")) done.length = 0;
    pending.unshift(...target.split("/").filter((c) => c !== "" && c !== "."));
  }
  return posix.join(...done);
}
