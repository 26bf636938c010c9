import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Whether an executable is on PATH. */
export function hasCommand(name: string): boolean {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

/**
 * The reason an integration test cannot run here, or undefined when it can.
 * Pass it as node:test's `skip` option so the summary shows what was skipped and why.
 */
export function missingForIntegration(commands: string[], needsRoot = true): string | undefined {
  if (needsRoot && process.getuid?.() !== 0) return "needs root (containerd, mounts)";
  const missing = commands.filter((c) => !hasCommand(c));
  return missing.length > 0
    ? `missing commands: ${missing.join(", ")} (run scripts/provision.sh)`
    : undefined;
}
