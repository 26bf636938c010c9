/** Tar and TOC names to canonical layer paths: no leading "./" or "/", no trailing "/"; "" is the root. */
import { posix } from "node:path";

export function cleanEntryName(name: string): string {
  return posix
    .normalize("/" + name)
    .replace(/^\/+/, "")
    .replace(/\/+$/, "");
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

export function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * Why a stored name is unsafe to serve, or undefined when it is fine.
 * Absolute names and ".." components are refused rather than silently
 * re-rooted, so a hostile TOC cannot alias another path.
 */
export function unsafeNameReason(name: string): string | undefined {
  if (name.startsWith("/")) return "absolute path";
  if (name.split("/").includes("..")) return "contains '..'";
  if (name.includes("\0")) return "contains NUL";
  return undefined;
}
