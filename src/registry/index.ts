/** The OCI distribution client: what every pull, lazy read and push goes through. */
export * from "./reference.ts";
export * from "./media-types.ts";
export type * from "./descriptor.ts";
export * from "./digest.ts";
export * from "./platform.ts";
export * from "./hosts-config.ts";
export * from "./keychain.ts";
export * from "./docker-config.ts";
export * from "./byte-ranges.ts";
export {
  RetryableError,
  defaultRetryPolicy,
  realSleep,
  type RetryPolicy,
  type Sleep,
} from "./retry.ts";
export { RegistryClient } from "./registry-client.ts";
export type {
  RegistryClientOptions,
  CallOptions,
  FetchedManifest,
  ResolvedImage,
  BlobReadAt,
  BlobRef,
  BlobSource,
  PushOutcome,
} from "./registry-client.ts";
