/** containerd's diff service: unpacks a layer blob from the content store onto mounts. */
import { StargzError } from "../util/errors.ts";
import type { CallOptions, Rpc } from "./rpc.ts";
import type { ApplyResponse, WireDescriptor, WireMount } from "./wire-types.ts";

export class DiffClient {
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  /** Applies `layer` (already in the content store) onto `mounts`; returns the uncompressed descriptor (diffID). */
  async apply(
    layer: WireDescriptor,
    mounts: WireMount[],
    options: CallOptions = {},
  ): Promise<WireDescriptor> {
    const res = await this.#rpc.unary<ApplyResponse>(
      "diff",
      "Apply",
      { diff: layer, mounts, payloads: {} },
      {
        ...options,
        what: "apply layer",
        context: { layer: layer.digest },
      },
    );
    if (!res.applied)
      throw new StargzError("INTERNAL", "containerd applied a layer without a result", {
        context: { layer: layer.digest },
      });
    return res.applied;
  }
}
