/**
 * One blob upload session (distribution spec "push"): optional cross-repo
 * mount, then a monolithic PUT or PATCH chunks followed by a closing PUT. A
 * failed session is abandoned and the caller's retry starts a new one, so
 * sources must be re-readable.
 */
import { StargzError, type ErrorContext } from "../util/errors.ts";
import { discard, responseError, type ResponseData, type SendRequest } from "./http-transport.ts";
import type { BlobRef } from "./range-reader.ts";

/** Bytes in memory, or something that can be read again from the start (a file). */
export type BlobSource = Uint8Array | { open(): AsyncIterable<Uint8Array> };
export type PushOutcome = "exists" | "mounted" | "uploaded";

export interface UploadRequest {
  send(req: SendRequest): Promise<ResponseData>;
  /** .../v2/<repo>/blobs/uploads/ */
  uploadsUrl: URL;
  blob: BlobRef;
  source: BlobSource;
  scopes: string[];
  context: ErrorContext;
  signal?: AbortSignal;
  mountFrom?: string;
  chunkSize?: number;
}

export async function uploadBlob(u: UploadRequest): Promise<PushOutcome> {
  const start = new URL(u.uploadsUrl);
  if (u.mountFrom) {
    start.searchParams.set("mount", u.blob.digest);
    start.searchParams.set("from", u.mountFrom);
  }
  const res = await u.send({
    method: "POST",
    url: start,
    headers: { "content-length": "0" },
    scopes: u.scopes,
    signal: u.signal,
    context: u.context,
  });
  if (res.statusCode === 201 && u.mountFrom) {
    await discard(res);
    return "mounted";
  }
  let location = await sessionLocation(res, u, "cannot start blob upload");
  if (u.chunkSize !== undefined && u.chunkSize < u.blob.size) {
    location = await patchChunks(u, location, u.chunkSize);
    await finish(u, location, null, 0);
  } else {
    const body = u.source instanceof Uint8Array ? u.source : u.source.open();
    await finish(u, location, body, u.blob.size);
  }
  return "uploaded";
}

async function patchChunks(u: UploadRequest, location: URL, chunkSize: number): Promise<URL> {
  let offset = 0;
  for await (const chunk of rechunk(u.source, chunkSize)) {
    const res = await u.send({
      method: "PATCH",
      url: location,
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(chunk.length),
        "content-range": `${offset}-${offset + chunk.length - 1}`,
      },
      body: chunk,
      scopes: u.scopes,
      signal: u.signal,
      context: u.context,
    });
    location = await sessionLocation(res, u, "cannot upload blob chunk");
    offset += chunk.length;
  }
  if (offset !== u.blob.size) {
    throw new StargzError(
      "INVALID_ARGUMENT",
      `blob source gave ${offset} bytes, descriptor says ${u.blob.size}`,
      { context: u.context },
    );
  }
  return location;
}

async function finish(
  u: UploadRequest,
  location: URL,
  body: Uint8Array | AsyncIterable<Uint8Array> | null,
  length: number,
): Promise<void> {
  const url = new URL(location);
  url.searchParams.set("digest", u.blob.digest);
  const res = await u.send({
    method: "PUT",
    url,
    headers: { "content-type": "application/octet-stream", "content-length": String(length) },
    body,
    scopes: u.scopes,
    signal: u.signal,
    context: u.context,
  });
  if (res.statusCode !== 201)
    throw await responseError(res, "cannot complete blob upload", u.context);
  await discard(res);
}

async function sessionLocation(res: ResponseData, u: UploadRequest, what: string): Promise<URL> {
  const location = res.headers.location;
  if (res.statusCode !== 202 || typeof location !== "string") {
    throw await responseError(res, what, u.context);
  }
  await discard(res);
  return new URL(location, u.uploadsUrl);
}

async function* rechunk(source: BlobSource, size: number): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let i = 0; i < source.length; i += size) yield source.subarray(i, i + size);
    return;
  }
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const piece of source.open()) {
    let rest = piece;
    while (pendingBytes + rest.length >= size) {
      const take = size - pendingBytes;
      pending.push(rest.subarray(0, take));
      yield Buffer.concat(pending);
      rest = rest.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (rest.length > 0) {
      pending.push(rest);
      pendingBytes += rest.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}
