import type { LayerSink, ReadAt } from "../../src/estargz/index.ts";

/** A ReadAt over a buffer, counting what was read (to check laziness). */
export function memoryBlob(data: Buffer): ReadAt & { bytesRead: number; reads: number } {
  const blob = {
    size: data.length,
    bytesRead: 0,
    reads: 0,
    readAt: async (buf: Uint8Array, offset: number) => {
      const n = Math.max(0, Math.min(buf.byteLength, data.length - offset));
      data.copy(buf, 0, offset, offset + n);
      blob.bytesRead += n;
      blob.reads += 1;
      return n;
    },
  };
  return blob;
}

export function memorySink(): LayerSink & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  return {
    write: async (chunk) => {
      parts.push(Buffer.from(chunk));
    },
    bytes: () => Buffer.concat(parts),
  };
}

export async function* streamOf(data: Buffer, pieceSize = 7919): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += pieceSize) yield data.subarray(i, i + pieceSize);
}
