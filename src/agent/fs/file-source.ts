/** A LayerBlobSource over a local file (tests, the CLI, benchmarks). */
import { open, type FileHandle } from "node:fs/promises";
import type { ByteRange, LayerBlobSource } from "./types.ts";

export interface FileBlobSource extends LayerBlobSource {
  close(): Promise<void>;
}

export async function openFileBlobSource(path: string): Promise<FileBlobSource> {
  const handle: FileHandle = await open(path, "r");
  const { size } = await handle.stat();
  return {
    size,
    readRanges: (ranges, signal) => Promise.all(ranges.map((r) => readExactly(handle, r, signal))),
    close: () => handle.close(),
  };
}

async function readExactly(
  handle: FileHandle,
  range: ByteRange,
  signal: AbortSignal,
): Promise<Buffer> {
  signal.throwIfAborted();
  const out = Buffer.allocUnsafe(range.length);
  let filled = 0;
  while (filled < out.length) {
    const { bytesRead } = await handle.read(
      out,
      filled,
      out.length - filled,
      range.offset + filled,
    );
    if (bytesRead === 0) throw new Error(`file ends before ${range.offset + range.length}`);
    filled += bytesRead;
  }
  return out;
}
