/**
 * A LayerBlobSource over the registry client: every readRanges call is one
 * multi-range request where the registry supports it (neighbours merged by
 * the client too), with the client's retries, mirrors and auth. Range data
 * cannot be checked against the blob digest; the layer filesystem verifies
 * every chunk against the TOC.
 */
import type { BlobRef, ImageReference, RegistryClient } from "../../registry/index.ts";
import type { LayerBlobSource } from "./types.ts";

export function registryBlobSource(
  client: RegistryClient,
  ref: ImageReference,
  blob: BlobRef,
): LayerBlobSource {
  return {
    size: blob.size,
    readRanges: async (ranges, signal) => {
      const parts = await client.readRanges(ref, blob, ranges, { signal });
      return parts.map((p) =>
        Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength),
      );
    },
  };
}
