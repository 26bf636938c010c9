/**
 * The labels a pull puts on content and snapshots, with containerd's and the
 * Go stargz-snapshotter's names and rules. Pure functions: what is computed
 * here is exactly what goes on the wire.
 */
import type { Descriptor, ImageReference } from "../registry/index.ts";
import { imageManifestMediaTypes, indexMediaTypes } from "../registry/index.ts";

export const labelNames = {
  snapshotRef: "containerd.io/snapshot.ref",
  gcRefContent: "containerd.io/gc.ref.content.",
  gcRefConfig: "containerd.io/gc.ref.content.config",
  gcRefManifest: "containerd.io/gc.ref.content.m.",
  gcRefLayer: "containerd.io/gc.ref.content.l.",
  gcRefSnapshot: "containerd.io/gc.ref.snapshot.",
  uncompressed: "containerd.io/uncompressed",
  distributionSource: "containerd.io/distribution.source.",
  remoteReference: "containerd.io/snapshot/remote/stargz.reference",
  remoteDigest: "containerd.io/snapshot/remote/stargz.digest",
  remoteLayers: "containerd.io/snapshot/remote/stargz.layers",
  remoteUrls: "containerd.io/snapshot/remote/urls",
  remoteUrlsPrefix: "containerd.io/snapshot/remote/urls.",
  remotePrefetch: "containerd.io/snapshot/remote/stargz.prefetch",
  inheritedPrefix: "containerd.io/snapshot/",
} as const;

/** containerd's limit on one label: key plus value at most 4096 bytes. */
export const maxLabelBytes = 4096;

/** The size the Go `ctr-remote rpull` asks the snapshotter to prefetch when no landmark says otherwise. */
export const defaultPrefetchSizeBytes = 10 * 1024 * 1024;

function fits(key: string, value: string): boolean {
  return Buffer.byteLength(key) + Buffer.byteLength(value) <= maxLabelBytes;
}

/** Annotations containerd passes on as snapshot labels: containerd.io/snapshot/* and containerd.io/snapshot.ref. */
export function inheritedLabels(
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (k === labelNames.snapshotRef || k.startsWith(labelNames.inheritedPrefix)) out[k] = v;
  }
  return out;
}

/**
 * The labels the Go snapshotter's AppendDefaultLabelsHandlerWrapper adds to
 * layer i: the image reference, the layer digest, the digests of this and
 * the following layers (comma-joined, cut where the label would exceed 4096
 * bytes), their URLs by position, the prefetch size and this layer's URLs.
 */
export function remoteSnapshotLabels(
  imageRef: string,
  layers: readonly Descriptor[],
  i: number,
  prefetchSizeBytes: number = defaultPrefetchSizeBytes,
): Record<string, string> {
  const layer = layers[i];
  if (!layer) throw new RangeError(`no layer ${i}`);
  const out: Record<string, string> = {
    [labelNames.remoteReference]: imageRef,
    [labelNames.remoteDigest]: layer.digest,
  };
  let joined = "";
  for (const [j, next] of layers.slice(i).entries()) {
    const item = `${next.digest},`;
    if (!fits(labelNames.remoteLayers, joined + item)) break;
    joined += item;
    const urlsKey = `${labelNames.remoteUrlsPrefix}${j}`;
    out[urlsKey] = joinBounded(urlsKey, next.urls ?? []);
  }
  out[labelNames.remoteLayers] = joined.replace(/,$/, "");
  out[labelNames.remotePrefetch] = String(prefetchSizeBytes);
  out[labelNames.remoteUrls] = joinBounded(labelNames.remoteUrls, layer.urls ?? []);
  return out;
}

function joinBounded(key: string, values: readonly string[]): string {
  let joined = "";
  for (const v of values) {
    if (!fits(key, `${joined}${v},`)) break;
    joined += `${v},`;
  }
  return joined.replace(/,$/, "");
}

/**
 * Every label Prepare and Commit get for layer i: the layer's inherited
 * annotations (containerd.io/snapshot/stargz/toc.digest among them), the
 * remote-snapshot labels, and containerd.io/snapshot.ref = the chainID.
 */
export function layerSnapshotLabels(job: {
  imageRef: string;
  layers: readonly Descriptor[];
  index: number;
  chainId: string;
  prefetchSizeBytes?: number | undefined;
}): Record<string, string> {
  const layer = job.layers[job.index];
  if (!layer) throw new RangeError(`no layer ${job.index}`);
  const remote = remoteSnapshotLabels(job.imageRef, job.layers, job.index, job.prefetchSizeBytes);
  return {
    ...inheritedLabels({ ...layer.annotations, ...remote }),
    [labelNames.snapshotRef]: job.chainId,
  };
}

/**
 * The GC references containerd's pull puts on a parent blob for its
 * children: "config" for a config, "m.<n>" for manifests, "l.<n>" for layers,
 * "<n>" for anything else, numbered per prefix in order.
 */
export function childGcLabels(children: readonly Descriptor[]): Record<string, string> {
  const out: Record<string, string> = {};
  const counts = new Map<string, number>();
  for (const child of children) {
    const base = gcPrefix(child.mediaType);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    const key = n > 0 || base.endsWith(".") ? `${base}${n}` : base;
    out[key] = child.digest;
  }
  return out;
}

function gcPrefix(mediaType: string): string {
  if (isConfigMediaType(mediaType)) return labelNames.gcRefConfig;
  if (imageManifestMediaTypes.has(mediaType)) return labelNames.gcRefManifest;
  if (isLayerMediaType(mediaType)) return labelNames.gcRefLayer;
  return labelNames.gcRefContent;
}

/** containerd's IsLayerType: OCI layer types of any kind, Docker rootfs diffs. */
export function isLayerMediaType(mediaType: string): boolean {
  if (mediaType.startsWith("application/vnd.oci.image.layer.")) return true;
  const base = mediaType.split("+")[0];
  return (
    base === "application/vnd.docker.image.rootfs.diff.tar" ||
    base === "application/vnd.docker.image.rootfs.diff.tar.gzip" ||
    base === "application/vnd.docker.image.rootfs.foreign.diff.tar" ||
    base === "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
  );
}

function isConfigMediaType(mediaType: string): boolean {
  return (
    mediaType === "application/vnd.oci.image.config.v1+json" ||
    mediaType === "application/vnd.docker.container.image.v1+json" ||
    mediaType === "application/vnd.containerd.container.criu.checkpoint.criu.tar" ||
    mediaType === "application/vnd.containerd.container.checkpoint.config.v1+proto"
  );
}

export function isIndexMediaType(mediaType: string): boolean {
  return indexMediaTypes.has(mediaType);
}

/**
 * containerd's distribution source label: key "containerd.io/distribution.source.<host>"
 * (the registry host without its port, as containerd 1.6 writes it), value the
 * repositories the blob came from, comma-joined. Undefined when it would not fit.
 */
export function distributionSourceLabel(
  ref: ImageReference,
  existing: string | undefined,
): [string, string] | undefined {
  const host = ref.registry.startsWith("[")
    ? ref.registry.replace(/^\[([^\]]*)\].*$/, "$1")
    : ref.registry.replace(/:\d+$/, "");
  const key = `${labelNames.distributionSource}${host}`;
  const repos = new Set(existing ? existing.split(",").filter((r) => r !== "") : []);
  repos.add(ref.repository);
  const value = [...repos].sort().join(",");
  return fits(key, value) ? [key, value] : undefined;
}
