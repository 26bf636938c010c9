/**
 * Builds the lazy-pulling side of the agent from its config: one registry
 * client, one chunk cache (memory + disk under ROOT/cache), one FUSE layer
 * mounter, and the RemoteFileSystem the snapshotter uses. The agent holds the
 * mounter only as a `LayerMounter`, so FUSE serving can later move into a
 * process of its own.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { RegistryClient, dockerConfigFileKeychain } from "../../registry/index.ts";
import type { Logger } from "../../util/log.ts";
import { DiskCache } from "../cache/index.ts";
import type { AgentConfig } from "../config/config.ts";
import { ChunkCache, FuseLayerMounter, createLayerFsMetrics } from "../fs/index.ts";
import type { Labels } from "../snapshot/types.ts";
import { ImageStates } from "./image-state.ts";
import { LayerResolver } from "./layer-resolver.ts";
import { RemoteFileSystem } from "./remote-filesystem.ts";
import { createRemoteMetrics } from "./remote-metrics.ts";

export interface RemoteStackOptions {
  config: AgentConfig;
  /** The agent's --root. */
  root: string;
  logger: Logger;
  metrics: Registry;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
}

export interface RemoteStack {
  readonly fileSystem: RemoteFileSystem;
  readonly imageStateDir: string;
  onRestoreFailure(labels: Labels, mountpoint: string, err: unknown): void;
  /** Unmounts every layer and closes the registry client. */
  close(): Promise<void>;
}

export async function createRemoteStack(o: RemoteStackOptions): Promise<RemoteStack> {
  const { config, logger } = o;
  const client = new RegistryClient({
    hosts: config.resolver,
    keychain: dockerConfigFileKeychain(dockerConfigPath(config.dockerConfig)),
    logger: logger.child({ module: "registry" }),
    retry: { maxAttempts: config.blob.maxRetries + 1 },
  });
  const fsMetrics = createLayerFsMetrics(o.metrics);
  const disk =
    config.cache.diskMaxBytes > 0
      ? await DiskCache.open({
          dir: join(o.root, "cache"),
          maxBytes: config.cache.diskMaxBytes,
          onError: (err) => logger.warn("disk cache eviction failed", { error: err }),
        })
      : undefined;
  const cache = new ChunkCache({
    memoryMaxBytes: config.cache.memoryMaxBytes,
    disk,
    metrics: fsMetrics,
    logger: logger.child({ module: "cache" }),
  });
  const mounter = new FuseLayerMounter({
    cache,
    logger: logger.child({ module: "fs" }),
    metrics: fsMetrics,
    entryTimeoutSec: config.fuse.entryTimeoutSec,
    attrTimeoutSec: config.fuse.attrTimeoutSec,
    fetchTimeoutMs: config.blob.fetchingTimeoutSec * 1000,
    noPrefetch: config.noPrefetch,
    noBackgroundFetch: config.noBackgroundFetch,
  });
  const imageStateDir = join(o.root, "remote", "images");
  const fileSystem = new RemoteFileSystem({
    mounter,
    resolver: new LayerResolver({ client, allowUnverified: config.disableVerification }),
    states: new ImageStates({ dir: imageStateDir, logger }),
    metrics: createRemoteMetrics(o.metrics),
    logger: logger.child({ module: "remote" }),
    prefetchTimeoutSec: config.prefetchTimeoutSec,
    validIntervalSec: config.blob.validIntervalSec,
    checkAlways: config.blob.checkAlways,
    noPrefetch: config.noPrefetch,
    disableVerification: config.disableVerification,
    signal: o.signal,
  });
  return {
    fileSystem,
    imageStateDir,
    onRestoreFailure: (labels, mountpoint, err) =>
      fileSystem.reportRestoreFailure(labels, mountpoint, err),
    close: async () => {
      await fileSystem.unmountAll();
      await client.close();
    },
  };
}

/** The configured file; else the standard location, used only when it exists (the keychain then reads it on each use). */
function dockerConfigPath(configured: string): string | undefined {
  if (configured !== "") return configured;
  const standard = join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  return existsSync(standard) ? standard : undefined;
}
