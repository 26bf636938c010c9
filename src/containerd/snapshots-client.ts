/** One snapshotter of containerd's snapshots service (overlayfs, stargz, ...). */
import { StargzError } from "../util/errors.ts";
import type { CallOptions, Rpc } from "./rpc.ts";
import type {
  MountsResponse,
  StatSnapshotResponse,
  WireMount,
  WireSnapshotInfo,
} from "./wire-types.ts";

export class SnapshotsClient {
  readonly #rpc: Rpc;
  readonly snapshotter: string;

  constructor(rpc: Rpc, snapshotter: string) {
    this.#rpc = rpc;
    this.snapshotter = snapshotter;
  }

  /** An active snapshot on `parent` ("" for none). ALREADY_EXISTS when the labels' target exists. */
  async prepare(
    key: string,
    parent: string,
    labels: Record<string, string>,
    options: CallOptions = {},
  ): Promise<WireMount[]> {
    const res = await this.#rpc.unary<MountsResponse>(
      "snapshots",
      "Prepare",
      { snapshotter: this.snapshotter, key, parent, labels },
      { ...options, what: "prepare snapshot", context: this.#context(key) },
    );
    return res.mounts;
  }

  async commit(
    name: string,
    key: string,
    labels: Record<string, string>,
    options: CallOptions = {},
  ): Promise<void> {
    await this.#rpc.unary(
      "snapshots",
      "Commit",
      { snapshotter: this.snapshotter, name, key, labels },
      { ...options, what: "commit snapshot", context: this.#context(key) },
    );
  }

  /** NOT_FOUND when there is no snapshot under `key`. */
  async stat(key: string, options: CallOptions = {}): Promise<WireSnapshotInfo> {
    const res = await this.#rpc.unary<StatSnapshotResponse>(
      "snapshots",
      "Stat",
      { snapshotter: this.snapshotter, key },
      { ...options, what: "stat snapshot", context: this.#context(key) },
    );
    if (!res.info) throw new StargzError("INTERNAL", "containerd answered without snapshot info");
    return res.info;
  }

  async remove(key: string, options: CallOptions = {}): Promise<void> {
    await this.#rpc.unary(
      "snapshots",
      "Remove",
      { snapshotter: this.snapshotter, key },
      { ...options, what: "remove snapshot", context: this.#context(key) },
    );
  }

  #context(key: string): Record<string, string> {
    return { snapshotter: this.snapshotter, snapshot: key };
  }
}
