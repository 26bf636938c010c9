/** The eStargz format: pure, over caller-supplied byte sources and sinks. */
export * from "./types.ts";
export { EStargzError, type FormatProblem } from "./errors.ts";
export {
  encodeFooter,
  decodeFooter,
  FOOTER_SIZE,
  LEGACY_FOOTER_SIZE,
  type Footer,
} from "./footer.ts";
export { buildLayer, type BuildOptions, type TarInput } from "./builder.ts";
export {
  openLayer,
  LayerReader,
  readRange,
  DEFAULT_MAX_TOC_BYTES,
  type OpenOptions,
  type ReadOptions,
} from "./reader.ts";
export type { ChunkRef, FileNode, LayerIndex, ListedEntry, NodeType } from "./layer-index.ts";
export { decodeChunk, verifyChunk } from "./chunk-decoder.ts";
export { cleanEntryName } from "./entry-name.ts";
export { encodeToc, decodeToc } from "./toc-json.ts";
