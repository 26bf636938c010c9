/**
 * Calls into containerd's gRPC API with the namespace and lease as gRPC
 * metadata (containerd-namespace, containerd-lease). One Rpc per
 * (namespace, lease); views made with withLease() share the channel.
 */
import * as grpc from "@grpc/grpc-js";
import { StargzError, type ErrorContext } from "../util/errors.ts";
import { containerdError } from "./grpc-errors.ts";
import type { ServiceKey } from "./proto-definition.ts";

export interface CallOptions {
  signal?: AbortSignal;
}

export type Stubs = Record<ServiceKey, grpc.Client>;

type UnaryMethod = (
  req: unknown,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => grpc.ClientUnaryCall;

type DuplexMethod = (
  md: grpc.Metadata,
  opts: grpc.CallOptions,
) => grpc.ClientDuplexStream<unknown, unknown>;

export interface RpcOptions {
  stubs: Stubs;
  /** The socket path, for error messages. */
  address: string;
  namespace: string;
  lease?: string;
}

export class Rpc {
  readonly address: string;
  readonly namespace: string;
  readonly lease: string | undefined;
  readonly #stubs: Stubs;

  constructor(options: RpcOptions) {
    this.#stubs = options.stubs;
    this.address = options.address;
    this.namespace = options.namespace;
    this.lease = options.lease;
  }

  withLease(lease: string | undefined): Rpc {
    return new Rpc({ stubs: this.#stubs, address: this.address, namespace: this.namespace, lease });
  }

  metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set("containerd-namespace", this.namespace);
    if (this.lease !== undefined) md.set("containerd-lease", this.lease);
    return md;
  }

  context(extra: ErrorContext = {}): ErrorContext {
    return { socket: this.address, namespace: this.namespace, ...extra };
  }

  /** One unary call; errors become StargzErrors naming the socket and `context`. */
  unary<Res>(
    service: ServiceKey,
    method: string,
    req: object,
    options: CallOptions & { what: string; context?: ErrorContext },
  ): Promise<Res> {
    const context = this.context(options.context);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(cancelled(signal, options.what, context));
    const fn = (this.#stubs[service] as unknown as Record<string, UnaryMethod>)[method];
    if (!fn) throw new Error(`no method ${service}.${method}`);
    return new Promise<Res>((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = fn.call(this.#stubs[service], req, this.metadata(), {}, (err, res) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) {
          reject(
            signal?.aborted
              ? cancelled(signal, options.what, context)
              : containerdError(err, options.what, context),
          );
        } else resolve(res as Res);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** A bidirectional stream, cancelled when `signal` aborts. */
  duplex(
    service: ServiceKey,
    method: string,
    signal?: AbortSignal,
  ): grpc.ClientDuplexStream<unknown, unknown> {
    const fn = (this.#stubs[service] as unknown as Record<string, DuplexMethod>)[method];
    if (!fn) throw new Error(`no method ${service}.${method}`);
    const stream = fn.call(this.#stubs[service], this.metadata(), {});
    if (signal) {
      const onAbort = (): void => stream.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
      stream.on("close", () => signal.removeEventListener("abort", onAbort));
    }
    return stream;
  }
}

export function cancelled(signal: AbortSignal, what: string, context: ErrorContext): StargzError {
  const reason: unknown = signal.reason;
  const timeout = reason instanceof DOMException && reason.name === "TimeoutError";
  return new StargzError(
    timeout ? "DEADLINE_EXCEEDED" : "CANCELLED",
    `containerd: ${what}: ${timeout ? "timed out" : "cancelled"}`,
    {
      cause: reason,
      context,
    },
  );
}
