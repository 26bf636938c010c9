/**
 * One HTTP exchange with a registry endpoint: picks the dispatcher for the
 * origin (one undici Pool per origin, with the endpoint's TLS trust), adds
 * the endpoint's headers and auth, answers one auth challenge, and follows
 * redirects without forwarding credentials to another origin. Connection
 * failures and retryable statuses surface as RetryableError; the caller owns
 * the retry loop, so a body read can be retried together with its request.
 */
import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { Pool, type Dispatcher } from "undici";
import { StargzError, errorMessage, type ErrorCode, type ErrorContext } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import type { Authorizer } from "./authorizer.ts";
import type { Endpoint } from "./hosts-config.ts";
import { cancelled, RetryableError } from "./retry.ts";

export type Body = string | Uint8Array | AsyncIterable<Uint8Array> | null;
export type ResponseData = Dispatcher.ResponseData;

export interface SendRequest {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: URL;
  headers?: Record<string, string>;
  /** A one-shot body (an iterable) cannot be resent after a 401; the call then fails retryably. */
  body?: Body;
  scopes: string[];
  signal?: AbortSignal;
  context: ErrorContext;
}

export interface TransportOptions {
  dispatcher?: Dispatcher;
  authorizer: Authorizer;
  logger: Logger;
  connectionsPerHost: number;
}

interface Hop {
  url: URL;
  method: string;
  body: Body | undefined;
  auth: string | undefined;
}

const maxRedirects = 5;
const retryableStatuses = new Set([408, 429, 500, 502, 503, 504]);
const retryableCodes = new Set([
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

export class HttpTransport {
  readonly #options: TransportOptions;
  readonly #pools = new Map<string, Promise<Dispatcher>>();

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** Sends one request (plus auth and redirect hops). Never returns a retryable status. */
  async send(ep: Endpoint, req: SendRequest): Promise<ResponseData> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    let reauthorized = false;
    for (let hop = 0; hop <= maxRedirects;) {
      const sameOrigin = url.origin === ep.origin;
      const auth = sameOrigin
        ? await this.#options.authorizer.authorization(ep.host, ep.registry, req.scopes, req.signal)
        : undefined;
      const res = await this.#exchange(ep, req, { url, method, body, auth });
      if (res.statusCode === 401 && sameOrigin && !reauthorized) {
        const retry = this.#options.authorizer.handleUnauthorized(
          ep.host,
          req.scopes,
          res.headers["www-authenticate"],
          auth !== undefined,
        );
        if (retry) {
          await discard(res);
          reauthorized = true;
          if (isOneShot(body))
            throw new RetryableError(statusError(401, "authorization renewed", req.context), 0);
          continue;
        }
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === "string") {
        await discard(res);
        url = new URL(location, url);
        if (res.statusCode === 303) {
          method = "GET";
          body = null;
        }
        hop++;
        continue;
      }
      if (retryableStatuses.has(res.statusCode)) {
        const error = await responseError(res, "request failed", req.context);
        throw new RetryableError(error, retryAfterMs(res.headers["retry-after"]));
      }
      return res;
    }
    throw new StargzError("UNAVAILABLE", `more than ${maxRedirects} redirects`, {
      context: req.context,
    });
  }

  /** One HTTP round trip; the endpoint's headers and auth go only to its own origin. */
  async #exchange(ep: Endpoint, req: SendRequest, hop: Hop): Promise<ResponseData> {
    const { url, method, body, auth } = hop;
    const sameOrigin = url.origin === ep.origin;
    const headers: Record<string, string | string[]> = {
      ...(sameOrigin ? ep.headers : {}),
      ...req.headers,
    };
    if (auth) headers.authorization = auth;
    const dispatcher = await this.#dispatcher(url.origin, sameOrigin ? ep : undefined);
    try {
      return await dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: toRequestBody(body),
        signal: req.signal,
        headersTimeout: ep.timeoutMs ?? 0,
        bodyTimeout: ep.timeoutMs ?? 0,
      });
    } catch (err) {
      throw classifyError(err, req.signal, { ...req.context, endpoint: url.host });
    }
  }

  async #dispatcher(origin: string, ep: Endpoint | undefined): Promise<Dispatcher> {
    if (this.#options.dispatcher) return this.#options.dispatcher;
    const key = `${origin}|${ep?.skipVerify ?? false}|${ep?.caFile ?? ""}`;
    let pool = this.#pools.get(key);
    if (!pool) {
      pool = this.#makePool(origin, ep);
      this.#pools.set(key, pool);
      pool.catch(() => this.#pools.delete(key));
    }
    return pool;
  }

  async #makePool(origin: string, ep: Endpoint | undefined): Promise<Dispatcher> {
    let ca: string[] | undefined;
    if (ep?.caFile !== undefined) {
      try {
        ca = [...rootCertificates, await readFile(ep.caFile, "utf8")];
      } catch (err) {
        throw new StargzError("INVALID_ARGUMENT", `cannot read CA file ${ep.caFile}`, {
          cause: err,
          context: { registry: ep.registry },
        });
      }
    }
    return new Pool(origin, {
      connections: this.#options.connectionsPerHost,
      connect: { ...(ca ? { ca } : {}), rejectUnauthorized: !(ep?.skipVerify ?? false) },
    });
  }

  async close(): Promise<void> {
    const pools = await Promise.allSettled([...this.#pools.values()]);
    this.#pools.clear();
    await Promise.all(pools.map((p) => (p.status === "fulfilled" ? p.value.close() : undefined)));
  }
}

function toRequestBody(body: Body | undefined): string | Uint8Array | Readable | null {
  if (
    body === undefined ||
    body === null ||
    typeof body === "string" ||
    body instanceof Uint8Array
  ) {
    return body ?? null;
  }
  return Readable.from(body, { objectMode: false });
}

function isOneShot(body: Body | undefined): boolean {
  return (
    body !== null && body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)
  );
}

/** Turns a thrown network error into CANCELLED, a RetryableError, or UNAVAILABLE. */
export function classifyError(
  err: unknown,
  signal: AbortSignal | undefined,
  context: ErrorContext,
): Error {
  if (err instanceof StargzError || err instanceof RetryableError) return err;
  if (signal?.aborted) return cancelled(signal, err);
  const code = (err as { code?: unknown }).code;
  const error = new StargzError("UNAVAILABLE", `connection failed: ${errorMessage(err)}`, {
    cause: err,
    context,
  });
  return typeof code === "string" && retryableCodes.has(code) ? new RetryableError(error) : error;
}

export async function discard(res: ResponseData): Promise<void> {
  try {
    await res.body.dump({ limit: 64 * 1024 });
  } catch {
    // the connection is dropped instead of reused
  }
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  if (typeof value !== "string") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function statusCode(status: number): ErrorCode {
  if (status === 404) return "NOT_FOUND";
  if (status === 401) return "UNAUTHENTICATED";
  if (status === 403) return "PERMISSION_DENIED";
  if (status === 416 || status === 400) return "INVALID_ARGUMENT";
  if (status === 408 || status === 429 || status >= 500) return "UNAVAILABLE";
  return "FAILED_PRECONDITION";
}

export function statusError(
  status: number,
  what: string,
  context: ErrorContext,
  detail = "",
): StargzError {
  return new StargzError(statusCode(status), `${what}: HTTP ${status}${detail}`, { context });
}

/** A StargzError for a response, with the registry's error codes (never its headers). */
export async function responseError(
  res: ResponseData,
  what: string,
  context: ErrorContext,
): Promise<StargzError> {
  let detail = "";
  try {
    const text = (await readLimited(res, 8192)).toString("utf8");
    const doc = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const parts = (doc.errors ?? [])
      .map((e) => [e.code, e.message].filter((x) => typeof x === "string").join(" "))
      .filter((s) => s !== "");
    if (parts.length > 0) detail = ` (${parts.join("; ").slice(0, 300)})`;
  } catch {
    // not a registry error document
  }
  return statusError(res.statusCode, what, context, detail);
}

/** Reads a body up to limit bytes; more is an error (manifests and token answers are small). */
export async function readLimited(res: ResponseData, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) {
      res.body.destroy();
      throw new StargzError("FAILED_PRECONDITION", `response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
