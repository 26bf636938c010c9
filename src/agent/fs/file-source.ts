/** A LayerBlobSource over a local file (tests, the CLI, benchmarks). */
import { readRange } from "../../estargz/index.ts";
import { openFileBlob } from "../../util/file-blob.ts";
import type { LayerBlobSource } from "./types.ts";

export interface FileBlobSource extends LayerBlobSource {
  close(): Promise<void>;
}

export async function openFileBlobSource(path: string): Promise<FileBlobSource> {
  const blob = await openFileBlob(path);
  return {
    size: blob.size,
    readRanges: (ranges, signal) =>
      Promise.all(
        ranges.map(async (r) => {
          signal.throwIfAborted();
          return readRange(blob, r.offset, r.offset + r.length, { entry: path });
        }),
      ),
    close: () => blob.close(),
  };
}
