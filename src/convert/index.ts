export {
  convertImage,
  type ConvertImageOptions,
  type ConvertImageResult,
} from "./convert-image.ts";
export type { LayerBuildSettings, ConvertedLayer } from "./convert-layer.ts";
export { logProgress, terminalProgress, silentProgress, type ConvertProgress } from "./progress.ts";
