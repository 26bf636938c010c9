/** Remote snapshots: the FileSystem that mounts eStargz layers named by Prepare labels. */
export { RemoteFileSystem, type RemoteFileSystemOptions } from "./remote-filesystem.ts";
export { LayerResolver, type LayerResolverOptions, type LayerResolving } from "./layer-resolver.ts";
export { ImageStates, type ImageStateFile, type LayerRecord } from "./image-state.ts";
export { createRemoteMetrics, noRemoteMetrics, type RemoteMetrics } from "./remote-metrics.ts";
export {
  RemoteMountError,
  classifyFailure,
  fallbackReasons,
  type FallbackReason,
} from "./fallback-reason.ts";
export { parseRemoteLabels, remoteLabels, type RemoteLayerSpec } from "./remote-labels.ts";
