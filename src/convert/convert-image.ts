/**
 * `stargz image convert`: reads an image (or every platform of an index) from
 * a registry, rewrites its layers as eStargz, and pushes layers, configs and
 * manifests to the target. Only the final manifest or index is tagged, after
 * everything it references is in place, so a failed run leaves no tag
 * pointing at a half-pushed image. Layers an earlier run converted with the
 * same settings (recorded in the target's layer annotations) are reused.
 */
import { StargzError } from "../util/errors.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import {
  formatPlatform,
  formatReference,
  mediaTypes,
  platformMatches,
  sha256Digest,
  withDigest,
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
  type ImageReference,
  type Platform,
  type RegistryClient,
} from "../registry/index.ts";
import {
  buildSettingsAnnotation,
  convertLayer,
  settingsKey,
  sourceDigestAnnotation,
  type ConvertedLayer,
  type LayerBuildSettings,
} from "./convert-layer.ts";
import { createLimiter } from "./limiter.ts";
import { silentProgress, type ConvertProgress } from "./progress.ts";

export interface ConvertImageOptions {
  client: RegistryClient;
  source: ImageReference;
  target: ImageReference;
  /** Convert only these platforms of an index; all when unset. */
  platforms?: Platform[];
  settings?: LayerBuildSettings;
  /** Directory for temporary layer files. */
  tmpDir: string;
  /** Layers converted at once (each streams; memory per layer is bounded by the builder). */
  concurrency?: number;
  progress?: ConvertProgress;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface ConvertImageResult {
  /** What the target tag now points to. */
  descriptor: Descriptor;
  manifests: { platform?: Platform; descriptor: Descriptor; layers: ConvertedLayer[] }[];
}

interface ImageConfig {
  rootfs?: { type?: string; diff_ids?: string[] };
  [key: string]: unknown;
}

export async function convertImage(options: ConvertImageOptions): Promise<ConvertImageResult> {
  const ctx = {
    ...options,
    settings: options.settings ?? {},
    progress: options.progress ?? silentProgress,
    logger: options.logger ?? silentLogger(),
    limit: createLimiter(options.concurrency ?? 2),
  };
  const top = await ctx.client.getManifest(options.source, { signal: options.signal });
  const previous = await previousLayers(ctx);
  if (top.kind === "manifest") {
    const one = await convertManifest(ctx, {
      source: options.source,
      fetched: top,
      previous,
      tagAs: options.target,
    });
    return { descriptor: one.descriptor, manifests: [one] };
  }
  const entries = selectEntries(ctx, top);
  const manifests = await Promise.all(
    entries.map(async (entry) => {
      const child = await ctx.client.getManifest(withDigest(options.source, entry.digest), {
        signal: options.signal,
      });
      const source = withDigest(options.source, entry.digest);
      const converted = await convertManifest(ctx, { source, fetched: child, previous });
      return { ...converted, ...(entry.platform ? { platform: entry.platform } : {}) };
    }),
  );
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociIndex,
    manifests: manifests.map((m) => ({
      ...m.descriptor,
      ...(m.platform ? { platform: m.platform } : {}),
    })),
    ...(top.index?.annotations ? { annotations: top.index.annotations } : {}),
  };
  const descriptor = await ctx.client.putManifest(
    options.target,
    mediaTypes.ociIndex,
    json(index),
    {
      signal: options.signal,
    },
  );
  return { descriptor, manifests };
}

type Ctx = Required<Pick<ConvertImageOptions, "settings" | "progress" | "logger">> &
  ConvertImageOptions & { limit: ReturnType<typeof createLimiter> };

function selectEntries(ctx: Ctx, top: FetchedManifest): Descriptor[] {
  const all = top.index?.manifests ?? [];
  const chosen = all.filter((d) => {
    if (!d.platform || d.platform.os === "unknown") return false; // attestations and the like
    return !ctx.platforms || ctx.platforms.some((p) => platformMatches(p, d.platform));
  });
  if (chosen.length === 0) {
    const wanted = ctx.platforms?.map(formatPlatform).join(", ") ?? "any";
    throw new StargzError("NOT_FOUND", `index has no manifest for platform ${wanted}`, {
      context: { image: formatReference(ctx.source) },
    });
  }
  return chosen;
}

interface ManifestJob {
  source: ImageReference;
  fetched: FetchedManifest;
  previous: Map<string, ConvertedLayer>;
  /** Put the result under this tag; by digest when unset (an index entry). */
  tagAs?: ImageReference;
}

async function convertManifest(
  ctx: Ctx,
  job: ManifestJob,
): Promise<{ descriptor: Descriptor; layers: ConvertedLayer[] }> {
  const { source, fetched, previous, tagAs } = job;
  const manifest = fetched.manifest as ImageManifest;
  const image = formatReference(source);
  const configBytes = await ctx.client.fetchBlob(source, manifest.config, { signal: ctx.signal });
  const config = parseConfig(configBytes, image);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw new StargzError(
      "FAILED_PRECONDITION",
      "config lists a different number of layers than the manifest",
      {
        context: { image },
      },
    );
  }
  const key = settingsKey(ctx.settings);
  const layers = await Promise.all(
    manifest.layers.map((layer, i) =>
      ctx.limit(() =>
        convertLayer({
          client: ctx.client,
          source,
          target: ctx.target,
          layer,
          diffID: diffIds[i] as string,
          settings: ctx.settings,
          tmpDir: ctx.tmpDir,
          progress: ctx.progress,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          ...(previous.has(`${layer.digest}|${key}`)
            ? { previous: previous.get(`${layer.digest}|${key}`) }
            : {}),
        }),
      ),
    ),
  );
  config.rootfs = { type: "layers", diff_ids: layers.map((l) => l.diffID) };
  const newConfig = json(config);
  const configDesc = {
    mediaType: mediaTypes.ociConfig,
    digest: sha256Digest(newConfig),
    size: newConfig.length,
  };
  await ctx.client.pushBlob(ctx.target, configDesc, newConfig, { signal: ctx.signal });
  const out: ImageManifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.ociManifest,
    config: configDesc,
    layers: layers.map((l) => l.descriptor),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  const bytes = json(out);
  const ref = tagAs ?? withDigest(ctx.target, sha256Digest(bytes));
  const descriptor = await ctx.client.putManifest(ref, mediaTypes.ociManifest, bytes, {
    signal: ctx.signal,
  });
  return { descriptor, layers };
}

/** Layers an earlier conversion pushed to the target tag, keyed by source digest and settings. */
async function previousLayers(ctx: Ctx): Promise<Map<string, ConvertedLayer>> {
  const found = new Map<string, ConvertedLayer>();
  let top: FetchedManifest;
  try {
    top = await ctx.client.getManifest(ctx.target, { signal: ctx.signal });
  } catch (err) {
    if (
      err instanceof StargzError &&
      (err.code === "NOT_FOUND" || err.code === "FAILED_PRECONDITION")
    )
      return found;
    throw err;
  }
  const manifests =
    top.kind === "manifest"
      ? [top]
      : await Promise.all(
          (top.index?.manifests ?? []).map((d) =>
            ctx.client
              .getManifest(withDigest(ctx.target, d.digest), { signal: ctx.signal })
              .catch(() => undefined),
          ),
        );
  for (const m of manifests) {
    if (!m?.manifest) continue;
    const config = parseConfig(
      await ctx.client.fetchBlob(ctx.target, m.manifest.config, { signal: ctx.signal }),
      "",
    );
    m.manifest.layers.forEach((layer, i) => {
      const src = layer.annotations?.[sourceDigestAnnotation];
      const settings = layer.annotations?.[buildSettingsAnnotation];
      const diffID = config.rootfs?.diff_ids?.[i];
      if (src && settings && diffID)
        found.set(`${src}|${settings}`, { descriptor: layer, diffID, outcome: "reused" });
    });
  }
  ctx.logger.debug("layers from an earlier conversion", { count: found.size });
  return found;
}

function parseConfig(bytes: Uint8Array, image: string): ImageConfig {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString("utf8")) as unknown;
    if (typeof doc !== "object" || doc === null) throw new Error("not an object");
    return doc as ImageConfig;
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", "image config is not a JSON object", {
      cause: err,
      context: { image },
    });
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
