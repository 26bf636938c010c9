/**
 * `stargz layer build|ls|cat|verify`: single eStargz layer files, for users
 * and for checks against other implementations.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGunzip } from "node:zlib";
import { StargzError } from "../util/errors.ts";
import { buildLayer, openLayer, type TarInput } from "../estargz/index.ts";
import { createFileSink, openFileBlob, type FileBlob } from "../util/file-blob.ts";
import { UsageError, type CliIO, type CommandModule } from "./command.ts";

const help = `Usage:
  stargz layer build IN.tar[.gz] OUT [--prioritized-files FILE] [--chunk-size N] [--compression-level N]
      Convert a tar (plain or gzip) into an eStargz layer; prints {digest, size, tocDigest, diffID}.
      --prioritized-files FILE  newline-separated paths to place first, before .prefetch.landmark
      --chunk-size N            bytes of file content per chunk (default 4194304)
      --compression-level N     gzip level 0-9 (default 9)
  stargz layer ls LAYER
      One JSON line per entry: name, type, size, mode, uid, gid, linkName, digest.
  stargz layer cat LAYER PATH
      Write a file's content, verified chunk by chunk, to stdout.
  stargz layer verify LAYER [--toc-digest D]
      Check the TOC digest (when given) and every chunk; exit 1 on any mismatch.
`;

export const layerCommand: CommandModule = {
  summary: "build, list, read and verify single eStargz layer files",
  run: async (argv, io) => {
    const [sub, ...rest] = argv;
    switch (sub) {
      case "build":
        return build(rest, io);
      case "ls":
        return list(rest, io);
      case "cat":
        return cat(rest, io);
      case "verify":
        return verify(rest, io);
      case undefined:
      case "--help":
      case "-h":
        io.stdout.write(help);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  },
};

function parse(
  argv: string[],
  positionals: number,
  options: Record<string, { type: "string" }> = {},
) {
  const parsed = parseArgs({
    args: argv,
    options: { ...options, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: false,
  });
  for (const [name, value] of Object.entries(parsed.values)) {
    if (name !== "help" && !(name in options)) throw new UsageError(`unknown option --${name}`);
    if (name in options && typeof value !== "string")
      throw new UsageError(`--${name} needs a value`);
  }
  if (parsed.values.help) return undefined;
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  }
  return { args: parsed.positionals, values: parsed.values as Record<string, string | undefined> };
}

function integerOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

async function build(argv: string[], io: CliIO): Promise<number> {
  const parsed = parse(argv, 2, {
    "prioritized-files": { type: "string" },
    "chunk-size": { type: "string" },
    "compression-level": { type: "string" },
  });
  if (!parsed) return printHelp(io);
  const [input, output] = parsed.args as [string, string];
  const prioritizedFiles = await readPrioritized(parsed.values["prioritized-files"]);
  const options = {
    chunkSize: integerOption(parsed.values["chunk-size"], "chunk-size"),
    compressionLevel: integerOption(parsed.values["compression-level"], "compression-level"),
    prioritizedFiles,
    layerName: input,
    signal: io.signal,
  };
  const tar = await openTarInput(input, prioritizedFiles.length > 0, io.signal);
  const sink = await createFileSink(output);
  try {
    const result = await buildLayer(tar.input, sink, options);
    await sink.commit();
    const { digest, size, tocDigest, diffID } = result;
    io.stdout.write(JSON.stringify({ digest, size, tocDigest, diffID }) + "\n");
    return 0;
  } catch (err) {
    await sink.abort();
    throw err;
  } finally {
    await tar.close();
  }
}

async function readPrioritized(file: string | undefined): Promise<string[]> {
  if (file === undefined) return [];
  const text = await readFile(file, "utf8");
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * A plain tar is read in place (random access). A gzip tar is streamed, or
 * inflated to a temp file first when prioritized files need random access.
 */
async function openTarInput(
  path: string,
  needRandomAccess: boolean,
  signal: AbortSignal,
): Promise<{ input: TarInput; close(): Promise<void> }> {
  const gzipped = await startsWithGzipMagic(path);
  if (!gzipped) {
    const blob = await openFileBlob(path);
    return { input: blob, close: () => blob.close() };
  }
  if (!needRandomAccess) {
    const stream = createReadStream(path).pipe(createGunzip());
    return { input: stream, close: async () => void stream.destroy() };
  }
  const dir = await mkdtemp(join(tmpdir(), "stargz-layer-"));
  const plain = join(dir, "layer.tar");
  await pipeline(
    createReadStream(path),
    createGunzip(),
    (await open(plain, "w")).createWriteStream(),
    { signal },
  );
  const blob: FileBlob = await openFileBlob(plain);
  return {
    input: blob,
    close: async () => {
      await blob.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function startsWithGzipMagic(path: string): Promise<boolean> {
  const handle = await open(path, "r");
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    return head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function withLayer<T>(
  path: string,
  options: { expectedTocDigest?: string; signal: AbortSignal },
  use: (reader: Awaited<ReturnType<typeof openLayer>>) => Promise<T>,
): Promise<T> {
  const blob = await openFileBlob(path);
  try {
    const opened = await openLayer(blob, {
      layerName: path,
      signal: options.signal,
      ...(options.expectedTocDigest ? { expectedTocDigest: options.expectedTocDigest } : {}),
    });
    return await use(opened);
  } finally {
    await blob.close();
  }
}

async function list(argv: string[], io: CliIO): Promise<number> {
  const parsed = parse(argv, 1);
  if (!parsed) return printHelp(io);
  return withLayer(parsed.args[0]!, { signal: io.signal }, async (reader) => {
    for (const { path, entry } of reader.index.listed) {
      const line = {
        name: path,
        type: entry.type,
        size: entry.size ?? 0,
        mode: entry.mode ?? 0,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        linkName: entry.linkName ?? "",
        digest: entry.digest ?? null,
      };
      if (!io.stdout.write(JSON.stringify(line) + "\n")) await drained(io.stdout);
    }
    return 0;
  });
}

async function cat(argv: string[], io: CliIO): Promise<number> {
  const parsed = parse(argv, 2);
  if (!parsed) return printHelp(io);
  const [layer, path] = parsed.args as [string, string];
  return withLayer(layer, { signal: io.signal }, async (reader) => {
    const node = reader.lookup(path);
    if (!node || node.type !== "reg") {
      const why = node ? `not a regular file (${node.type})` : "no such file in layer";
      const code = node ? "INVALID_ARGUMENT" : "NOT_FOUND";
      throw new StargzError(code, why, { context: { layer, entry: path } });
    }
    for (const chunk of node.chunks) {
      const data = await reader.readChunk(chunk, { signal: io.signal });
      if (!io.stdout.write(data)) await drained(io.stdout);
    }
    return 0;
  });
}

async function verify(argv: string[], io: CliIO): Promise<number> {
  const parsed = parse(argv, 1, { "toc-digest": { type: "string" } });
  if (!parsed) return printHelp(io);
  const expectedTocDigest = parsed.values["toc-digest"];
  return withLayer(
    parsed.args[0]!,
    { signal: io.signal, ...(expectedTocDigest ? { expectedTocDigest } : {}) },
    async (reader) => {
      const { chunks, bytes } = await reader.verifyAll({ signal: io.signal });
      io.stdout.write(
        JSON.stringify({
          ok: true,
          tocDigest: reader.tocDigest,
          entries: reader.index.listed.length,
          chunks,
          bytes,
        }) + "\n",
      );
      return 0;
    },
  );
}

function printHelp(io: CliIO): number {
  io.stdout.write(help);
  return 0;
}

function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => stream.once("drain", resolve));
}
