/** Lazy pulls into containerd (`stargz image rpull`). */
export * from "./pull-image.ts";
export * from "./chain-id.ts";
export * from "./labels.ts";
export type * from "./types.ts";
