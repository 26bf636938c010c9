/**
 * The snapshotter's FileSystem for eStargz layers: Prepare labels in, a FUSE
 * mount out. It talks to the layer mounter only through `LayerMounter`, so the
 * FUSE serving can move into a process of its own (design step 7).
 *
 * mount() rejects with a RemoteMountError for every reason a layer cannot be
 * served remotely; the snapshotter then lets containerd unpack it. Each
 * outcome is logged, counted and written to the image's state file.
 *
 * check() is what the snapshotter calls before handing out mounts that stack
 * on a remote layer: the mount must still be there, the registry must still
 * have the blob (probed at most every `validIntervalSec`, one refresh on
 * failure), and the first call waits for the layer's prefetch, bounded by
 * `prefetchTimeoutSec`.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { StargzError, errorMessage, isErrorCode } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import type { Layer, LayerMounter } from "../fs/types.ts";
import type { FileSystem, Labels } from "../snapshot/types.ts";
import {
  RemoteMountError,
  asRemoteMountError,
  classifyFailure,
  type FallbackReason,
} from "./fallback-reason.ts";
import type { ImageStates } from "./image-state.ts";
import type { LayerResolving } from "./layer-resolver.ts";
import { neighbourLayers, parseRemoteLabels, type RemoteLayerSpec } from "./remote-labels.ts";
import type { RemoteMetrics } from "./remote-metrics.ts";

const execFileAsync = promisify(execFile);

export interface RemoteFileSystemOptions {
  mounter: LayerMounter;
  resolver: LayerResolving;
  states: ImageStates;
  metrics: RemoteMetrics;
  logger: Logger;
  /** Go: prefetch_timeout_sec (default 10). */
  prefetchTimeoutSec?: number;
  /** Go: [blob] valid_interval, seconds between registry probes of one layer (default 60). */
  validIntervalSec?: number;
  /** Go: [blob] check_always: probe on every check. */
  checkAlways?: boolean;
  /** Go: noprefetch: nothing to wait for. */
  noPrefetch?: boolean;
  /** Go: disable_verification: mount without a TOC digest to check. */
  disableVerification?: boolean;
  /** Neighbouring layers resolved at once while a layer mounts (default 3). */
  neighbourConcurrency?: number;
  /** Stops background work (neighbour resolution) when the agent stops. */
  signal?: AbortSignal;
  now?: () => number;
  /** Detaches a stale mount nobody serves any more (default `fusermount -uz`). */
  detachStale?: (mountpoint: string) => Promise<void>;
}

interface Served {
  spec: RemoteLayerSpec;
  probedAt: number;
  prefetchWaited: boolean;
}

export class RemoteFileSystem implements FileSystem {
  readonly #o: RemoteFileSystemOptions;
  readonly #served = new Map<string, Served>();
  readonly #now: () => number;
  #neighboursRunning = 0;
  readonly #neighbourQueue: (() => Promise<void>)[] = [];

  constructor(options: RemoteFileSystemOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async mount(mountpoint: string, labels: Labels, signal: AbortSignal): Promise<void> {
    let spec: RemoteLayerSpec | undefined;
    try {
      spec = parseRemoteLabels(labels);
      await this.#mountLayer(mountpoint, spec, signal);
    } catch (err) {
      throw await this.#fellBack(err, spec, mountpoint);
    }
    this.#served.set(mountpoint, { spec, probedAt: this.#now(), prefetchWaited: false });
    this.#o.metrics.mounted();
    // Awaited so the state file is current when containerd hears back; record() never throws.
    await this.#o.states.record(spec.image, spec.digest, { mode: "remote" });
    this.#o.logger.info("layer mounted remotely", {
      image: spec.image,
      layer: spec.digest,
      mountpoint,
    });
  }

  async check(mountpoint: string, labels: Labels): Promise<void> {
    const served = this.#served.get(mountpoint);
    if (!served) {
      throw new StargzError("NOT_FOUND", "no remote layer is served here", {
        context: { mountpoint },
      });
    }
    await this.#o.mounter.check(mountpoint);
    await this.#checkSource(served, mountpoint, labels);
    if (!served.prefetchWaited && !this.#o.noPrefetch) {
      const done = await this.#o.mounter.waitForPrefetch(
        mountpoint,
        (this.#o.prefetchTimeoutSec ?? 10) * 1000,
      );
      served.prefetchWaited = true;
      if (!done)
        this.#o.logger.warn("prefetch not finished in time, container starts anyway", {
          image: served.spec.image,
          layer: served.spec.digest,
        });
    }
  }

  async unmount(mountpoint: string): Promise<void> {
    this.#served.delete(mountpoint);
    await this.#o.mounter.unmount(mountpoint);
  }

  /** Unmounts every layer this filesystem serves (agent shutdown). */
  async unmountAll(): Promise<void> {
    const all = [...this.#served.keys()];
    const results = await Promise.allSettled(all.map((mp) => this.unmount(mp)));
    for (const [i, r] of results.entries()) {
      if (r.status === "rejected")
        this.#o.logger.warn("cannot unmount layer", { mountpoint: all[i], error: r.reason });
    }
  }

  /** Records a remote snapshot that could not be mounted again at start (the snapshot stays). */
  reportRestoreFailure(labels: Labels, mountpoint: string, err: unknown): void {
    const reason = classifyFailure(err);
    this.#o.metrics.restoreFailed(reason);
    let spec: RemoteLayerSpec | undefined;
    try {
      spec = parseRemoteLabels(labels);
    } catch {
      spec = undefined;
    }
    this.#o.logger.error("cannot restore remote snapshot", {
      image: spec?.image,
      layer: spec?.digest,
      mountpoint,
      reason,
      error: errorMessage(err),
    });
    if (spec)
      void this.#o.states.record(spec.image, spec.digest, {
        mode: "restore_failed",
        reason,
        error: errorMessage(err),
      });
  }

  async #mountLayer(mountpoint: string, spec: RemoteLayerSpec, signal: AbortSignal): Promise<void> {
    if (!this.#o.disableVerification && spec.tocDigest === undefined) {
      throw new RemoteMountError(
        "no_toc_digest",
        "layer has no TOC digest label to verify against",
      );
    }
    // Only for a layer that can be mounted at all: an unconverted image would pay a HEAD per layer for nothing.
    this.#preResolveNeighbours(spec);
    const layer = await this.#o.resolver.resolve(spec.image, spec.digest, signal);
    if (!this.#o.disableVerification && layer.reader.tocDigest !== spec.tocDigest) {
      this.#o.resolver.forget(spec.image, spec.digest);
      throw new RemoteMountError(
        "toc_digest_mismatch",
        `TOC digest is ${layer.reader.tocDigest}, the manifest says ${spec.tocDigest}`,
      );
    }
    await this.#mountClearingStale(mountpoint, layer, signal);
  }

  /**
   * FUSE is served in this process, so a mount at `mountpoint` that this
   * mounter does not know is dead (left by an earlier agent process): detach
   * it and mount again. Revisit when FUSE serving moves to its own process.
   */
  async #mountClearingStale(mountpoint: string, layer: Layer, signal: AbortSignal): Promise<void> {
    try {
      await this.#o.mounter.mount(mountpoint, layer, signal);
    } catch (err) {
      if (!isErrorCode(err, "FAILED_PRECONDITION")) throw err;
      this.#o.logger.warn("detaching a stale mount", { mountpoint, layer: layer.digest });
      await (this.#o.detachStale ?? detachLazily)(mountpoint);
      await this.#o.mounter.mount(mountpoint, layer, signal);
    }
  }

  async #fellBack(
    err: unknown,
    spec: RemoteLayerSpec | undefined,
    mountpoint: string,
  ): Promise<Error> {
    const wrapped = asRemoteMountError(err, {
      image: spec?.image,
      layer: spec?.digest,
    });
    const reason: FallbackReason = wrapped.reason;
    this.#o.metrics.fallback(reason);
    this.#o.logger.warn("layer falls back to unpacking", {
      image: spec?.image,
      layer: spec?.digest,
      mountpoint,
      reason,
      error: errorMessage(err),
    });
    if (spec)
      await this.#o.states.record(spec.image, spec.digest, {
        mode: "fallback",
        reason,
        error: errorMessage(err),
      });
    return wrapped;
  }

  /** Probes the registry when the last probe is older than valid_interval; one refresh on failure. */
  async #checkSource(served: Served, mountpoint: string, labels: Labels): Promise<void> {
    const intervalMs = (this.#o.validIntervalSec ?? 60) * 1000;
    if (!this.#o.checkAlways && this.#now() - served.probedAt < intervalMs) return;
    const { image, digest } = served.spec;
    const signal = this.#o.signal ?? new AbortController().signal;
    try {
      await this.#o.resolver.probe(image, digest, signal);
      served.probedAt = this.#now();
      this.#o.metrics.check("ok");
      return;
    } catch (err) {
      this.#o.logger.warn("layer source check failed, refreshing", {
        image,
        layer: digest,
        error: errorMessage(err),
      });
    }
    const fresh = refreshedSpec(served.spec, labels);
    try {
      this.#o.resolver.forget(fresh.image, fresh.digest);
      await this.#o.resolver.probe(fresh.image, fresh.digest, signal);
    } catch (err) {
      this.#o.metrics.check("failed");
      throw new StargzError("UNAVAILABLE", "layer source is unavailable", {
        cause: err,
        context: { image, layer: digest, mountpoint },
      });
    }
    served.probedAt = this.#now();
    this.#o.metrics.check("refreshed");
  }

  /** Resolves (HEAD, footer, TOC) the image's other layers in the background, a few at a time. */
  #preResolveNeighbours(spec: RemoteLayerSpec): void {
    const signal = this.#o.signal ?? new AbortController().signal;
    for (const digest of neighbourLayers(spec)) {
      this.#neighbourQueue.push(async () => {
        if (signal.aborted) return;
        await this.#o.resolver.resolve(spec.image, digest, signal).then(
          () => undefined,
          (err: unknown) =>
            this.#o.logger.debug("cannot pre-resolve layer", {
              image: spec.image,
              layer: digest,
              error: errorMessage(err),
            }),
        );
      });
    }
    this.#drainNeighbours();
  }

  #drainNeighbours(): void {
    const limit = this.#o.neighbourConcurrency ?? 3;
    while (this.#neighboursRunning < limit) {
      const job = this.#neighbourQueue.shift();
      if (!job) return;
      this.#neighboursRunning++;
      void job().finally(() => {
        this.#neighboursRunning--;
        this.#drainNeighbours();
      });
    }
  }
}

/** Labels given to a later call may name the image differently (a new tag, CRI labels); prefer them. */
function refreshedSpec(spec: RemoteLayerSpec, labels: Labels): RemoteLayerSpec {
  try {
    const fresh = parseRemoteLabels(labels);
    return fresh.digest === spec.digest ? fresh : spec;
  } catch {
    return spec;
  }
}

async function detachLazily(mountpoint: string): Promise<void> {
  await execFileAsync("fusermount", ["-uz", mountpoint]).catch(async () => {
    await execFileAsync("umount", ["-l", mountpoint]);
  });
}
