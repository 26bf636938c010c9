#!/usr/bin/env node
/**
 * `stargz`: convert images to eStargz, inspect layers, pull lazily.
 * Each subcommand lives in its own module, loaded only when used.
 */
import { errorMessage, StargzError } from "../util/errors.ts";
import { UsageError, type CliIO, type CommandModule } from "./command.ts";

const commands: Record<string, () => Promise<CommandModule>> = {
  layer: async () => (await import("./layer-command.ts")).layerCommand,
  image: async () => (await import("./image-command.ts")).imageCommand,
  run: async () => (await import("./run-command.ts")).runCommand,
};

function topLevelHelp(): string {
  return [
    "Usage: stargz <command> [args]",
    "",
    "Commands:",
    "  layer   build, list, read and verify single eStargz layer files",
    "  image   convert images between registries and pull them lazily",
    "  run     pull an image lazily into containerd and run it with ctr",
    "",
    "Run `stargz <command> --help` for a command's options.",
    "",
  ].join("\n");
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(topLevelHelp());
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    io.stderr.write(`stargz: unknown command "${name}"\n\n${topLevelHelp()}`);
    return 2;
  }
  try {
    return await (await load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`stargz ${name}: ${err.message}\nRun \`stargz ${name} --help\` for usage.\n`);
      return 2;
    }
    const code = err instanceof StargzError ? ` [${err.code}]` : "";
    io.stderr.write(`stargz ${name}: ${errorMessage(err)}${code}\n`);
    return 1;
  }
}

if (import.meta.main) {
  const controller = new AbortController();
  // A closed pipe (`stargz layer ls … | head`) ends the command quietly, as Unix tools do.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    controller.abort(err);
    process.exit(process.exitCode ?? 0);
  });
  process.once("SIGINT", () => controller.abort(new Error("interrupted")));
  process.once("SIGTERM", () => controller.abort(new Error("terminated")));
  const io = { stdout: process.stdout, stderr: process.stderr, signal: controller.signal };
  process.exitCode = await main(process.argv.slice(2), io);
}
