/**
 * Mounting containerd-style Mount lists in tests, and unmounting everything a
 * test left under its temp dir. Long overlay option strings are compacted the
 * way containerd's mount code does (relative lowerdirs from their common
 * parent, mount run with that parent as working directory).
 */
import { readFile } from "node:fs/promises";
import { compactLowerdir } from "../../src/agent/snapshot/mounts.ts";
import { run } from "./process.ts";

export interface WireLikeMount {
  type: string;
  source: string;
  options: readonly string[];
}

export async function mountAll(mounts: readonly WireLikeMount[], target: string): Promise<void> {
  for (const m of mounts) {
    const compact = m.type === "overlay" ? compactLowerdir(m) : undefined;
    const options = (compact?.options ?? m.options).join(",");
    const args =
      m.type === "bind"
        ? ["--bind", "-o", options, m.source, target]
        : ["-t", m.type, "-o", options, m.source, target];
    await run("mount", args, { cwd: compact?.cwd });
    if (m.type === "bind" && m.options.includes("ro"))
      await run("mount", ["-o", "remount,ro,bind", target]);
  }
}

export async function unmount(target: string): Promise<void> {
  await run("umount", [target]);
}

/** Unmounts every mount point under `dir`, deepest first; for test cleanup. */
export async function unmountUnder(dir: string): Promise<void> {
  const lines = (await readFile("/proc/self/mountinfo", "utf8")).split("\n");
  const points = lines
    .map((l) => l.split(" ")[4] ?? "")
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await run("umount", ["-l", p]).catch(() => undefined);
}
