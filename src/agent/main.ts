#!/usr/bin/env node
/**
 * stargz-agent: wires flags, config, logger, snapshotter and gRPC server, and
 * shuts down in order on SIGTERM/SIGINT (stop accepting, finish in-flight
 * calls, close the store). Exit codes: 0 clean, 1 runtime failure, 2 bad
 * flags or config.
 */
import { join } from "node:path";
import { Registry, collectDefaultMetrics } from "prom-client";
import { StargzError, errorMessage } from "../util/errors.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { loadConfig, type AgentConfig } from "./config/config.ts";
import { parseFlags, usage, type AgentFlags } from "./flags.ts";
import { serveMetrics, type MetricsServer } from "./metrics-server.ts";
import { createRemoteStack, type RemoteStack } from "./remote/remote-stack.ts";
import { serveSnapshots } from "./snapshot/grpc-server.ts";
import { Snapshotter } from "./snapshot/snapshotter.ts";

async function main(argv: readonly string[]): Promise<number> {
  let flags: AgentFlags;
  let config: AgentConfig;
  try {
    flags = parseFlags(argv);
    if (flags.help) {
      process.stdout.write(usage);
      return 0;
    }
    config = await loadConfig(flags.config);
  } catch (err) {
    process.stderr.write(`stargz-agent: ${errorMessage(err)}\n\n${usage}`);
    return 2;
  }
  const log = createLogger({
    level: flags.logLevel ?? config.logLevel,
    fields: { component: "stargz-agent" },
  });
  try {
    return await serve(flags, config, log);
  } catch (err) {
    log.error("agent failed", { error: err });
    return 1;
  }
}

async function serve(flags: AgentFlags, config: AgentConfig, log: Logger): Promise<number> {
  const stopping = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    log.info("shutting down", { signal });
    stopping.abort();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  if (flags.dockerConfig !== undefined) config.dockerConfig = flags.dockerConfig;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const metricsAddress = flags.metricsAddress ?? config.metricsAddress;
  let metricsServer: MetricsServer | undefined;
  if (metricsAddress !== "") {
    metricsServer = await serveMetrics(metricsAddress, metrics);
    log.info("serving metrics", { address: metricsServer.address });
  }
  const remote: RemoteStack | undefined = flags.noRemote
    ? undefined
    : await createRemoteStack({
        config,
        root: flags.root,
        logger: log,
        metrics,
        signal: stopping.signal,
      });
  const snapshotter = await Snapshotter.open(
    {
      root: join(flags.root, "snapshotter"),
      logger: log.child({ module: "snapshotter" }),
      asyncRemove: config.snapshotter.asyncRemove,
      userxattr: config.snapshotter.overlayUserxattr,
      indexOff: config.snapshotter.overlayIndexOff,
      ...(remote
        ? { fileSystem: remote.fileSystem, onRestoreFailure: remote.onRestoreFailure }
        : {}),
    },
    { signal: stopping.signal },
  );
  const server = await serveSnapshots(flags.address, snapshotter, log.child({ module: "grpc" }));
  log.info("serving", { address: flags.address, root: flags.root, remote: remote !== undefined });
  if (!stopping.signal.aborted)
    await new Promise((resolve) =>
      stopping.signal.addEventListener("abort", resolve, { once: true }),
    );
  await server.close(config.snapshotter.shutdownGraceSec * 1000);
  await snapshotter.close();
  // FUSE mounts are served by this process: unmount them before it goes.
  await remote?.close();
  await metricsServer?.close();
  log.info("stopped");
  process.off("SIGTERM", onSignal);
  process.off("SIGINT", onSignal);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `stargz-agent: ${err instanceof StargzError ? err.message : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
