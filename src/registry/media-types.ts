/** Media types of the OCI image spec and the Docker v2 schema 2 formats they replaced. */
export const mediaTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

export const indexMediaTypes: ReadonlySet<string> = new Set([
  mediaTypes.ociIndex,
  mediaTypes.dockerManifestList,
]);

export const imageManifestMediaTypes: ReadonlySet<string> = new Set([
  mediaTypes.ociManifest,
  mediaTypes.dockerManifest,
]);

/** The Accept header for manifest requests: every manifest kind we can read. */
export const manifestAccept = [
  mediaTypes.ociIndex,
  mediaTypes.ociManifest,
  mediaTypes.dockerManifestList,
  mediaTypes.dockerManifest,
].join(", ");

export type LayerCompression = "gzip" | "zstd" | "none";

/** How a layer blob is compressed, from its media type; undefined when it is not a tar layer. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case mediaTypes.ociLayerGzip:
    case mediaTypes.ociLayerNondistGzip:
    case mediaTypes.dockerLayerGzip:
    case mediaTypes.dockerForeignLayerGzip:
      return "gzip";
    case mediaTypes.ociLayerZstd:
      return "zstd";
    case mediaTypes.ociLayer:
      return "none";
    default:
      return undefined;
  }
}
