/**
 * Files that hold a layer while it is converted: a LayerSink that appends to
 * a file and a re-readable blob source for upload (random access is
 * util/file-blob's openFileBlob).
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { LayerSink } from "../estargz/index.ts";

export interface FileSink extends LayerSink {
  readonly bytesWritten: number;
  close(): Promise<void>;
}

export async function fileSink(path: string, onWrite?: (bytes: number) => void): Promise<FileSink> {
  const handle = await open(path, "w");
  let written = 0;
  return {
    get bytesWritten() {
      return written;
    },
    write: async (chunk) => {
      let off = 0;
      while (off < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
        off += bytesWritten;
      }
      written += chunk.length;
      onWrite?.(written);
    },
    close: () => handle.close(),
  };
}

/** A blob source for RegistryClient.pushBlob that re-reads the file on every attempt. */
export function fileSource(path: string): { open(): AsyncIterable<Uint8Array> } {
  return { open: () => createReadStream(path, { highWaterMark: 1 << 20 }) };
}
