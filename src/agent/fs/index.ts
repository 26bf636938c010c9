/** The layer filesystem: one eStargz layer served lazily through FUSE. */
export type { ByteRange, Layer, LayerBlobSource, LayerMounter, LayerStateJson } from "./types.ts";
export { FuseLayerMounter, hasPrefetch, type FuseLayerMounterOptions } from "./fuse-mounter.ts";
export { ChunkCache, chunkKey, type ChunkCacheOptions } from "./chunk-cache.ts";
export { createLayerFsMetrics, type LayerFsMetrics } from "./metrics.ts";
export { openFileBlobSource, type FileBlobSource } from "./file-source.ts";
export { LayerView, STATE_DIR_NAME } from "./layer-view.ts";
export { prefetchSpan } from "./prefetch.ts";
export { registryBlobSource } from "./registry-source.ts";
