/** Building TOC entries from tar headers, with Go's omit-empty conventions. */
import type { TarHeader } from "./tar-header.ts";
import type { EntryType, TocEntry } from "./types.ts";

/** Remembers the last user/group name per id: names are written only when they change, as in Go. */
export class OwnerNames {
  readonly #users = new Map<number, string>();
  readonly #groups = new Map<number, string>();

  user(id: number, name: string): string | undefined {
    return changed(this.#users, id, name);
  }

  group(id: number, name: string): string | undefined {
    return changed(this.#groups, id, name);
  }
}

function changed(seen: Map<number, string>, id: number, name: string): string | undefined {
  if (name === "" || seen.get(id) === name) return undefined;
  seen.set(id, name);
  return name;
}

/** RFC 3339 UTC, rounded to the second; empty for the epoch, as Go writes it. */
export function formatModtime(seconds: number): string | undefined {
  const rounded = Math.round(seconds);
  if (!Number.isFinite(rounded) || rounded === 0) return undefined;
  return new Date(rounded * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function tocEntryFor(header: TarHeader, owners: OwnerNames): TocEntry {
  const type = header.kind as EntryType;
  const entry: TocEntry = { name: header.name, type };
  if (type === "reg" && header.size > 0) entry.size = header.size;
  setIf(entry, "modtime", formatModtime(header.mtime));
  if (type === "hardlink" || type === "symlink") setIf(entry, "linkName", header.linkName);
  setIf(entry, "mode", header.mode);
  setIf(entry, "uid", header.uid);
  setIf(entry, "gid", header.gid);
  setIf(entry, "userName", owners.user(header.uid, header.userName));
  setIf(entry, "groupName", owners.group(header.gid, header.groupName));
  if (type === "char" || type === "block") {
    setIf(entry, "devMajor", header.devMajor);
    setIf(entry, "devMinor", header.devMinor);
  }
  if (header.xattrs.size > 0) {
    const names = [...header.xattrs.keys()].sort();
    entry.xattrs = Object.fromEntries(
      names.map((k) => [k, header.xattrs.get(k)!.toString("base64")]),
    );
  }
  return entry;
}

function setIf<K extends keyof TocEntry>(
  entry: TocEntry,
  key: K,
  value: TocEntry[K] | undefined,
): void {
  if (value !== undefined && value !== 0 && value !== "") entry[key] = value;
}
