/**
 * A client for containerd's gRPC socket, bound to one namespace and
 * optionally one lease. withLease() returns a view that sends the lease with
 * every call and shares the connection; close() on the root closes it.
 */
import * as grpc from "@grpc/grpc-js";
import { ContentClient } from "./content-client.ts";
import { DiffClient } from "./diff-client.ts";
import { ImagesClient } from "./images-client.ts";
import { LeasesClient } from "./leases-client.ts";
import { NamespacesClient, validateNamespace } from "./namespaces-client.ts";
import { serviceConstructors, type ServiceKey } from "./proto-definition.ts";
import { Rpc, type Stubs } from "./rpc.ts";
import { SnapshotsClient } from "./snapshots-client.ts";

export const defaultContainerdAddress = "/run/containerd/containerd.sock";
export const defaultNamespace = "default";

export interface ContainerdClientOptions {
  /** The socket path (default /run/containerd/containerd.sock); "unix://" prefixes are accepted. */
  address?: string;
  namespace?: string;
}

export class ContainerdClient {
  readonly address: string;
  readonly namespace: string;
  readonly content: ContentClient;
  readonly images: ImagesClient;
  readonly leases: LeasesClient;
  readonly diff: DiffClient;
  readonly namespaces: NamespacesClient;
  readonly #rpc: Rpc;
  readonly #owned: grpc.Client | undefined;

  constructor(options?: ContainerdClientOptions);
  constructor(options: ContainerdClientOptions, rpc: Rpc);
  constructor(options: ContainerdClientOptions = {}, rpc?: Rpc) {
    if (rpc) {
      this.#rpc = rpc;
      this.#owned = undefined;
    } else {
      const address = socketPath(options.address ?? defaultContainerdAddress);
      const namespace = options.namespace ?? defaultNamespace;
      validateNamespace(namespace);
      const { stubs, channel } = connect(address);
      this.#rpc = new Rpc({ stubs, address, namespace });
      this.#owned = channel;
    }
    this.address = this.#rpc.address;
    this.namespace = this.#rpc.namespace;
    this.content = new ContentClient(this.#rpc);
    this.images = new ImagesClient(this.#rpc);
    this.leases = new LeasesClient(this.#rpc);
    this.diff = new DiffClient(this.#rpc);
    this.namespaces = new NamespacesClient(this.#rpc);
  }

  get lease(): string | undefined {
    return this.#rpc.lease;
  }

  snapshots(snapshotter: string): SnapshotsClient {
    return new SnapshotsClient(this.#rpc, snapshotter);
  }

  /** A view whose every call carries `lease`; closing it does nothing. */
  withLease(lease: string): ContainerdClient {
    return new ContainerdClient({}, this.#rpc.withLease(lease));
  }

  /** Closes the connection (root client only); idempotent. */
  close(): void {
    this.#owned?.close();
  }
}

function socketPath(address: string): string {
  return address.replace(/^unix:\/\//, "");
}

function connect(address: string): { stubs: Stubs; channel: grpc.Client } {
  const ctors = serviceConstructors();
  // "unix:///abs/path" for absolute paths; grpc-js reads "unix:rel/path" as relative.
  const target = address.startsWith("/") ? `unix://${address}` : `unix:${address}`;
  const credentials = grpc.credentials.createInsecure();
  const channelOptions = { "grpc.max_receive_message_length": 16 * 1024 * 1024 };
  const root = new ctors.content(target, credentials, channelOptions);
  const share = (key: ServiceKey): grpc.Client =>
    key === "content"
      ? root
      : new ctors[key](target, credentials, { channelOverride: root.getChannel() });
  const stubs: Stubs = {
    content: root,
    images: share("images"),
    leases: share("leases"),
    diff: share("diff"),
    namespaces: share("namespaces"),
    snapshots: share("snapshots"),
  };
  return { stubs, channel: root };
}
