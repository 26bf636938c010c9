/**
 * `stargz run [options] REF ID [CMD...]`: `stargz image rpull REF`, then
 * `ctr run --snapshotter SN REF ID CMD...` against the same containerd and
 * namespace. Pull progress goes to stderr so stdout is the container's.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { StargzError } from "../util/errors.ts";
import { UsageError, type CliIO, type CommandModule } from "./command.ts";
import { rpull, rpullOptions, type RpullValues } from "./image-command.ts";

const help = `Usage: stargz run [options] REF ID [CMD [ARG...]]

Pulls REF lazily (as \`stargz image rpull\`) and runs it as container ID with
ctr, on the same snapshotter. Options go before REF; everything after ID is
the command. Equivalent to:

  stargz image rpull [options] REF
  ctr --address A --namespace NS run --snapshotter SN [--rm] [--tty] REF ID [CMD...]

Options:
  --rm                          remove the container when it exits
  --tty, -t                     allocate a terminal for the container
  --ctr PATH                    the ctr binary (default "ctr" on PATH)
  (and every option of \`stargz image rpull\`: --address, --namespace, --snapshotter,
   --platform, --plain-http, --insecure, --hosts-config, --docker-config, --output, --log-level)
`;

const runOptions = {
  ...rpullOptions,
  rm: { type: "boolean" },
  tty: { type: "boolean", short: "t" },
  ctr: { type: "string" },
} as const;

export const runCommand: CommandModule = {
  summary: "pull an image lazily and run it with ctr",
  run: async (argv, io) => {
    const { flags, positionals } = splitArgs(argv);
    const values = parse(flags);
    if (values.help) {
      io.stdout.write(help);
      return 0;
    }
    const [ref, id, ...cmd] = positionals;
    if (ref === undefined || id === undefined) throw new UsageError("run needs REF and ID");
    const pullIO: CliIO = { stdout: io.stderr, stderr: io.stderr, signal: io.signal };
    await rpull(ref, values, pullIO);
    return runCtr(ctrArgs(values, ref, id, cmd), values.ctr ?? "ctr", io);
  },
};

function parse(flags: string[]): RpullValues & { rm?: boolean; tty?: boolean; ctr?: string } {
  try {
    return parseArgs({ args: flags, allowPositionals: false, options: runOptions }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Options up to REF; then REF, ID and the command verbatim (a leading "--" is dropped). */
function splitArgs(argv: string[]): { flags: string[]; positionals: string[] } {
  const takesValue = new Set(
    Object.entries(runOptions)
      .filter(([, o]) => o.type === "string")
      .map(([name]) => `--${name}`),
  );
  const flags: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] as string;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    flags.push(arg);
    if (takesValue.has(arg) && i + 1 < argv.length) flags.push(argv[++i] as string);
    i++;
  }
  return { flags, positionals: argv.slice(i) };
}

function ctrArgs(
  values: ReturnType<typeof parse>,
  ref: string,
  id: string,
  cmd: string[],
): string[] {
  return [
    "--address",
    values.address ?? "/run/containerd/containerd.sock",
    "--namespace",
    values.namespace ?? "default",
    "run",
    "--snapshotter",
    values.snapshotter ?? "stargz",
    ...(values.rm ? ["--rm"] : []),
    ...(values.tty ? ["--tty"] : []),
    ...(values.platform !== undefined ? ["--platform", values.platform] : []),
    ref,
    id,
    ...cmd,
  ];
}

async function runCtr(args: string[], ctr: string, io: CliIO): Promise<number> {
  const child = spawn(ctr, args, { stdio: ["inherit", "pipe", "pipe"], signal: io.signal });
  child.stdout.pipe(io.stdout, { end: false });
  child.stderr.pipe(io.stderr, { end: false });
  const failed = once(child, "error").then(([err]) => {
    throw new StargzError("UNAVAILABLE", `cannot run ${ctr}: ${(err as Error).message}`, {
      cause: err,
    });
  });
  const [code, signal] = (await Promise.race([once(child, "close"), failed])) as [
    number | null,
    string | null,
  ];
  return code ?? (signal ? 128 + 15 : 1);
}
