/** containerd's image records: a name and the descriptor it points at. */
import { StargzError, isErrorCode } from "../util/errors.ts";
import type { CallOptions, Rpc } from "./rpc.ts";
import type { ImageResponse, WireDescriptor, WireImage } from "./wire-types.ts";

export interface ImageRecord {
  name: string;
  target: WireDescriptor;
  labels?: Record<string, string>;
}

export class ImagesClient {
  readonly #rpc: Rpc;

  constructor(rpc: Rpc) {
    this.#rpc = rpc;
  }

  async get(name: string, options: CallOptions = {}): Promise<WireImage> {
    const res = await this.#rpc.unary<ImageResponse>(
      "images",
      "Get",
      { name },
      {
        ...options,
        what: "get image",
        context: { image: name },
      },
    );
    return present(res, name);
  }

  /** Creates the record, or replaces target and labels of an existing one (as containerd's Pull does). */
  async put(record: ImageRecord, options: CallOptions = {}): Promise<WireImage> {
    const image = { name: record.name, target: record.target, labels: record.labels ?? {} };
    const call = { ...options, context: { image: record.name } };
    for (let attempt = 0; ; attempt++) {
      try {
        return present(
          await this.#rpc.unary<ImageResponse>(
            "images",
            "Create",
            { image },
            { ...call, what: "create image" },
          ),
          record.name,
        );
      } catch (err) {
        if (!isErrorCode(err, "ALREADY_EXISTS")) throw err;
      }
      try {
        const res = await this.#rpc.unary<ImageResponse>(
          "images",
          "Update",
          { image, update_mask: null },
          { ...call, what: "update image" },
        );
        return present(res, record.name);
      } catch (err) {
        // Removed between our Create and Update: create again.
        if (!isErrorCode(err, "NOT_FOUND") || attempt >= 3) throw err;
      }
    }
  }

  async delete(name: string, options: CallOptions & { sync?: boolean } = {}): Promise<void> {
    await this.#rpc.unary(
      "images",
      "Delete",
      { name, sync: options.sync ?? false },
      {
        ...options,
        what: "delete image",
        context: { image: name },
      },
    );
  }
}

function present(res: ImageResponse, name: string): WireImage {
  if (!res.image)
    throw new StargzError("INTERNAL", "containerd answered without an image", {
      context: { image: name },
    });
  return res.image;
}
