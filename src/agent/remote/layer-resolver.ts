/**
 * Turns (image reference, layer digest) into an opened layer: the blob's size
 * from a HEAD through the hosts config (mirrors first), then footer and TOC by
 * range. Results are kept for a short while (Go: resolve_result_entry_ttl_sec,
 * 120 s) so that a layer pre-resolved as a neighbour mounts without a second
 * round trip; concurrent resolutions of one layer share one request.
 *
 * TOC verification is the caller's: a neighbour is opened before anyone knows
 * its expected TOC digest, so the reader's computed `tocDigest` is compared at
 * mount time.
 */
import { openLayer } from "../../estargz/index.ts";
import { parseReference, type ImageReference, type RegistryClient } from "../../registry/index.ts";
import { registryBlobSource } from "../fs/registry-source.ts";
import { withSignal } from "../fs/layer-content.ts";
import type { Layer } from "../fs/types.ts";

export interface LayerResolverOptions {
  client: RegistryClient;
  /** Bound on one resolution (HEAD, footer, TOC). Go uses 30 s. */
  resolveTimeoutMs?: number;
  /** How long a resolved layer is kept for reuse. Default 120 s. */
  ttlMs?: number;
  /** Serve layers whose chunks carry no digest (only with disable_verification). */
  allowUnverified?: boolean;
  now?: () => number;
}

/** What RemoteFileSystem needs from a resolver (a fake in unit tests). */
export interface LayerResolving {
  resolve(image: string, digest: string, signal: AbortSignal): Promise<Layer>;
  forget(image: string, digest: string): void;
  probe(image: string, digest: string, signal: AbortSignal): Promise<void>;
}

interface Entry {
  layer: Promise<Layer>;
  at: number;
}

export class LayerResolver implements LayerResolving {
  readonly #o: LayerResolverOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(options: LayerResolverOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The opened layer; a failed resolution is not kept. */
  resolve(image: string, digest: string, signal: AbortSignal): Promise<Layer> {
    this.#expire();
    const key = `${image}@${digest}`;
    let entry = this.#entries.get(key);
    if (!entry) {
      const layer = this.#open(image, digest);
      entry = { layer, at: this.#now() };
      this.#entries.set(key, entry);
      // Without later calls nothing would expire it; the timer must not keep the process alive.
      const created = entry;
      setTimeout(() => {
        if (this.#entries.get(key) === created) this.#entries.delete(key);
      }, this.#o.ttlMs ?? 120_000).unref();
      layer.catch(() => {
        if (this.#entries.get(key)?.layer === layer) this.#entries.delete(key);
      });
    }
    return withSignal(entry.layer, signal);
  }

  /** Forgets a cached resolution, so the next resolve asks the registry again. */
  forget(image: string, digest: string): void {
    this.#entries.delete(`${image}@${digest}`);
  }

  /** A cheap availability probe: HEAD of the blob through the configured endpoints. */
  async probe(image: string, digest: string, signal: AbortSignal): Promise<void> {
    const ref = parseReference(image);
    await this.#o.client.blobSize(ref, digest, { signal: this.#bounded(signal) });
  }

  async #open(image: string, digest: string): Promise<Layer> {
    const signal = this.#bounded(new AbortController().signal);
    const ref: ImageReference = parseReference(image);
    const size = await this.#o.client.blobSize(ref, digest, { signal });
    const blob = { digest, size };
    const reader = await openLayer(this.#o.client.blobReadAt(ref, blob, { signal }), {
      layerName: digest,
      allowUnverified: this.#o.allowUnverified === true,
      signal,
    });
    return { digest, reader, source: registryBlobSource(this.#o.client, ref, blob) };
  }

  #bounded(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.#o.resolveTimeoutMs ?? 30_000)]);
  }

  #expire(): void {
    const limit = this.#now() - (this.#o.ttlMs ?? 120_000);
    for (const [key, entry] of this.#entries) if (entry.at < limit) this.#entries.delete(key);
  }
}
