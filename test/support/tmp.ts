import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

/** A fresh directory under the system temp dir; short, so unix socket paths fit in 108 bytes. */
export async function makeTempDir(prefix = "sgz-"): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
