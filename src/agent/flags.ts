/**
 * Command-line flags of stargz-agent; names and defaults match the Go
 * containerd-stargz-grpc so existing containerd configs and unit files work.
 */
import { parseArgs } from "node:util";
import { StargzError } from "../util/errors.ts";
import { isLogLevel, type LogLevel } from "../util/log.ts";

export interface AgentFlags {
  address: string;
  root: string;
  config: string | undefined;
  logLevel: LogLevel | undefined;
  /** host:port for /metrics; overrides the config's metrics_address. */
  metricsAddress: string | undefined;
  /** Docker config.json for registry credentials; overrides the config's docker_config. */
  dockerConfig: string | undefined;
  /** Serve every layer by unpacking (no FUSE). */
  noRemote: boolean;
  help: boolean;
}

export const defaultAddress = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock";
export const defaultRoot = "/var/lib/containerd-stargz-grpc";

export const usage = `Usage: stargz-agent [flags]

containerd snapshotter for eStargz images, served over gRPC on a unix socket.

Flags:
  --address PATH     unix socket to serve on (default ${defaultAddress})
  --root DIR         state directory (default ${defaultRoot})
  --config FILE      TOML config file (optional)
  --log-level LEVEL  debug, info, warn or error (default: config, else info)
  --metrics-address HOST:PORT  serve Prometheus metrics at /metrics (default: config, else none)
  --docker-config FILE         docker config.json with registry credentials
                               (default: config, else ~/.docker/config.json if present)
  --no-remote        never mount layers lazily: every layer is unpacked
  --help             show this help
`;

export function parseFlags(argv: readonly string[]): AgentFlags {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        address: { type: "string", default: defaultAddress },
        root: { type: "string", default: defaultRoot },
        config: { type: "string" },
        "log-level": { type: "string" },
        "metrics-address": { type: "string" },
        "docker-config": { type: "string" },
        "no-remote": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", (err as Error).message, { cause: err });
  }
  const level = values["log-level"];
  if (level !== undefined && !isLogLevel(level)) {
    throw new StargzError(
      "INVALID_ARGUMENT",
      "--log-level must be one of debug, info, warn, error",
      { context: { value: level } },
    );
  }
  return {
    address: values.address,
    root: values.root,
    config: values.config,
    logLevel: level,
    metricsAddress: values["metrics-address"],
    dockerConfig: values["docker-config"],
    noRemote: values["no-remote"],
    help: values.help,
  };
}
