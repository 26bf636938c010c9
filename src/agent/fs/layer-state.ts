/**
 * Per-layer bookkeeping the state file shows: how much of the blob is local,
 * prefetch and background fetch progress, and the last error (the real cause
 * behind an EIO), which is also logged.
 */
import { errorMessage } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { SpanSet, type Span } from "./ranges.ts";
import type { LayerStateJson } from "./types.ts";

export class LayerState {
  readonly digest: string;
  readonly size: number;
  readonly #fetched = new SpanSet();
  readonly #logger: Logger;
  #error: string | undefined;
  prefetch: LayerStateJson["prefetch"] = "none";
  backgroundFetch: LayerStateJson["backgroundFetch"] = "disabled";

  constructor(digest: string, size: number, logger: Logger) {
    this.digest = digest;
    this.size = size;
    this.#logger = logger;
  }

  get error(): string | undefined {
    return this.#error;
  }

  /** Records compressed bytes now held locally (fetched, or found in the cache). */
  markFetched(span: Span): void {
    this.#fetched.add(span);
  }

  isFetched(span: Span): boolean {
    return this.#fetched.covers(span);
  }

  missing(span: Span): Span[] {
    return this.#fetched.missing(span);
  }

  /** Records the cause of a failure; the FUSE side answers EIO. */
  report(err: unknown, where: Record<string, unknown> = {}): void {
    this.#error = errorMessage(err);
    this.#logger.error("layer error", { ...where, error: err });
  }

  json(): LayerStateJson {
    const fetchedSize = Math.min(this.#fetched.total, this.size);
    return {
      ...(this.#error !== undefined ? { error: this.#error } : {}),
      digest: this.digest,
      size: this.size,
      fetchedSize,
      fetchedPercent: this.size === 0 ? 100 : (fetchedSize / this.size) * 100,
      prefetch: this.prefetch,
      backgroundFetch: this.backgroundFetch,
    };
  }

  /** The state file's bytes. */
  render(): Buffer {
    return Buffer.from(JSON.stringify(this.json()) + "\n");
  }
}
