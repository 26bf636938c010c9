/**
 * Files that hold a layer while it is converted: a LayerSink that appends to
 * a file, a random-access view of a file (the builder's ReadAt), and a
 * re-readable blob source for upload.
 */
import { createReadStream } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import type { LayerSink, ReadAt } from "../estargz/index.ts";

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

export interface FileReadAt extends ReadAt {
  close(): Promise<void>;
}

export async function fileReadAt(path: string): Promise<FileReadAt> {
  const handle: FileHandle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    size,
    readAt: async (buf, offset) => {
      let done = 0;
      while (done < buf.length && offset + done < size) {
        const { bytesRead } = await handle.read(buf, done, buf.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done;
    },
    close: () => handle.close(),
  };
}

/** A blob source for RegistryClient.pushBlob that re-reads the file on every attempt. */
export function fileSource(path: string): { open(): AsyncIterable<Uint8Array> } {
  return { open: () => createReadStream(path, { highWaterMark: 1 << 20 }) };
}
