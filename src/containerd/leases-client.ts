/** containerd's leases: what is created under one is safe from GC until it is deleted or expires. */
import { randomBytes } from "node:crypto";
import { StargzError } from "../util/errors.ts";
import type { CallOptions, Rpc } from "./rpc.ts";
import type { CreateLeaseResponse, ListLeasesResponse, WireLease } from "./wire-types.ts";

export const leaseExpireLabel = "containerd.io/gc.expire";

export interface CreateLeaseOptions extends CallOptions {
  id?: string;
  /** After this long containerd's GC drops the lease even if nobody deletes it. */
  expireAfterMs?: number;
  labels?: Record<string, string>;
  now?: () => Date;
}

export class LeasesClient {
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  async create(options: CreateLeaseOptions = {}): Promise<WireLease> {
    const now = (options.now ?? (() => new Date()))();
    const labels = { ...options.labels };
    if (options.expireAfterMs !== undefined) {
      labels[leaseExpireLabel] = rfc3339(new Date(now.getTime() + options.expireAfterMs));
    }
    const id = options.id ?? randomLeaseId(now);
    const res = await this.#rpc.unary<CreateLeaseResponse>(
      "leases",
      "Create",
      { id, labels },
      {
        ...options,
        what: "create lease",
        context: { lease: id },
      },
    );
    if (!res.lease) throw new StargzError("INTERNAL", "containerd answered without a lease");
    return res.lease;
  }

  async delete(id: string, options: CallOptions & { sync?: boolean } = {}): Promise<void> {
    await this.#rpc.unary(
      "leases",
      "Delete",
      { id, sync: options.sync ?? false },
      {
        ...options,
        what: "delete lease",
        context: { lease: id },
      },
    );
  }

  async list(filters: string[] = [], options: CallOptions = {}): Promise<WireLease[]> {
    const res = await this.#rpc.unary<ListLeasesResponse>(
      "leases",
      "List",
      { filters },
      {
        ...options,
        what: "list leases",
      },
    );
    return res.leases;
  }
}

/** containerd's own shape for random lease ids: "<nanoseconds>-<base64url of 3 random bytes>". */
export function randomLeaseId(now: Date): string {
  const nanos = (now.getTime() % 1000) * 1e6 + Math.floor(Math.random() * 1e6);
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}

/** RFC 3339 without fractional seconds, as Go's time.RFC3339 formats UTC. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
