/**
 * Platform matching for multi-platform indexes, normalized as containerd does:
 * arch aliases (x86_64, aarch64), arm64 without a variant means v8, 32-bit arm
 * without a variant means v7.
 */
import { StargzError } from "../util/errors.ts";
import type { Descriptor, Platform } from "./descriptor.ts";

const archAliases: Record<string, string> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  aarch64: "arm64",
  armhf: "arm",
  armel: "arm",
  i386: "386",
};

export function normalizePlatform(p: Platform): Platform {
  const architecture = archAliases[p.architecture] ?? p.architecture;
  let variant = p.variant;
  if (architecture === "arm64" && (variant === undefined || variant === "v8" || variant === "8")) {
    variant = undefined;
  } else if (architecture === "arm" && (variant === undefined || variant === "")) {
    variant = "v7";
  }
  return { os: p.os, architecture, ...(variant ? { variant } : {}) };
}

/** Parses `os/arch[/variant]`, e.g. `linux/arm64` or `linux/arm/v6`. */
export function parsePlatform(spec: string): Platform {
  const [os, architecture, variant, ...extra] = spec.split("/");
  if (!os || !architecture || extra.length > 0) {
    throw new StargzError("INVALID_ARGUMENT", `invalid platform "${spec}", want os/arch[/variant]`);
  }
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

export function hostPlatform(): Platform {
  return normalizePlatform({
    os: process.platform,
    architecture: process.arch === "x64" ? "amd64" : process.arch,
  });
}

export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const a = normalizePlatform(want);
  const b = normalizePlatform(have);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

/** The first index entry for the platform, as containerd's default matcher picks it. */
export function selectPlatform(entries: Descriptor[], want: Platform): Descriptor | undefined {
  return entries.find((d) => platformMatches(want, d.platform));
}
