/**
 * Usage of a directory tree the way containerd's fs.DiskUsage counts it:
 * every inode once (hard links are not counted twice) and the bytes of the
 * blocks each one occupies (st_blocks * 512).
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { StargzError } from "../../util/errors.ts";
import type { Usage } from "./types.ts";

export async function diskUsage(root: string, signal?: AbortSignal): Promise<Usage> {
  const seen = new Set<bigint>();
  let size = 0;
  const stack = [root];
  try {
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      signal?.throwIfAborted();
      const st = await lstat(dir, { bigint: true });
      if (!seen.has(st.ino)) {
        seen.add(st.ino);
        size += Number(st.blocks) * 512;
      }
      if (!st.isDirectory()) continue;
      for (const name of await readdir(dir)) stack.push(join(dir, name));
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new StargzError("INTERNAL", "cannot compute disk usage", {
      cause: err,
      context: { path: root },
    });
  }
  return { size, inodes: seen.size };
}
