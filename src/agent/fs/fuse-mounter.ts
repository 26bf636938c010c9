/**
 * LayerMounter over fuse-native: one FUSE mount per layer, read-only, kernel
 * caching on (layers are immutable), inode numbers from the TOC (`use_ino`).
 * All state lives in the instance; nothing at module level.
 *
 * fuse-native runs every operation on this process's event loop, so this
 * process must never touch a mounted path itself (not even asynchronously:
 * the libuv threadpool would block on the mount while chunk inflation needs
 * it). Mount and unmount only call mount(2) and fusermount.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, normalize } from "node:path";
import Fuse from "fuse-native";
import type { LayerReader } from "../../estargz/index.ts";
import { StargzError } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { createFuseOps } from "./fuse-ops.ts";
import { LayerContent } from "./layer-content.ts";
import { LayerState } from "./layer-state.ts";
import { LayerView } from "./layer-view.ts";
import type { LayerFsMetrics } from "./metrics.ts";
import { prefetchSpan, runBackgroundFetch, runPrefetch } from "./prefetch.ts";
import type { Layer, LayerMounter, LayerStateJson } from "./types.ts";

export interface FuseLayerMounterOptions {
  /** Shared by every layer this mounter serves. */
  cache: ChunkCache;
  logger: Logger;
  metrics?: LayerFsMetrics | undefined;
  /** Kernel caching of lookups and attributes, in seconds (Go: [fuse] entry_timeout, attr_timeout; default 1). */
  entryTimeoutSec?: number;
  attrTimeoutSec?: number;
  /** Bound on one fetch, in milliseconds (Go: fetching_timeout_sec; default 300 s). */
  fetchTimeoutMs?: number;
  /** Skip prefetch (Go: noprefetch). */
  noPrefetch?: boolean;
  /** Skip fetching the rest of the layer after prefetch (Go: no_background_fetch). */
  noBackgroundFetch?: boolean;
  backgroundConcurrency?: number;
  /** Chunks fetched ahead of a sequential reader (default 3). */
  readAheadChunks?: number;
}

interface Mounted {
  fuse: LayerFuse;
  layer: Layer;
  state: LayerState;
  prefetch: Promise<boolean>;
  background: Promise<void>;
  stop: AbortController;
}

/** libfuse options fuse-native 2.2.6 has no setting for; pinned version, so overriding its option builder is safe. */
class LayerFuse extends Fuse {
  protected override _fuseOptions(): string {
    const base = super._fuseOptions();
    const extra = "ro,use_ino,suid,dev";
    return base ? `${base},${extra}` : `-o${extra}`;
  }

  /**
   * Unmounts (`fusermount -uz`) unless the mount is already gone, then always
   * releases fuse-native's handle on the event loop. fuse-native's own
   * unmount skips that release when fusermount fails, which keeps the
   * process alive forever after someone else unmounted the layer.
   */
  detach(stillMounted: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const release = (): void => {
        try {
          fuseBinding().fuse_native_unmount(this.mnt, this._thread);
          resolve();
        } catch (err) {
          reject(err as Error);
        }
      };
      if (!stillMounted) return release();
      Fuse.unmount(this.mnt, (err) => (err ? reject(err) : release()));
    });
  }
}

interface FuseBinding {
  fuse_native_unmount(mnt: string, thread: Buffer): void;
}

/** fuse-native's native module; node caches addons by file, so this is the instance fuse-native uses. */
function fuseBinding(): FuseBinding {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("fuse-native/package.json"));
  // Resolved from fuse-native's own directory: it is fuse-native's dependency, not ours.
  const load = createRequire(join(dir, "index.js"))("node-gyp-build") as (
    dir: string,
  ) => FuseBinding;
  return load(dir);
}

export class FuseLayerMounter implements LayerMounter {
  readonly #o: FuseLayerMounterOptions;
  readonly #mounts = new Map<string, Mounted>();

  constructor(options: FuseLayerMounterOptions) {
    this.#o = options;
  }

  async mount(mountpoint: string, layer: Layer, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (!isAbsolute(mountpoint) || normalize(mountpoint) !== mountpoint) {
      throw new StargzError("INVALID_ARGUMENT", "mountpoint must be an absolute, normalized path", {
        context: { mountpoint, layer: layer.digest },
      });
    }
    if (this.#mounts.has(mountpoint)) {
      throw new StargzError("ALREADY_EXISTS", "a layer is already mounted here", {
        context: { mountpoint, layer: layer.digest },
      });
    }
    if (await isMountPoint(mountpoint)) {
      // A stale mount (say, of an agent that crashed) is for the caller to clear: it may still be in use.
      throw new StargzError("FAILED_PRECONDITION", "something is already mounted here", {
        context: { mountpoint, layer: layer.digest },
      });
    }
    const logger = this.#o.logger.child({ layer: layer.digest, mountpoint });
    const stop = new AbortController();
    const state = new LayerState(layer.digest, layer.source.size, logger);
    state.markFetched({ start: layer.reader.footer.tocOffset, end: layer.source.size });
    const content = this.#content(layer, state, logger, stop.signal);
    const view = new LayerView(layer.reader.index, `${layer.digest}.json`);
    const fuse = new LayerFuse(
      mountpoint,
      createFuseOps({ view, content, state }),
      this.#fuseOptions(layer),
    );
    await mountFuse(fuse, signal, { mountpoint, layer: layer.digest });
    const mounted: Mounted = {
      fuse,
      layer,
      state,
      stop,
      prefetch: Promise.resolve(true),
      background: Promise.resolve(),
    };
    this.#mounts.set(mountpoint, mounted);
    this.#startFetching(mounted, content, logger);
    logger.info("layer mounted", { size: layer.source.size });
  }

  async check(mountpoint: string): Promise<void> {
    const mounted = this.#get(mountpoint);
    if (!(await isMountPoint(mountpoint))) {
      throw new StargzError("UNAVAILABLE", "layer mount is gone", {
        context: { mountpoint, layer: mounted.layer.digest },
      });
    }
  }

  async unmount(mountpoint: string): Promise<void> {
    const mounted = this.#mounts.get(mountpoint);
    if (!mounted) return;
    mounted.stop.abort(
      new StargzError("CANCELLED", "layer unmounted", { context: { mountpoint } }),
    );
    await mounted.fuse.detach(await isMountPoint(mountpoint)).catch((cause: unknown) => {
      throw new StargzError("INTERNAL", "unmount failed", {
        cause,
        context: { mountpoint, layer: mounted.layer.digest },
      });
    });
    this.#mounts.delete(mountpoint);
    await Promise.allSettled([mounted.prefetch, mounted.background]);
  }

  async waitForPrefetch(mountpoint: string, timeoutMs: number): Promise<boolean> {
    const mounted = this.#get(mountpoint);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)),
    );
    try {
      return await Promise.race([mounted.prefetch, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the background fetch of the layer has finished (or stopped). */
  async waitForBackgroundFetch(mountpoint: string): Promise<void> {
    const mounted = this.#get(mountpoint);
    await mounted.prefetch;
    await mounted.background;
  }

  state(mountpoint: string): LayerStateJson {
    return this.#get(mountpoint).state.json();
  }

  /** Every mountpoint this mounter serves. */
  mountpoints(): string[] {
    return [...this.#mounts.keys()];
  }

  #get(mountpoint: string): Mounted {
    const mounted = this.#mounts.get(mountpoint);
    if (!mounted)
      throw new StargzError("NOT_FOUND", "no layer is mounted here", { context: { mountpoint } });
    return mounted;
  }

  #content(layer: Layer, state: LayerState, logger: Logger, signal: AbortSignal): LayerContent {
    return new LayerContent({
      layer,
      cache: this.#o.cache,
      state,
      logger,
      metrics: this.#o.metrics,
      fetchTimeoutMs: this.#fetchTimeoutMs(),
      readAheadChunks: this.#o.readAheadChunks,
      signal,
    });
  }

  #fetchTimeoutMs(): number {
    return this.#o.fetchTimeoutMs ?? 300_000;
  }

  #fuseOptions(layer: Layer): ConstructorParameters<typeof Fuse>[2] {
    return {
      allowOther: true,
      defaultPermissions: true,
      // auto_cache: page cache kept while a file's mtime and size stay the same,
      // which is forever for layer files and never for the state file.
      autoCache: true,
      entryTimeout: this.#o.entryTimeoutSec ?? 1,
      attrTimeout: this.#o.attrTimeoutSec ?? 1,
      fsname: `stargz-${shortDigest(layer.digest)}`,
      subtype: "stargz",
      // A backstop only: our own fetch timeout answers EIO well before this.
      timeout: this.#fetchTimeoutMs() + 30_000,
    };
  }

  #startFetching(mounted: Mounted, content: LayerContent, logger: Logger): void {
    const base = {
      reader: mounted.layer.reader,
      source: mounted.layer.source,
      content,
      state: mounted.state,
      logger,
      signal: mounted.stop.signal,
      fetchTimeoutMs: this.#fetchTimeoutMs(),
    };
    mounted.prefetch = this.#o.noPrefetch ? Promise.resolve(true) : runPrefetch(base);
    // Without a disk cache the rest of the layer has nowhere to stay: memory is bounded.
    if (this.#o.noBackgroundFetch || !this.#o.cache.hasDisk) return;
    mounted.state.backgroundFetch = "pending";
    mounted.background = mounted.prefetch.then(() =>
      runBackgroundFetch({ ...base, concurrency: this.#o.backgroundConcurrency }),
    );
  }
}

function mountFuse(
  fuse: Fuse,
  signal: AbortSignal,
  context: { mountpoint: string; layer: string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    fuse.mount((err) => {
      if (!err) return resolve();
      reject(
        new StargzError("INTERNAL", `FUSE mount failed: ${err.message}`, { cause: err, context }),
      );
    });
  }).then(async () => {
    if (!signal.aborted) return;
    await new Promise<void>((resolve) => fuse.unmount(() => resolve()));
    signal.throwIfAborted();
  });
}

/** Whether a mount sits at `path`, from /proc/self/mountinfo (never touching the path itself). */
async function isMountPoint(path: string): Promise<boolean> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return mountinfo.split("\n").some((line) => unescapeMountPath(line.split(" ")[4] ?? "") === path);
}

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

/** Whether a layer has a prefetch range (for callers deciding whether to wait). */
export function hasPrefetch(reader: LayerReader): boolean {
  return prefetchSpan(reader) !== undefined;
}
