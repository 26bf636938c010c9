/**
 * The agent's TOML config. Every key is declared in `schema` with its type and
 * default; an unknown key or a value of the wrong type stops the agent before
 * it serves anything, naming the key. Keys and tables follow the Go
 * containerd-stargz-grpc where one exists; later issues add theirs here.
 */
import { readFile } from "node:fs/promises";
import { parse } from "smol-toml";
import { StargzError } from "../../util/errors.ts";
import { isLogLevel, type LogLevel } from "../../util/log.ts";

export interface AgentConfig {
  /** Log level when --log-level is not given. Default "info". */
  logLevel: LogLevel;
  snapshotter: {
    /** Leave removed snapshot directories for Cleanup (containerd calls it after GC). Default false. */
    asyncRemove: boolean;
    /** Add "userxattr" to overlay mounts (agent in a user namespace). Default false. */
    overlayUserxattr: boolean;
    /** Add "index=off" to overlay mounts. Default false. */
    overlayIndexOff: boolean;
    /** Seconds in-flight calls get to finish on SIGTERM. Default 10. */
    shutdownGraceSec: number;
  };
}

export const defaultConfig: AgentConfig = {
  logLevel: "info",
  snapshotter: {
    asyncRemove: false,
    overlayUserxattr: false,
    overlayIndexOff: false,
    shutdownGraceSec: 10,
  },
};

type Check = (value: unknown) => boolean;
const isBool: Check = (v) => typeof v === "boolean";
const isLevel: Check = (v) => typeof v === "string" && isLogLevel(v);
const isSeconds: Check = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 3600;

interface Field {
  check: Check;
  expect: string;
  set: (c: AgentConfig, v: never) => void;
}

const schema: Record<string, Field | Record<string, Field>> = {
  log_level: {
    check: isLevel,
    expect: "one of debug, info, warn, error",
    set: (c, v) => (c.logLevel = v),
  },
  snapshotter: {
    async_remove: {
      check: isBool,
      expect: "a boolean",
      set: (c, v) => (c.snapshotter.asyncRemove = v),
    },
    overlay_userxattr: {
      check: isBool,
      expect: "a boolean",
      set: (c, v) => (c.snapshotter.overlayUserxattr = v),
    },
    overlay_index_off: {
      check: isBool,
      expect: "a boolean",
      set: (c, v) => (c.snapshotter.overlayIndexOff = v),
    },
    shutdown_grace_sec: {
      check: isSeconds,
      expect: "an integer 0..3600",
      set: (c, v) => (c.snapshotter.shutdownGraceSec = v),
    },
  },
};

export function parseConfig(text: string, source = "config"): AgentConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", "config is not valid TOML", {
      cause: err,
      context: { file: source },
    });
  }
  const config = structuredClone(defaultConfig);
  applyTable(config, doc, schema, { prefix: "", source });
  return config;
}

export async function loadConfig(file: string | undefined): Promise<AgentConfig> {
  if (file === undefined) return structuredClone(defaultConfig);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", "cannot read config file", {
      cause: err,
      context: { file },
    });
  }
  return parseConfig(text, file);
}

function applyTable(
  config: AgentConfig,
  table: Record<string, unknown>,
  fields: Record<string, Field | Record<string, Field>>,
  where: { prefix: string; source: string },
): void {
  const { prefix, source } = where;
  for (const [key, value] of Object.entries(table)) {
    const name = prefix + key;
    const field = fields[key];
    if (field === undefined)
      throw new StargzError("INVALID_ARGUMENT", `unknown config key "${name}"`, {
        context: { file: source, key: name },
      });
    if (isField(field)) {
      if (!field.check(value))
        throw new StargzError("INVALID_ARGUMENT", `config key "${name}" must be ${field.expect}`, {
          context: { file: source, key: name },
        });
      field.set(config, value as never);
    } else if (isTable(value)) {
      applyTable(config, value, field as Record<string, Field>, { prefix: `${name}.`, source });
    } else {
      throw new StargzError("INVALID_ARGUMENT", `config key "${name}" must be a table`, {
        context: { file: source, key: name },
      });
    }
  }
}

function isField(f: Field | Record<string, Field>): f is Field {
  return typeof (f as Field).check === "function";
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
