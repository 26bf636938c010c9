/**
 * Moves prioritized files to the front of a layer, each preceded by its
 * parent directories and, for hardlinks, its target, so that the prefetched
 * prefix of the blob is self-contained. Mirrors the Go builder's ordering.
 */
import { EStargzError } from "./errors.ts";
import { cleanEntryName, parentOf } from "./entry-name.ts";
import type { TarEntry } from "./tar-reader.ts";

export function orderForPrefetch(
  byName: ReadonlyMap<string, TarEntry>,
  prioritized: readonly string[],
  options: { layer: string | undefined; allowMissing: boolean },
): { first: TarEntry[]; rest: TarEntry[]; missing: string[] } {
  const { layer } = options;
  const missing: string[] = [];
  const remaining = new Map(byName);
  const first: TarEntry[] = [];
  const moved = new Set<string>();
  const move = (rawName: string, requested: boolean): void => {
    const name = cleanEntryName(rawName);
    if (moved.has(name)) return;
    const entry = remaining.get(name);
    if (name !== "") move(parentOf(name), false);
    if (!entry) {
      if (requested && options.allowMissing) missing.push(rawName);
      else if (requested) {
        throw new EStargzError("bad-entry", "prioritized file is not in the layer", {
          layer,
          entry: rawName,
        });
      }
      return;
    }
    if (entry.header.kind === "hardlink") move(entry.header.linkName, false);
    remaining.delete(name);
    moved.add(name);
    first.push(entry);
  };
  for (const name of prioritized) move(name, true);
  return { first, rest: [...remaining.values()], missing };
}
