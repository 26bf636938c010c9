/**
 * `stargz image convert SRC DST`: a thin wrapper over src/convert. Flags
 * follow `ctr-remote image convert` where they overlap.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  convertImage,
  logProgress,
  terminalProgress,
  type ConvertProgress,
} from "../convert/index.ts";
import {
  RegistryClient,
  chainKeychains,
  dockerConfigFileKeychain,
  emptyHostsConfig,
  parseHostsToml,
  parsePlatform,
  parseReference,
  type HostsConfig,
  type ImageReference,
} from "../registry/index.ts";
import { ContainerdClient } from "../containerd/index.ts";
import {
  pullImage,
  type PullContainerd,
  type PullRegistry,
  type PullResult,
} from "../pull/index.ts";
import { StargzError } from "../util/errors.ts";
import { createLogger, isLogLevel, type Logger } from "../util/log.ts";
import { UsageError, type CliIO, type CommandModule } from "./command.ts";
import { rpullOutput } from "./rpull-output.ts";

const convertHelp = `Usage: stargz image convert [options] SRC DST

Reads SRC from its registry, rewrites every layer as eStargz, pushes the
result to DST and prints its digest. Layers already in eStargz are kept.

Options:
  --platform OS/ARCH[/VARIANT]  convert only this platform of an index (repeatable; default: all)
  --chunk-size BYTES            file content per chunk (default 4194304)
  --compression-level N         gzip level 0-9 (default 9)
  --prioritized-files FILE      paths (one per line) to place first, before the prefetch landmark
  --plain-http                  talk plain HTTP to the SRC and DST registries
  --insecure                    skip TLS certificate checks for the SRC and DST registries
  --hosts-config FILE           registry hosts TOML (mirrors, TLS, timeouts, headers)
  --docker-config FILE          credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)
  --jobs N                      layers converted at once (default 2)
  --tmp-dir DIR                 where layers are staged while converting (default: system temp)
  --progress auto|plain|tty     progress display (default auto: tty on a terminal)
  --log-level LEVEL             debug, info, warn, error (default warn)
`;

const rpullHelp = `Usage: stargz image rpull [options] REF

Pulls REF into containerd lazily: writes index, manifest and config into the
content store, then prepares each layer's snapshot with the remote-snapshot
labels. A snapshotter that mounts a layer from the registry downloads
nothing; other layers are downloaded and unpacked as containerd would.
Afterwards \`ctr run --snapshotter stargz REF ID\` runs the image.

Options:
  --address PATH                containerd socket (default /run/containerd/containerd.sock)
  --namespace NS                containerd namespace (default "default")
  --snapshotter NAME            containerd snapshotter (default "stargz")
  --platform OS/ARCH[/VARIANT]  platform to pull from an index (default: this machine's)
  --plain-http                  talk plain HTTP to the registry
  --insecure                    skip TLS certificate checks for the registry
  --hosts-config FILE           registry hosts TOML (mirrors, TLS, timeouts, headers)
  --docker-config FILE          credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)
  --output auto|text|json       per-layer lines (default auto: text on a terminal, JSON lines otherwise)
  --log-level LEVEL             debug, info, warn, error (default warn)
`;

const help = `Usage: stargz image <subcommand> [options]

Subcommands:
  convert SRC DST   convert an image to eStargz, registry to registry
  rpull REF         pull an image into containerd lazily
`;

export const imageCommand: CommandModule = {
  summary: "convert images between registries and pull them lazily",
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === "--help" || sub === "-h") {
      io.stdout.write(help);
      return sub === undefined ? 2 : 0;
    }
    if (sub === "convert") return runConvert(rest, io);
    if (sub === "rpull") return (await rpullResult(rest, io)).code;
    throw new UsageError(`unknown subcommand "${sub}"`);
  },
};

async function runConvert(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseConvertArgs(argv);
  if (values.help) {
    io.stdout.write(convertHelp);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError("convert needs SRC and DST image references");
  const source = parseReference(positionals[0] as string);
  const target = parseReference(positionals[1] as string);
  const logLevel = values["log-level"] ?? "warn";
  if (!isLogLevel(logLevel)) throw new UsageError(`unknown log level "${logLevel}"`);
  const logger = createLogger({ level: logLevel, write: (l) => io.stderr.write(l) });
  const hosts = await loadHosts(values, [source, target]);
  const keychain = chainKeychains(dockerConfigFileKeychain(values["docker-config"]));
  const client = new RegistryClient({ hosts, keychain, logger });
  const tmpDir = await mkdtemp(join(values["tmp-dir"] ?? tmpdir(), "stargz-convert-"));
  const progress = chooseProgress(values.progress ?? "auto", io);
  try {
    const result = await convertImage({
      client,
      source,
      target,
      tmpDir,
      progress,
      logger,
      signal: io.signal,
      concurrency: positiveInt(values.jobs, "--jobs") ?? 2,
      settings: {
        ...optional("chunkSize", positiveInt(values["chunk-size"], "--chunk-size")),
        ...optional("compressionLevel", level(values["compression-level"])),
        ...optional("prioritizedFiles", await prioritized(values["prioritized-files"])),
      },
      ...(values.platform ? { platforms: values.platform.map(parsePlatform) } : {}),
    });
    progress.finish();
    io.stdout.write(`${result.descriptor.digest}\n`);
    return 0;
  } finally {
    progress.finish();
    await client.close();
    await rm(tmpDir, { recursive: true, force: true });
  }
}

export const rpullOptions = {
  help: { type: "boolean", short: "h" },
  address: { type: "string" },
  namespace: { type: "string" },
  snapshotter: { type: "string" },
  platform: { type: "string" },
  "plain-http": { type: "boolean" },
  insecure: { type: "boolean" },
  "hosts-config": { type: "string" },
  "docker-config": { type: "string" },
  output: { type: "string" },
  "log-level": { type: "string" },
} as const;

export type RpullValues = ReturnType<typeof parseRpullArgs>["values"];

function parseRpullArgs(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: rpullOptions });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** `stargz image rpull`; also the first half of `stargz run`. */
export async function rpullResult(
  argv: string[],
  io: CliIO,
): Promise<{ code: number; result?: PullResult; values?: RpullValues }> {
  const { values, positionals } = parseRpullArgs(argv);
  if (values.help) {
    io.stdout.write(rpullHelp);
    return { code: 0 };
  }
  if (positionals.length !== 1) throw new UsageError("rpull needs one image reference");
  const result = await rpull(positionals[0] as string, values, io);
  return { code: 0, result, values };
}

export async function rpull(image: string, values: RpullValues, io: CliIO): Promise<PullResult> {
  const ref = parseReference(image);
  const logLevel = values["log-level"] ?? "warn";
  if (!isLogLevel(logLevel)) throw new UsageError(`unknown log level "${logLevel}"`);
  const output = values.output ?? "auto";
  if (output !== "auto" && output !== "text" && output !== "json") {
    throw new UsageError(`--output must be auto, text or json, not "${output}"`);
  }
  const tty =
    output === "text" || (output === "auto" && (io.stdout as NodeJS.WriteStream).isTTY === true);
  const printer = rpullOutput(io.stdout, tty);
  const logger = createLogger({ level: logLevel, write: (l) => io.stderr.write(l) });
  const hosts = await loadHosts(values, [ref]);
  const keychain = chainKeychains(dockerConfigFileKeychain(values["docker-config"]));
  const registry = new RegistryClient({ hosts, keychain, logger });
  const containerd = new ContainerdClient({
    ...(values.address !== undefined ? { address: values.address } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
  });
  try {
    const result = await pullImage({
      registry: registry satisfies PullRegistry,
      containerd: containerd satisfies PullContainerd,
      ref,
      snapshotter: values.snapshotter ?? "stargz",
      logger,
      signal: io.signal,
      onLayer: (layer, total) => printer.layer(layer, total),
      ...(values.platform !== undefined ? { platform: parsePlatform(values.platform) } : {}),
    });
    printer.summary(result);
    return result;
  } finally {
    containerd.close();
    await registry.close();
  }
}

function parseConvertArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        platform: { type: "string", multiple: true },
        "chunk-size": { type: "string" },
        "compression-level": { type: "string" },
        "prioritized-files": { type: "string" },
        "plain-http": { type: "boolean" },
        insecure: { type: "boolean" },
        "hosts-config": { type: "string" },
        "docker-config": { type: "string" },
        jobs: { type: "string" },
        "tmp-dir": { type: "string" },
        progress: { type: "string" },
        "log-level": { type: "string" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function loadHosts(
  values: { "hosts-config"?: string; "plain-http"?: boolean; insecure?: boolean },
  refs: ImageReference[],
): Promise<HostsConfig> {
  let hosts = emptyHostsConfig();
  const file = values["hosts-config"];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      throw new StargzError("INVALID_ARGUMENT", `cannot read hosts config ${file}`, { cause: err });
    }
    hosts = parseHostsToml(text, file);
  }
  if (!values["plain-http"] && !values.insecure) return hosts;
  for (const ref of refs) {
    const entry = hosts.hosts[ref.registry] ?? { mirrors: [] };
    entry.origin = {
      ...entry.origin,
      ...(values["plain-http"] ? { plainHttp: true } : {}),
      ...(values.insecure ? { skipVerify: true } : {}),
    };
    hosts.hosts[ref.registry] = entry;
  }
  return hosts;
}

function chooseProgress(mode: string, io: CliIO): ConvertProgress {
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
  if (mode === "tty" || (mode === "auto" && tty)) return terminalProgress(io.stderr);
  if (mode === "plain" || mode === "auto") return logProgress(plainLogger(io));
  throw new UsageError(`--progress must be auto, plain or tty, not "${mode}"`);
}

function plainLogger(io: CliIO): Logger {
  return createLogger({ level: "info", write: (l) => io.stderr.write(l) });
}

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

function level(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 9)
    throw new UsageError("--compression-level must be 0-9");
  return n;
}

async function prioritized(file: string | undefined): Promise<string[] | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", `cannot read prioritized files list ${file}`, {
      cause: err,
    });
  }
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
