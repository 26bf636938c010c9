/**
 * Snapshot names for an image's layers, as the OCI image spec defines chain
 * IDs: the first is the first diffID; each next one is
 * sha256("<previous chainID> <diffID>").
 */
import { createHash } from "node:crypto";

export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const previous = out.at(-1);
    out.push(
      previous === undefined
        ? diffId
        : "sha256:" + createHash("sha256").update(`${previous} ${diffId}`).digest("hex"),
    );
  }
  return out;
}
