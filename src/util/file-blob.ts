/** Files as random-access blobs and as layer sinks, for the CLI and the agent's disk cache. */
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import type { LayerSink, ReadAt } from "../estargz/types.ts";

export interface FileBlob extends ReadAt {
  close(): Promise<void>;
}

export async function openFileBlob(path: string): Promise<FileBlob> {
  const handle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    size,
    readAt: async (buf, offset) => (await handle.read(buf, 0, buf.byteLength, offset)).bytesRead,
    close: () => handle.close(),
  };
}

export interface FileSink extends LayerSink {
  /** Makes the file visible under its final name. */
  commit(): Promise<void>;
  /** Removes the partial file. */
  abort(): Promise<void>;
}

/** Writes to PATH.partial-PID and renames on commit, so a failure never leaves a half-written file at PATH. */
export async function createFileSink(path: string): Promise<FileSink> {
  const partial = `${path}.partial-${process.pid}`;
  const handle: FileHandle = await open(partial, "w");
  let closed = false;
  const close = async (): Promise<void> => {
    if (!closed) {
      closed = true;
      await handle.close();
    }
  };
  return {
    write: async (chunk) => {
      for (let done = 0; done < chunk.byteLength;) {
        done += (await handle.write(chunk, done, chunk.byteLength - done)).bytesWritten;
      }
    },
    commit: async () => {
      await handle.sync();
      await close();
      await rename(partial, path);
    },
    abort: async () => {
      await close();
      await rm(partial, { force: true });
    },
  };
}
