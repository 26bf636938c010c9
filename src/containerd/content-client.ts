/**
 * containerd's content store: blob info and labels, and ingest through the
 * Write stream (STAT names the ingest, WRITEs carry data at offsets, COMMIT
 * checks size and digest and stores the blob with its labels).
 */
import type * as grpc from "@grpc/grpc-js";
import { StargzError, isErrorCode, type ErrorContext } from "../util/errors.ts";
import { containerdError } from "./grpc-errors.ts";
import { cancelled, type CallOptions, type Rpc } from "./rpc.ts";
import type {
  ContentInfo,
  ContentInfoResponse,
  ContentUpdateResponse,
  WriteContentRequest,
  WriteContentResponse,
} from "./wire-types.ts";

export interface BlobDescriptor {
  digest: string;
  size: number;
}

export type BlobData = Uint8Array | AsyncIterable<Uint8Array>;

export interface WriteOptions extends CallOptions {
  /** The ingest name; containerd's fetcher uses "<kind>-<digest>" (manifest-, config-, layer-, index-). */
  ref: string;
  labels?: Record<string, string>;
  /** Extra error context (image, layer). */
  context?: ErrorContext;
  /** Waits between attempts while another writer holds the ref. */
  sleep?: (ms: number) => Promise<void>;
}

export interface WriteOutcome {
  /** The blob was already in the store: nothing was written and `data` was not read. */
  existed: boolean;
  /** Bytes sent to containerd (less than the size when an earlier ingest resumed). */
  bytesWritten: number;
}

/** containerd's writes carry at most this much per message. */
const writeChunkBytes = 1024 * 1024;
const lockedRetries = 20;

export class ContentClient {
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  async info(digest: string, options: CallOptions = {}): Promise<ContentInfo> {
    const res = await this.#rpc.unary<ContentInfoResponse>(
      "content",
      "Info",
      { digest },
      {
        ...options,
        what: "content info",
        context: { blob: digest },
      },
    );
    if (!res.info) throw new StargzError("INTERNAL", "containerd: content info without info");
    return res.info;
  }

  /** Sets (or, with an empty value, removes) the given labels only. */
  async setLabels(
    digest: string,
    labels: Record<string, string>,
    options: CallOptions = {},
  ): Promise<ContentInfo> {
    const paths = Object.keys(labels).map((k) => `labels.${k}`);
    const res = await this.#rpc.unary<ContentUpdateResponse>(
      "content",
      "Update",
      { info: { digest, labels }, update_mask: { paths } },
      { ...options, what: "update content labels", context: { blob: digest } },
    );
    if (!res.info) throw new StargzError("INTERNAL", "containerd: content update without info");
    return res.info;
  }

  /**
   * Ingests a blob unless the store already has it. A ref held by another
   * writer (UNAVAILABLE "locked") is retried for a while, as containerd's
   * OpenWriter does. An ingest left by an earlier attempt resumes at its offset.
   */
  async write(desc: BlobDescriptor, data: BlobData, options: WriteOptions): Promise<WriteOutcome> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#writeOnce(desc, data, options);
      } catch (err) {
        if (isErrorCode(err, "ALREADY_EXISTS")) return { existed: true, bytesWritten: 0 };
        const locked = isErrorCode(err, "UNAVAILABLE") && /locked/i.test((err as Error).message);
        if (!locked || attempt >= lockedRetries || options.signal?.aborted) throw err;
        await sleep(Math.min(100 * attempt, 1000));
      }
    }
  }

  async #writeOnce(
    desc: BlobDescriptor,
    data: BlobData,
    options: WriteOptions,
  ): Promise<WriteOutcome> {
    const context = this.#rpc.context({ blob: desc.digest, ...options.context });
    const stream = this.#rpc.duplex("content", "Write", options.signal);
    const session = new WriteSession(stream, context, options.signal);
    try {
      const stat = await session.send({
        action: "STAT",
        ref: options.ref,
        total: desc.size,
        expected: desc.digest,
      });
      let offset = stat.offset;
      let skip = offset;
      let bytesWritten = 0;
      for await (const chunk of chunks(data)) {
        let part = chunk;
        if (skip > 0) {
          const n = Math.min(skip, part.length);
          skip -= n;
          part = part.subarray(n);
        }
        for (let at = 0; at < part.length; at += writeChunkBytes) {
          const piece = part.subarray(at, at + writeChunkBytes);
          const res = await session.send({ action: "WRITE", offset, data: piece });
          if (res.offset !== offset + piece.length) {
            throw new StargzError("DATA_LOSS", `containerd: short write at offset ${offset}`, {
              context,
            });
          }
          offset = res.offset;
          bytesWritten += piece.length;
        }
      }
      const done = await session.send({
        action: "COMMIT",
        total: desc.size,
        offset,
        expected: desc.digest,
        labels: options.labels ?? {},
      });
      if (done.offset !== desc.size || (done.digest !== "" && done.digest !== desc.digest)) {
        throw new StargzError(
          "DATA_LOSS",
          "containerd: committed blob differs from its descriptor",
          {
            context: { ...context, committedDigest: done.digest, committedSize: done.offset },
          },
        );
      }
      await session.close();
      return { existed: false, bytesWritten };
    } finally {
      session.dispose();
    }
  }
}

async function* chunks(data: BlobData): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/** Request/response turns on one Write stream, as containerd's remote writer does them. */
class WriteSession {
  readonly #stream: grpc.ClientDuplexStream<unknown, unknown>;
  readonly #responses: AsyncIterator<unknown>;
  readonly #context: ErrorContext;
  readonly #signal: AbortSignal | undefined;

  constructor(
    stream: grpc.ClientDuplexStream<unknown, unknown>,
    context: ErrorContext,
    signal?: AbortSignal,
  ) {
    this.#stream = stream;
    this.#responses = stream[Symbol.asyncIterator]();
    this.#context = context;
    this.#signal = signal;
  }

  async send(req: Partial<WriteContentRequest>): Promise<WriteContentResponse> {
    this.#stream.write(req);
    let next: IteratorResult<unknown>;
    try {
      next = await this.#responses.next();
    } catch (err) {
      if (this.#signal?.aborted) throw cancelled(this.#signal, "write content", this.#context);
      throw containerdError(err, `write content (${req.action})`, this.#context);
    }
    if (next.done) {
      throw new StargzError("UNAVAILABLE", "containerd closed the content write stream", {
        context: this.#context,
      });
    }
    return next.value as WriteContentResponse;
  }

  /** Half-closes and waits for containerd to end the stream. */
  async close(): Promise<void> {
    this.#stream.end();
    try {
      while (!(await this.#responses.next()).done) {
        // containerd answers nothing after COMMIT; drain defensively.
      }
    } catch (err) {
      throw containerdError(err, "write content (close)", this.#context);
    }
  }

  dispose(): void {
    if (!this.#stream.destroyed) this.#stream.cancel();
  }
}
