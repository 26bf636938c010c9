/**
 * The agent's config for a plain-HTTP registry at `host` (the Go snapshotter's
 * keys). Undefined while the agent's schema has no resolver table.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { projectDir } from "./stack.ts";

export async function agentConfig(host: string): Promise<string | undefined> {
  const schema = await readFile(join(projectDir, "src/agent/config/config.ts"), "utf8");
  if (!schema.includes("resolver")) return undefined;
  return [`[[resolver.host."${host}".mirrors]]`, `host = "${host}"`, "insecure = true", ""].join(
    "\n",
  );
}
