/**
 * `rpull`: puts an image into containerd so that layers an eStargz-aware
 * snapshotter can mount remotely are never downloaded. The steps and labels
 * are containerd 1.6's Pull with the unpacker, plus the remote-snapshot
 * labels of the Go snapshotter's rpull:
 *
 * 1. resolve the reference (index -> manifest for the platform);
 * 2. under a fresh lease (deleted at the end), write index, manifest and
 *    config into the content store with their GC reference labels;
 * 3. for each layer: skip if its chainID exists; else Prepare with the
 *    remote labels. ALREADY_EXISTS means the snapshotter mounted it remotely.
 *    Otherwise download the blob, apply it onto the mounts with the diff
 *    service and commit under the chainID (removing the active snapshot on
 *    failure);
 * 4. label the config with the top chainID (the snapshot GC root) and create
 *    or update the image record.
 */
import { randomBytes } from "node:crypto";
import {
  formatReference,
  mediaTypes,
  type Descriptor,
  type ImageReference,
  type Platform,
} from "../registry/index.ts";
import { StargzError, errorMessage, isErrorCode, type ErrorContext } from "../util/errors.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import type { WireDescriptor, WireMount } from "../containerd/index.ts";
import { chainIds } from "./chain-id.ts";
import {
  childGcLabels,
  distributionSourceLabel,
  labelNames,
  layerSnapshotLabels,
} from "./labels.ts";
import type {
  LayerOutcome,
  PullContainerd,
  PullRegistry,
  PullResult,
  PullSession,
} from "./types.ts";

export interface PullImageOptions {
  registry: PullRegistry;
  containerd: PullContainerd;
  ref: ImageReference;
  /** containerd snapshotter name (default "stargz"). */
  snapshotter?: string;
  platform?: Platform;
  /** Sent as containerd.io/snapshot/remote/stargz.prefetch (default 10 MiB, as ctr-remote). */
  prefetchSizeBytes?: number;
  logger?: Logger;
  signal?: AbortSignal;
  /** Called as each layer is done, in order. */
  onLayer?: (layer: LayerOutcome, total: number) => void;
  /** The unique part of active snapshot keys (tests make it deterministic). */
  uniquePart?: () => string;
}

export const tocDigestAnnotation = "containerd.io/snapshot/stargz/toc.digest";
const leaseLifetimeMs = 24 * 60 * 60 * 1000;
const prepareAttempts = 3;

interface PullContext {
  readonly o: PullImageOptions;
  readonly session: PullSession;
  readonly imageRef: string;
  readonly snapshotter: string;
  readonly logger: Logger;
  readonly signal: AbortSignal | undefined;
}

export async function pullImage(o: PullImageOptions): Promise<PullResult> {
  const imageRef = formatReference(o.ref);
  // The lease comes first, as in containerd's Pull: an unreachable socket fails before any download.
  const lease = await o.containerd.leases.create({
    expireAfterMs: leaseLifetimeMs,
    signal: o.signal,
  });
  const logger = (o.logger ?? silentLogger()).child({ image: imageRef });
  try {
    const resolved = await o.registry
      .resolve(o.ref, { ...optional("platform", o.platform), signal: o.signal })
      .catch((err: unknown) => {
        throw layerError(err, `cannot resolve ${imageRef}`, { image: imageRef });
      });
    const ctx: PullContext = {
      o,
      session: o.containerd.withLease(lease.id),
      imageRef,
      snapshotter: o.snapshotter ?? "stargz",
      logger,
      signal: o.signal,
    };
    return await pullResolved(ctx, resolved);
  } finally {
    // Cleanup runs even when the pull was cancelled, so it takes no signal.
    await o.containerd.leases.delete(lease.id).catch((err: unknown) => {
      logger.warn("cannot delete lease", { lease: lease.id, error: errorMessage(err) });
    });
  }
}

type Resolved = Awaited<ReturnType<PullRegistry["resolve"]>>;

async function pullResolved(ctx: PullContext, resolved: Resolved): Promise<PullResult> {
  const manifest = resolved.manifest.manifest;
  const configBytes = await fetchConfig(ctx, manifest.config);
  const diffIds = parseDiffIds(configBytes, ctx.imageRef, manifest.config.digest);
  if (diffIds.length !== manifest.layers.length) {
    throw new StargzError(
      "FAILED_PRECONDITION",
      `image has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
      { context: { image: ctx.imageRef, config: manifest.config.digest } },
    );
  }
  await writeMetadata(ctx, resolved, configBytes);
  const chain = chainIds(diffIds);
  const layers = await unpackLayers(ctx, manifest.layers, chain, diffIds);
  const chainId = chain.at(-1) ?? "";
  if (chainId !== "") {
    const gcRoot = { [`${labelNames.gcRefSnapshot}${ctx.snapshotter}`]: chainId };
    await ctx.session.content.setLabels(manifest.config.digest, gcRoot, { signal: ctx.signal });
  }
  const target = resolved.index?.descriptor ?? resolved.manifest.descriptor;
  const record = { name: ctx.imageRef, target: wireDescriptor(target) };
  await ctx.session.images.put(record, { signal: ctx.signal });
  const metadataBytes =
    (resolved.index?.bytes.length ?? 0) + resolved.manifest.bytes.length + configBytes.length;
  return {
    name: ctx.imageRef,
    target,
    manifest: resolved.manifest.descriptor,
    config: manifest.config,
    chainId,
    snapshotter: ctx.snapshotter,
    layers,
    bytesDownloaded: metadataBytes + layers.reduce((n, l) => n + l.bytesDownloaded, 0),
  };
}

async function fetchConfig(ctx: PullContext, config: Descriptor): Promise<Uint8Array> {
  try {
    return await ctx.o.registry.fetchBlob(ctx.o.ref, config, { signal: ctx.signal });
  } catch (err) {
    const context = { image: ctx.imageRef, config: config.digest };
    throw layerError(err, `cannot fetch the config of ${ctx.imageRef}`, context);
  }
}

/** Config, manifest, index: children first, each with the GC labels for its children. */
async function writeMetadata(
  ctx: PullContext,
  resolved: Resolved,
  configBytes: Uint8Array,
): Promise<void> {
  const { manifest, descriptor, bytes } = resolved.manifest;
  await putBlob(ctx, manifest.config, configBytes, {});
  await putBlob(ctx, descriptor, bytes, childGcLabels([manifest.config, ...manifest.layers]));
  const index = resolved.index;
  if (index?.index) {
    await putBlob(ctx, index.descriptor, index.bytes, childGcLabels(index.index.manifests));
  }
}

async function unpackLayers(
  ctx: PullContext,
  layers: readonly Descriptor[],
  chain: readonly string[],
  diffIds: readonly string[],
): Promise<LayerOutcome[]> {
  const outcomes: LayerOutcome[] = [];
  for (let i = 0; i < layers.length; i++) {
    const outcome = await unpackLayer(ctx, {
      layers,
      index: i,
      layer: layers[i] as Descriptor,
      chainId: chain[i] as string,
      parent: i === 0 ? "" : (chain[i - 1] as string),
      diffId: diffIds[i] as string,
    });
    outcomes.push(outcome);
    ctx.o.onLayer?.(outcome, layers.length);
  }
  return outcomes;
}

function parseDiffIds(bytes: Uint8Array, image: string, config: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", "image config is not JSON", {
      cause: err,
      context: { image, config },
    });
  }
  const ids = (doc as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs?.diff_ids;
  if (
    !Array.isArray(ids) ||
    !ids.every((d) => typeof d === "string" && /^sha256:[a-f0-9]{64}$/.test(d))
  ) {
    throw new StargzError("INVALID_ARGUMENT", "image config has no valid rootfs.diff_ids", {
      context: { image, config },
    });
  }
  return ids as string[];
}

/** Writes a small blob with labels; when it is already stored, sets the labels on it instead. */
async function putBlob(
  ctx: PullContext,
  desc: Descriptor,
  bytes: Uint8Array,
  labels: Record<string, string>,
): Promise<void> {
  const { content } = ctx.session;
  const source = distributionSourceLabel(ctx.o.ref, undefined);
  const written = await content.write(desc, bytes, {
    ref: refKey(desc),
    labels: { ...labels, ...(source ? { [source[0]]: source[1] } : {}) },
    signal: ctx.signal,
    context: { image: ctx.imageRef },
  });
  if (!written.existed) return;
  const info = await content.info(desc.digest, { signal: ctx.signal });
  const merged = { ...labels };
  const dist = distributionSourceLabel(ctx.o.ref, source ? info.labels[source[0]] : undefined);
  if (dist) merged[dist[0]] = dist[1];
  const changed = Object.fromEntries(
    Object.entries(merged).filter(([k, v]) => info.labels[k] !== v),
  );
  if (Object.keys(changed).length > 0)
    await content.setLabels(desc.digest, changed, { signal: ctx.signal });
}

/** One layer to unpack: its place in the image and the snapshot names around it. */
interface LayerJob {
  readonly layers: readonly Descriptor[];
  readonly index: number;
  readonly layer: Descriptor;
  readonly chainId: string;
  /** The previous layer's chainID, "" for the first. */
  readonly parent: string;
  readonly diffId: string;
}

async function unpackLayer(ctx: PullContext, job: LayerJob): Promise<LayerOutcome> {
  const { layer, chainId } = job;
  const base = { index: job.index, digest: layer.digest, chainId };
  const context: ErrorContext = {
    image: ctx.imageRef,
    layer: layer.digest,
    snapshotter: ctx.snapshotter,
  };
  const sn = ctx.session.snapshots(ctx.snapshotter);
  try {
    if (await exists(sn, chainId, ctx.signal))
      return { ...base, mode: "present", bytesDownloaded: 0 };
    const labels = layerSnapshotLabels({
      imageRef: ctx.imageRef,
      layers: job.layers,
      index: job.index,
      chainId,
      prefetchSizeBytes: ctx.o.prefetchSizeBytes,
    });
    const prepared = await prepare(ctx, job, labels);
    if (prepared === "remote") return { ...base, mode: "remote", bytesDownloaded: 0 };
    const bytes = await applyLayer(ctx, job, prepared, labels);
    return {
      ...base,
      mode: "fallback",
      reason: fallbackReason(ctx, layer),
      bytesDownloaded: bytes,
    };
  } catch (err) {
    const what = `cannot unpack layer ${job.index + 1}/${job.layers.length} ${layer.digest}`;
    throw layerError(err, what, context);
  }
}

type Snapshots = ReturnType<PullSession["snapshots"]>;
interface Prepared {
  key: string;
  mounts: WireMount[];
}

async function exists(
  sn: Snapshots,
  key: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  try {
    await sn.stat(key, { signal });
    return true;
  } catch (err) {
    if (isErrorCode(err, "NOT_FOUND")) return false;
    throw err;
  }
}

/** Prepare as containerd's unpacker does it: a new unique key per attempt; ALREADY_EXISTS plus a chainID that now exists means remote. */
async function prepare(
  ctx: PullContext,
  job: LayerJob,
  labels: Record<string, string>,
): Promise<Prepared | "remote"> {
  const { chainId, parent } = job;
  const sn = ctx.session.snapshots(ctx.snapshotter);
  const unique = ctx.o.uniquePart ?? uniquePart;
  for (let attempt = 1; ; attempt++) {
    const key = `extract-${unique()} ${chainId}`;
    try {
      const mounts = await sn.prepare(key, parent, labels, { signal: ctx.signal });
      return { key, mounts };
    } catch (err) {
      if (!isErrorCode(err, "ALREADY_EXISTS")) throw err;
      if (await exists(sn, chainId, ctx.signal)) return "remote";
      if (attempt >= prepareAttempts) throw err;
      ctx.logger.debug("extraction snapshot already exists, chain id not found", { key, chainId });
    }
  }
}

/** The fallback: download, apply, commit. The active snapshot is removed if any step fails. */
async function applyLayer(
  ctx: PullContext,
  job: LayerJob,
  prepared: Prepared,
  labels: Record<string, string>,
): Promise<number> {
  const { layer, diffId } = job;
  const sn = ctx.session.snapshots(ctx.snapshotter);
  try {
    const bytes = await fetchLayer(ctx, layer);
    const applied = await ctx.session.diff.apply(wireDescriptor(layer), prepared.mounts, {
      signal: ctx.signal,
    });
    if (applied.digest !== diffId) {
      throw new StargzError(
        "DATA_LOSS",
        `unpacked layer has diffID ${applied.digest}, config says ${diffId}`,
      );
    }
    try {
      await sn.commit(job.chainId, prepared.key, labels, { signal: ctx.signal });
    } catch (err) {
      if (!isErrorCode(err, "ALREADY_EXISTS")) throw err;
      await removeQuietly(ctx, prepared.key);
      return bytes;
    }
    await ctx.session.content.setLabels(
      layer.digest,
      { [labelNames.uncompressed]: diffId },
      { signal: ctx.signal },
    );
    return bytes;
  } catch (err) {
    await removeQuietly(ctx, prepared.key);
    throw err;
  }
}

async function fetchLayer(ctx: PullContext, layer: Descriptor): Promise<number> {
  let bytes = 0;
  const registry = ctx.o.registry;
  const ref = ctx.o.ref;
  const signal = ctx.signal;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of registry.blobStream(ref, layer, { signal })) {
      bytes += chunk.length;
      yield chunk;
    }
  }
  const source = distributionSourceLabel(ref, undefined);
  await ctx.session.content.write(layer, counted(), {
    ref: refKey(layer),
    labels: source ? { [source[0]]: source[1] } : {},
    signal,
    context: { image: ctx.imageRef, layer: layer.digest },
  });
  return bytes;
}

async function removeQuietly(ctx: PullContext, key: string): Promise<void> {
  try {
    await ctx.session.snapshots(ctx.snapshotter).remove(key);
  } catch (err) {
    ctx.logger.warn("cannot remove extraction snapshot", { key, error: errorMessage(err) });
  }
}

function fallbackReason(ctx: PullContext, layer: Descriptor): string {
  if (layer.annotations?.[tocDigestAnnotation] === undefined) {
    return `not eStargz (no ${tocDigestAnnotation} annotation)`;
  }
  return `snapshotter "${ctx.snapshotter}" did not mount it remotely`;
}

/** Wraps err with what was being done and the image/layer, keeping its code. */
function layerError(err: unknown, what: string, context: ErrorContext): StargzError {
  const code = err instanceof StargzError ? err.code : "INTERNAL";
  return new StargzError(code, `${what}: ${errorMessage(err)}`, { cause: err, context });
}

/** containerd's ingest names: "<kind>-<digest>". */
function refKey(desc: Descriptor): string {
  const mt = desc.mediaType;
  if (mt === mediaTypes.ociManifest || mt === mediaTypes.dockerManifest)
    return `manifest-${desc.digest}`;
  if (mt === mediaTypes.ociIndex || mt === mediaTypes.dockerManifestList)
    return `index-${desc.digest}`;
  if (mt === mediaTypes.ociConfig || mt === mediaTypes.dockerConfig) return `config-${desc.digest}`;
  if (mt.startsWith("application/vnd.oci.image.layer.") || mt.includes("rootfs"))
    return `layer-${desc.digest}`;
  return `unknown-${desc.digest}`;
}

function wireDescriptor(d: Descriptor): WireDescriptor {
  return {
    media_type: d.mediaType,
    digest: d.digest,
    size: d.size,
    annotations: d.annotations ?? {},
  };
}

/** containerd's unique part of extraction keys: "<nanoseconds>-<base64url of 3 random bytes>". */
function uniquePart(): string {
  const nanos = Number(process.hrtime.bigint() % 1_000_000_000n);
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
