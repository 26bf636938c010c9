/**
 * The OCI distribution client. All dependencies come in one options object;
 * nothing global. Pull-side calls try the configured mirrors in order, then
 * the origin; push-side calls go to the origin only. Every call is retried
 * within the retry policy and takes an AbortSignal.
 */
import type { Dispatcher } from "undici";
import { StargzError, type ErrorContext } from "../util/errors.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import { Authorizer, repositoryScope } from "./authorizer.ts";
import type { Descriptor, ImageIndex, ImageManifest, Platform } from "./descriptor.ts";
import { assertSupportedDigest, DigestVerifier, sha256Digest } from "./digest.ts";
import { emptyHostsConfig, endpointsFor, type Endpoint, type HostsConfig } from "./hosts-config.ts";
import {
  classifyError,
  discard,
  HttpTransport,
  readLimited,
  responseError,
  type ResponseData,
  type SendRequest,
} from "./http-transport.ts";
import { anonymousKeychain, type Keychain } from "./keychain.ts";
import {
  imageManifestMediaTypes,
  indexMediaTypes,
  manifestAccept,
  mediaTypes,
} from "./media-types.ts";
import { formatPlatform, hostPlatform, selectPlatform } from "./platform.ts";
import {
  formatReference,
  manifestReference,
  withDigest,
  type ImageReference,
} from "./reference.ts";
import {
  backoffDelay,
  defaultRetryPolicy,
  realSleep,
  RetryableError,
  withRetries,
  type RetryPolicy,
  type Sleep,
} from "./retry.ts";
import { RangeReader, type BlobRef } from "./range-reader.ts";
import { parseContentRange, type ByteRange } from "./byte-ranges.ts";
import { uploadBlob, type BlobSource, type PushOutcome } from "./blob-upload.ts";

export interface RegistryClientOptions {
  /** One dispatcher for every request (tests, proxies); by default one Pool per origin. */
  dispatcher?: Dispatcher;
  hosts?: HostsConfig;
  keychain?: Keychain;
  sleep?: Sleep;
  random?: () => number;
  now?: () => number;
  logger?: Logger;
  retry?: Partial<RetryPolicy>;
  /** Requested ranges closer than this are fetched as one span. Default 64 KiB. */
  rangeMergeGapBytes?: number;
  /** At most this many spans per multi-range request. Default 16. */
  maxRangesPerRequest?: number;
  connectionsPerHost?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
  readonly kind: "index" | "manifest";
  readonly index?: ImageIndex;
  readonly manifest?: ImageManifest;
}

export interface ResolvedImage {
  /** The index the image was selected from, if the reference named one. */
  readonly index?: FetchedManifest;
  readonly manifest: FetchedManifest & { manifest: ImageManifest };
}

/** A random-access view of a blob, the shape src/estargz reads. */
export interface BlobReadAt {
  readonly size: number;
  readAt(buf: Uint8Array, offset: number): Promise<number>;
}

const maxManifestBytes = 4 * 1024 * 1024;

/** One whole-blob read in progress against one endpoint. */
interface BlobRead {
  readonly ep: Endpoint;
  readonly ref: ImageReference;
  readonly blob: BlobRef;
  readonly verifier: DigestVerifier;
  readonly signal: AbortSignal | undefined;
  readonly context: ErrorContext;
}

export class RegistryClient {
  readonly #hosts: HostsConfig;
  readonly #logger: Logger;
  readonly #transport: HttpTransport;
  readonly #retry: Omit<Parameters<typeof withRetries>[1], "signal">;
  readonly #ranges: RangeReader;

  constructor(options: RegistryClientOptions = {}) {
    this.#hosts = options.hosts ?? emptyHostsConfig();
    this.#logger = options.logger ?? silentLogger();
    const now = options.now ?? Date.now;
    const authorizer = new Authorizer({
      keychain: options.keychain ?? anonymousKeychain,
      now,
      logger: this.#logger,
      fetchToken: (url, init) => this.#fetchToken(url, init),
    });
    this.#transport = new HttpTransport({
      authorizer,
      logger: this.#logger,
      connectionsPerHost: options.connectionsPerHost ?? 8,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    this.#retry = {
      policy: { ...defaultRetryPolicy, ...options.retry },
      sleep: options.sleep ?? realSleep,
      random: options.random ?? Math.random,
      now,
      onRetry: (err, attempt, delayMs) =>
        this.#logger.warn("retrying registry request", { error: err.message, attempt, delayMs }),
    };
    this.#ranges = new RangeReader({
      send: (ep, req) => this.#transport.send(ep, req),
      url: (ep, ref, path) => this.#url(ep, ref, path),
      mergeGapBytes: options.rangeMergeGapBytes ?? 64 * 1024,
      maxRangesPerRequest: options.maxRangesPerRequest ?? 16,
    });
  }

  /** Fetches a manifest or index by tag or digest and verifies its digest. */
  async getManifest(ref: ImageReference, options: CallOptions = {}): Promise<FetchedManifest> {
    const context = { image: formatReference(ref), registry: ref.registry };
    return this.#pull(ref, options, async (ep) => {
      const res = await this.#send(ep, {
        method: "GET",
        url: this.#url(ep, ref, `manifests/${manifestReference(ref)}`),
        headers: { accept: manifestAccept },
        scopes: [repositoryScope(ref.repository, "pull")],
        signal: options.signal,
        context,
      });
      if (res.statusCode !== 200) throw await responseError(res, "cannot fetch manifest", context);
      const bytes = await this.#read(res, maxManifestBytes, options.signal, context);
      return parseManifest(bytes, ref, res.headers, context);
    });
  }

  /** Whether a manifest exists under ref (HEAD), and its descriptor if so. */
  async headManifest(
    ref: ImageReference,
    options: CallOptions = {},
  ): Promise<Descriptor | undefined> {
    const context = { image: formatReference(ref), registry: ref.registry };
    return this.#push(ref, options, async (ep) => {
      const res = await this.#send(ep, {
        method: "HEAD",
        url: this.#url(ep, ref, `manifests/${manifestReference(ref)}`),
        headers: { accept: manifestAccept },
        scopes: [repositoryScope(ref.repository, "pull")],
        signal: options.signal,
        context,
      });
      await discard(res);
      if (res.statusCode === 404) return undefined;
      if (res.statusCode !== 200) throw await responseError(res, "cannot check manifest", context);
      const digest = header(res.headers, "docker-content-digest");
      const mediaType = (header(res.headers, "content-type") ?? "").split(";")[0]?.trim() ?? "";
      const size = Number(header(res.headers, "content-length") ?? "0");
      return digest ? { mediaType, digest, size } : undefined;
    });
  }

  /** Resolves ref to one image manifest, choosing from an index by platform (default: this host's). */
  async resolve(
    ref: ImageReference,
    options: CallOptions & { platform?: Platform } = {},
  ): Promise<ResolvedImage> {
    const top = await this.getManifest(ref, options);
    if (top.kind === "manifest") return { manifest: top as ResolvedImage["manifest"] };
    const want = options.platform ?? hostPlatform();
    const entry = selectPlatform(top.index?.manifests ?? [], want);
    if (!entry) {
      throw new StargzError("NOT_FOUND", `no manifest for platform ${formatPlatform(want)}`, {
        context: { image: formatReference(ref), registry: ref.registry },
      });
    }
    const child = await this.getManifest(withDigest(ref, entry.digest), options);
    if (child.kind !== "manifest") {
      throw new StargzError("FAILED_PRECONDITION", "nested index is not supported", {
        context: { image: formatReference(ref), digest: entry.digest },
      });
    }
    return { index: top, manifest: child as ResolvedImage["manifest"] };
  }

  /** A whole blob, verified against its digest and size. */
  async fetchBlob(
    ref: ImageReference,
    blob: BlobRef,
    options: CallOptions = {},
  ): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.blobStream(ref, blob, options)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  /**
   * A blob as a stream. A connection lost mid-body is resumed with a Range
   * request. The digest is checked at the end: the iterator throws DATA_LOSS
   * after the last chunk if it does not match, so treat the bytes as untrusted
   * until iteration completes.
   */
  async *blobStream(
    ref: ImageReference,
    blob: BlobRef,
    options: CallOptions = {},
  ): AsyncGenerator<Uint8Array> {
    assertSupportedDigest(blob.digest);
    const context = blobContext(ref, blob);
    const verifier = new DigestVerifier(blob.digest);
    const endpoints = endpointsFor(this.#hosts, ref.registry);
    let lastError: unknown;
    for (const [i, ep] of endpoints.entries()) {
      try {
        yield* this.#streamFrom({ ep, ref, blob, verifier, signal: options.signal, context });
        verifier.verify(context);
        if (verifier.bytes !== blob.size) throw sizeMismatch(verifier.bytes, blob.size, context);
        return;
      } catch (err) {
        lastError = err;
        // Never splice two servers' bytes: once data has arrived, this endpoint's error is final.
        const last = i === endpoints.length - 1 || verifier.bytes > 0;
        if (last || !this.#nextEndpoint(err, ep, options.signal)) throw err;
      }
    }
    throw lastError;
  }

  async *#streamFrom(r: BlobRead): AsyncGenerator<Uint8Array> {
    const started = this.#retry.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#openBlob(r, r.verifier.bytes);
        yield* this.#consume(r, res, res.statusCode === 200 ? r.verifier.bytes : 0);
        return;
      } catch (err) {
        const final = retryableFinal(err);
        if (!final) throw err;
        const delay = backoffDelay(this.#retry.policy, attempt, this.#retry.random);
        const elapsed = this.#retry.now() - started;
        const { maxAttempts, maxElapsedMs } = this.#retry.policy;
        if (attempt >= maxAttempts || elapsed + delay > maxElapsedMs) throw final;
        this.#logger.warn("resuming blob download", {
          ...r.context,
          offset: r.verifier.bytes,
          error: final.message,
        });
        await this.#retry.sleep(delay, r.signal);
      }
    }
  }

  /** Yields a blob response's bytes past `skip` (what a server ignoring Range resends). */
  async *#consume(r: BlobRead, res: ResponseData, skip: number): AsyncGenerator<Uint8Array> {
    const { blob, verifier, context } = r;
    try {
      for await (const raw of res.body as AsyncIterable<Buffer>) {
        let chunk: Uint8Array = raw;
        if (skip > 0) {
          const n = Math.min(skip, chunk.length);
          skip -= n;
          chunk = chunk.subarray(n);
          if (chunk.length === 0) continue;
        }
        if (verifier.bytes + chunk.length > blob.size) {
          throw sizeMismatch(verifier.bytes + chunk.length, blob.size, context);
        }
        verifier.update(chunk);
        yield chunk;
      }
    } catch (err) {
      throw classifyError(err, r.signal, context);
    } finally {
      // Also runs when the consumer stops early: never leave a body half read.
      if (!res.body.destroyed) res.body.destroy();
    }
    if (verifier.bytes < blob.size) throw sizeMismatch(verifier.bytes, blob.size, context, true);
  }

  async #openBlob(r: BlobRead, offset: number): Promise<ResponseData> {
    const { ep, ref, blob, context } = r;
    const res = await this.#transport.send(ep, {
      method: "GET",
      url: this.#url(ep, ref, `blobs/${blob.digest}`),
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: [repositoryScope(ref.repository, "pull")],
      signal: r.signal,
      context,
    });
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      throw await responseError(res, "cannot fetch blob", context);
    }
    const length = Number(header(res.headers, "content-length") ?? NaN);
    const expected = res.statusCode === 200 ? blob.size : blob.size - offset;
    const start =
      res.statusCode === 206 ? parseContentRange(header(res.headers, "content-range"))?.start : 0;
    if (
      (Number.isFinite(length) && length !== expected) ||
      start !== (res.statusCode === 206 ? offset : 0)
    ) {
      await discard(res);
      throw new StargzError(
        "DATA_LOSS",
        `registry answered with Content-Length ${length} from offset ${start}, expected ${expected} from ${offset}`,
        { context },
      );
    }
    return res;
  }

  /**
   * Several byte ranges of a blob at once: neighbours are merged, and the
   * spans go out in one multi-range request where the server supports it.
   * Range data cannot be checked against the blob digest; callers verify
   * chunk digests from the TOC.
   */
  async readRanges(
    ref: ImageReference,
    blob: BlobRef,
    ranges: readonly ByteRange[],
    options: CallOptions = {},
  ): Promise<Uint8Array[]> {
    assertSupportedDigest(blob.digest);
    const context = blobContext(ref, blob);
    for (const r of ranges) {
      if (r.offset < 0 || r.length < 0 || r.offset + r.length > blob.size) {
        throw new StargzError(
          "INVALID_ARGUMENT",
          `range ${r.offset}+${r.length} outside blob of ${blob.size} bytes`,
          { context },
        );
      }
    }
    return this.#pull(ref, options, (ep) =>
      this.#ranges.read({ ep, ref, blob, signal: options.signal, context }, ranges),
    );
  }

  /** A random-access view of a blob over range requests (for estargz.openLayer). */
  blobReadAt(ref: ImageReference, blob: BlobRef, options: CallOptions = {}): BlobReadAt {
    return {
      size: blob.size,
      readAt: async (buf, offset) => {
        const length = Math.max(0, Math.min(buf.length, blob.size - offset));
        if (length === 0) return 0;
        const [data] = await this.readRanges(ref, blob, [{ offset, length }], options);
        buf.set(data as Uint8Array);
        return length;
      },
    };
  }

  /**
   * A blob's size from a HEAD request, through mirrors like every read (the
   * agent learns layer sizes this way: remote-snapshot labels carry digests
   * only). NOT_FOUND when no endpoint has it.
   */
  async blobSize(ref: ImageReference, digest: string, options: CallOptions = {}): Promise<number> {
    assertSupportedDigest(digest);
    const context = { image: formatReference(ref), registry: ref.registry, blob: digest };
    return this.#pull(ref, options, async (ep) => {
      const res = await this.#send(ep, {
        method: "HEAD",
        url: this.#url(ep, ref, `blobs/${digest}`),
        scopes: [repositoryScope(ref.repository, "pull")],
        signal: options.signal,
        context,
      });
      await discard(res);
      if (res.statusCode !== 200) throw await responseError(res, "cannot stat blob", context);
      const size = Number(header(res.headers, "content-length"));
      if (!Number.isSafeInteger(size) || size < 0)
        throw new StargzError("UNAVAILABLE", "registry sent no blob size", { context });
      return size;
    });
  }

  /** Whether the repository has the blob (HEAD on the origin). */
  async blobExists(
    ref: ImageReference,
    digest: string,
    options: CallOptions = {},
  ): Promise<boolean> {
    const context = { image: formatReference(ref), registry: ref.registry, blob: digest };
    return this.#push(ref, options, async (ep) => {
      const res = await this.#send(ep, {
        method: "HEAD",
        url: this.#url(ep, ref, `blobs/${digest}`),
        scopes: [repositoryScope(ref.repository, "pull")],
        signal: options.signal,
        context,
      });
      await discard(res);
      if (res.statusCode === 200) return true;
      if (res.statusCode === 404) return false;
      throw await responseError(res, "cannot check blob", context);
    });
  }

  /**
   * Uploads a blob unless the repository has it: by cross-repository mount
   * when mountFrom names a repository on the same registry, else monolithic
   * (or chunked when chunkSize is set and smaller than the blob).
   */
  async pushBlob(
    ref: ImageReference,
    blob: BlobRef,
    source: BlobSource,
    options: CallOptions & { mountFrom?: string; chunkSize?: number } = {},
  ): Promise<PushOutcome> {
    assertSupportedDigest(blob.digest);
    if (await this.blobExists(ref, blob.digest, options)) return "exists";
    const context = { ...blobContext(ref, blob), operation: "push" };
    const scopes = [repositoryScope(ref.repository, "pull,push")];
    if (options.mountFrom && options.mountFrom !== ref.repository) {
      scopes.push(repositoryScope(options.mountFrom, "pull"));
    }
    return this.#push(ref, options, (ep) =>
      uploadBlob({
        send: (req) => this.#transport.send(ep, req),
        uploadsUrl: this.#url(ep, ref, "blobs/uploads/"),
        blob,
        source,
        scopes,
        context,
        signal: options.signal,
        ...(options.mountFrom ? { mountFrom: options.mountFrom } : {}),
        ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      }),
    );
  }

  /** Puts a manifest under ref's tag (or digest); returns its descriptor. */
  async putManifest(
    ref: ImageReference,
    mediaType: string,
    bytes: Uint8Array,
    options: CallOptions = {},
  ): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const context = {
      image: formatReference(ref),
      registry: ref.registry,
      manifest: digest,
      operation: "push",
    };
    if (ref.digest !== undefined && ref.digest !== digest) {
      throw new StargzError(
        "INVALID_ARGUMENT",
        "manifest bytes do not match the digest in the reference",
        { context },
      );
    }
    await this.#push(ref, options, async (ep) => {
      const res = await this.#send(ep, {
        method: "PUT",
        url: this.#url(ep, ref, `manifests/${manifestReference(ref)}`),
        headers: { "content-type": mediaType },
        body: bytes,
        scopes: [repositoryScope(ref.repository, "pull,push")],
        signal: options.signal,
        context,
      });
      if (res.statusCode !== 201 && res.statusCode !== 200)
        throw await responseError(res, "cannot push manifest", context);
      await discard(res);
      const stored = header(res.headers, "docker-content-digest");
      if (stored && stored !== digest) {
        throw new StargzError("DATA_LOSS", `registry stored the manifest as ${stored}`, {
          context,
        });
      }
    });
    return { mediaType, digest, size: bytes.length };
  }

  /** Closes every connection; idempotent. */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  #url(ep: Endpoint, ref: ImageReference, path: string): URL {
    return new URL(`${ep.origin}${ep.basePath}/${ref.repository}/${path}`);
  }

  async #send(ep: Endpoint, req: SendRequest): Promise<ResponseData> {
    return this.#transport.send(ep, req);
  }

  async #read(
    res: ResponseData,
    limit: number,
    signal: AbortSignal | undefined,
    context: ErrorContext,
  ): Promise<Buffer> {
    try {
      return await readLimited(res, limit);
    } catch (err) {
      throw classifyError(err, signal, context);
    }
  }

  /** Runs fn against each pull endpoint in turn (mirrors, then origin), with retries on each. */
  async #pull<T>(
    ref: ImageReference,
    options: CallOptions,
    fn: (ep: Endpoint) => Promise<T>,
  ): Promise<T> {
    const endpoints = endpointsFor(this.#hosts, ref.registry);
    let lastError: unknown;
    for (const [i, ep] of endpoints.entries()) {
      try {
        return await withRetries(() => fn(ep), { ...this.#retry, signal: options.signal });
      } catch (err) {
        lastError = err;
        if (i === endpoints.length - 1 || !this.#nextEndpoint(err, ep, options.signal)) throw err;
      }
    }
    throw lastError;
  }

  /** Whether a failure on this endpoint should send the call on to the next one. */
  #nextEndpoint(err: unknown, ep: Endpoint, signal?: AbortSignal): boolean {
    if (signal?.aborted) return false;
    const code = err instanceof StargzError ? err.code : "UNAVAILABLE";
    if (code === "CANCELLED" || code === "INVALID_ARGUMENT") return false;
    this.#logger.warn("mirror failed, trying next host", {
      mirror: ep.host,
      registry: ep.registry,
      code,
    });
    return true;
  }

  async #push<T>(
    ref: ImageReference,
    options: CallOptions,
    fn: (ep: Endpoint) => Promise<T>,
  ): Promise<T> {
    const endpoints = endpointsFor(this.#hosts, ref.registry);
    const origin = endpoints[endpoints.length - 1] as Endpoint;
    return withRetries(() => fn(origin), { ...this.#retry, signal: options.signal });
  }

  async #fetchToken(
    url: URL,
    init: {
      method: "GET" | "POST";
      headers: Record<string, string>;
      body?: string;
      signal?: AbortSignal;
    },
  ): Promise<{ status: number; body: string }> {
    const ep = this.#tokenEndpoint(url);
    const context = { registry: url.host, operation: "token" };
    return withRetries(
      async () => {
        const res = await this.#transport.send(ep, {
          method: init.method,
          url,
          headers: init.headers,
          body: init.body ?? null,
          scopes: [],
          signal: init.signal,
          context,
        });
        const body = await this.#read(res, 1024 * 1024, init.signal, context);
        return { status: res.statusCode, body: body.toString("utf8") };
      },
      { ...this.#retry, signal: init.signal },
    );
  }

  /** The token realm's endpoint: the configured one when the realm is a configured host, else defaults. */
  #tokenEndpoint(url: URL): Endpoint {
    for (const registry of Object.keys(this.#hosts.hosts)) {
      for (const ep of endpointsFor(this.#hosts, registry)) {
        if (ep.origin === url.origin) return { ...ep, host: `token:${ep.host}`, headers: {} };
      }
    }
    return {
      registry: url.host,
      origin: url.origin,
      basePath: "",
      host: `token:${url.host}`,
      isMirror: false,
      skipVerify: false,
      timeoutMs: 30_000,
      headers: {},
    };
  }
}

function parseManifest(
  bytes: Buffer,
  ref: ImageReference,
  headers: ResponseData["headers"],
  context: ErrorContext,
): FetchedManifest {
  const digest = sha256Digest(bytes);
  const claimed = ref.digest ?? header(headers, "docker-content-digest");
  if (claimed !== undefined && claimed.startsWith("sha256:") && claimed !== digest) {
    throw new StargzError(
      "DATA_LOSS",
      `manifest digest mismatch: content is ${digest}, expected ${claimed}`,
      { context },
    );
  }
  let doc: {
    mediaType?: unknown;
    manifests?: unknown;
    layers?: unknown;
    config?: unknown;
    schemaVersion?: unknown;
  };
  try {
    doc = JSON.parse(bytes.toString("utf8")) as typeof doc;
  } catch (err) {
    throw new StargzError("DATA_LOSS", "manifest is not valid JSON", { cause: err, context });
  }
  const mediaType = manifestMediaType(doc, header(headers, "content-type"));
  const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
  if (indexMediaTypes.has(mediaType) && Array.isArray(doc.manifests)) {
    return { descriptor, bytes, kind: "index", index: doc as ImageIndex };
  }
  if (
    imageManifestMediaTypes.has(mediaType) &&
    Array.isArray(doc.layers) &&
    typeof doc.config === "object"
  ) {
    return { descriptor, bytes, kind: "manifest", manifest: doc as ImageManifest };
  }
  throw new StargzError("FAILED_PRECONDITION", `unsupported manifest media type ${mediaType}`, {
    context: { ...context, schemaVersion: String(doc.schemaVersion) },
  });
}

/** The manifest's own mediaType field, else a meaningful Content-Type, else guessed from its shape. */
function manifestMediaType(
  doc: { mediaType?: unknown; manifests?: unknown },
  contentType: string | undefined,
): string {
  if (typeof doc.mediaType === "string" && doc.mediaType !== "") return doc.mediaType;
  const fromHeader = (contentType ?? "").split(";")[0]?.trim() ?? "";
  if (fromHeader !== "" && fromHeader !== "application/json") return fromHeader;
  return Array.isArray(doc.manifests) ? mediaTypes.ociIndex : mediaTypes.ociManifest;
}

function header(headers: ResponseData["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function blobContext(ref: ImageReference, blob: BlobRef): ErrorContext {
  return { image: `${ref.registry}/${ref.repository}`, registry: ref.registry, blob: blob.digest };
}

function sizeMismatch(got: number, want: number, context: ErrorContext, retryable = false): Error {
  const error = new StargzError(
    retryable ? "UNAVAILABLE" : "DATA_LOSS",
    `blob ended after ${got} of ${want} bytes`,
    { context },
  );
  return retryable ? new RetryableError(error) : error;
}

function retryableFinal(err: unknown): StargzError | undefined {
  return err instanceof RetryableError ? err.final : undefined;
}

export type { BlobRef, BlobSource, PushOutcome };
