/**
 * What a Prepare's labels say about a layer to mount remotely. Two label
 * sets carry the same facts: the ones `rpull` tools set
 * (`containerd.io/snapshot/remote/stargz.*`, as the Go snapshotter's
 * source.FromDefaultLabels reads them) and the ones containerd's CRI plugin
 * sets (`containerd.io/snapshot/cri.*`). The TOC digest comes from the
 * layer descriptor's annotation, which containerd passes as a label.
 */
import type { Labels } from "../snapshot/types.ts";
import { RemoteMountError } from "./fallback-reason.ts";

export const remoteLabels = {
  reference: "containerd.io/snapshot/remote/stargz.reference",
  digest: "containerd.io/snapshot/remote/stargz.digest",
  layers: "containerd.io/snapshot/remote/stargz.layers",
  criReference: "containerd.io/snapshot/cri.image-ref",
  criDigest: "containerd.io/snapshot/cri.layer-digest",
  criLayers: "containerd.io/snapshot/cri.image-layers",
  tocDigest: "containerd.io/snapshot/stargz/toc.digest",
} as const;

export interface RemoteLayerSpec {
  /** Image reference, as the labels give it. */
  readonly image: string;
  /** The layer blob's digest. */
  readonly digest: string;
  /** Every layer digest of the image, in manifest order (may be empty). */
  readonly layers: readonly string[];
  /** The TOC digest the manifest promises, when the labels carry it. */
  readonly tocDigest: string | undefined;
}

/** Reads the layer's source from labels; rejects (reason no_source_labels) when they do not name one. */
export function parseRemoteLabels(labels: Labels): RemoteLayerSpec {
  const image = labels[remoteLabels.reference] ?? labels[remoteLabels.criReference];
  const digest = labels[remoteLabels.digest] ?? labels[remoteLabels.criDigest];
  if (!image || !digest) {
    throw new RemoteMountError(
      "no_source_labels",
      "labels name no image reference and layer digest",
    );
  }
  const list = labels[remoteLabels.layers] ?? labels[remoteLabels.criLayers] ?? "";
  return {
    image,
    digest,
    layers: list.split(",").filter((d) => d !== ""),
    tocDigest: labels[remoteLabels.tocDigest] || undefined,
  };
}

/** Layers of the image other than `spec.digest`, nearest to it first (Go: neighboringLayers). */
export function neighbourLayers(spec: RemoteLayerSpec): string[] {
  const at = spec.layers.indexOf(spec.digest);
  const others = spec.layers.filter((d) => d !== spec.digest);
  if (at < 0) return others;
  return others
    .map((d, i) => ({ d, distance: Math.abs((i >= at ? i + 1 : i) - at) }))
    .sort((a, b) => a.distance - b.distance)
    .map((x) => x.d);
}
