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
import { emptyHostsConfig, hostsConfigFromTable, type HostsConfig } from "../../registry/index.ts";

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
  /** Seconds the first container on a layer waits for its prefetch (Go: prefetch_timeout_sec). Default 10. */
  prefetchTimeoutSec: number;
  /** Do not prefetch (Go: noprefetch). Default false. */
  noPrefetch: boolean;
  /** Do not fetch the rest of a layer in the background (Go: no_background_fetch). Default false. */
  noBackgroundFetch: boolean;
  /** Mount layers without checking their TOC digest (Go: disable_verification). Default false. */
  disableVerification: boolean;
  /** host:port for the Prometheus endpoint (/metrics); empty: none. Default "". */
  metricsAddress: string;
  /** Docker config.json with registry credentials; empty: $DOCKER_CONFIG or ~/.docker/config.json if present. */
  dockerConfig: string;
  blob: {
    /** Seconds between registry probes of one layer before mounts are returned (Go: valid_interval). Default 60. */
    validIntervalSec: number;
    /** Probe on every check (Go: check_always). Default false. */
    checkAlways: boolean;
    /** Bound on one fetch from the registry, seconds (Go: fetching_timeout_sec). Default 300. */
    fetchingTimeoutSec: number;
    /** Retries of a failed registry request (Go: max_retries). Default 5. */
    maxRetries: number;
  };
  fuse: {
    /** Kernel attribute cache, seconds (Go: attr_timeout). Default 1. */
    attrTimeoutSec: number;
    /** Kernel lookup cache, seconds (Go: entry_timeout). Default 1. */
    entryTimeoutSec: number;
  };
  cache: {
    /** Decompressed chunks kept in memory, bytes. Default 64 MiB. */
    memoryMaxBytes: number;
    /** Chunks kept on disk under ROOT/cache, bytes; 0 disables the disk cache. Default 10 GiB. */
    diskMaxBytes: number;
  };
  /** Registry hosts, mirrors and timeouts (the Go `[resolver]` section plus our keys). */
  resolver: HostsConfig;
}

export const defaultConfig: AgentConfig = {
  logLevel: "info",
  snapshotter: {
    asyncRemove: false,
    overlayUserxattr: false,
    overlayIndexOff: false,
    shutdownGraceSec: 10,
  },
  prefetchTimeoutSec: 10,
  noPrefetch: false,
  noBackgroundFetch: false,
  disableVerification: false,
  metricsAddress: "",
  dockerConfig: "",
  blob: { validIntervalSec: 60, checkAlways: false, fetchingTimeoutSec: 300, maxRetries: 5 },
  fuse: { attrTimeoutSec: 1, entryTimeoutSec: 1 },
  cache: { memoryMaxBytes: 64 << 20, diskMaxBytes: 10 * 2 ** 30 },
  resolver: emptyHostsConfig(),
};

type Check = (value: unknown) => boolean;
const isBool: Check = (v) => typeof v === "boolean";
const isLevel: Check = (v) => typeof v === "string" && isLogLevel(v);
const isSeconds: Check = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 3600;
const isPositiveSeconds: Check = (v) => isSeconds(v) && (v as number) > 0;
const isCount: Check = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 100;
const isBytes: Check = (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isString: Check = (v) => typeof v === "string";
const isAddress: Check = (v) => typeof v === "string" && (v === "" || /^[^\s:]*:\d{1,5}$/.test(v));
const isTableValue: Check = (v) => isTable(v);

function field<T>(check: Check, expect: string, set: (c: AgentConfig, v: T) => void): Field {
  return { check, expect, set: set as (c: AgentConfig, v: never) => void };
}

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
  prefetch_timeout_sec: field<number>(isPositiveSeconds, "an integer 1..3600", (c, v) => {
    c.prefetchTimeoutSec = v;
  }),
  noprefetch: field<boolean>(isBool, "a boolean", (c, v) => (c.noPrefetch = v)),
  no_background_fetch: field<boolean>(isBool, "a boolean", (c, v) => (c.noBackgroundFetch = v)),
  disable_verification: field<boolean>(isBool, "a boolean", (c, v) => {
    c.disableVerification = v;
  }),
  metrics_address: field<string>(isAddress, 'a "host:port" string', (c, v) => {
    c.metricsAddress = v;
  }),
  docker_config: field<string>(isString, "a file path", (c, v) => (c.dockerConfig = v)),
  blob: {
    valid_interval: field<number>(isPositiveSeconds, "an integer 1..3600", (c, v) => {
      c.blob.validIntervalSec = v;
    }),
    check_always: field<boolean>(isBool, "a boolean", (c, v) => (c.blob.checkAlways = v)),
    fetching_timeout_sec: field<number>(isPositiveSeconds, "an integer 1..3600", (c, v) => {
      c.blob.fetchingTimeoutSec = v;
    }),
    max_retries: field<number>(isCount, "an integer 0..100", (c, v) => (c.blob.maxRetries = v)),
  },
  fuse: {
    attr_timeout: field<number>(isSeconds, "an integer 0..3600", (c, v) => {
      c.fuse.attrTimeoutSec = v;
    }),
    entry_timeout: field<number>(isSeconds, "an integer 0..3600", (c, v) => {
      c.fuse.entryTimeoutSec = v;
    }),
  },
  cache: {
    memory_max_bytes: field<number>(isBytes, "a non-negative integer", (c, v) => {
      c.cache.memoryMaxBytes = v;
    }),
    disk_max_bytes: field<number>(isBytes, "a non-negative integer", (c, v) => {
      c.cache.diskMaxBytes = v;
    }),
  },
  resolver: field<Record<string, unknown>>(isTableValue, "a table", (c, v) => {
    try {
      c.resolver = hostsConfigFromTable(v, "config key resolver");
    } catch (err) {
      throw new StargzError("INVALID_ARGUMENT", (err as Error).message, {
        cause: err,
        context: { key: "resolver" },
      });
    }
  }),
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
