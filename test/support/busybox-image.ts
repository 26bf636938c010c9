/**
 * A runnable image built from the host's static busybox (Debian's
 * busybox-static): a base layer with /bin/busybox and applet links, plus any
 * extra layers the test wants.
 */
import { readFile } from "node:fs/promises";
import { tarLayer, type TarEntry } from "./layer-image.ts";

export const busyboxPath = "/bin/busybox";
const applets = ["sh", "cat", "ls", "echo", "mkdir", "rm", "mv", "test", "sleep", "touch", "wc"];

export async function busyboxLayer(): Promise<Buffer> {
  const entries: TarEntry[] = [
    { path: "bin", type: "dir" },
    { path: "bin/busybox", content: await readFile(busyboxPath), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ path: `bin/${a}`, type: "symlink", linkname: "busybox" })),
    { path: "etc", type: "dir" },
    { path: "tmp", type: "dir", mode: 0o1777 },
    { path: "proc", type: "dir" },
    { path: "dev", type: "dir" },
    { path: "sys", type: "dir" },
  ];
  return tarLayer(entries);
}
