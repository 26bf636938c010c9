/**
 * Turning a chunk's compressed bytes into verified content. Inflation is
 * bounded: at most the bytes the chunk needs are kept, whatever the members
 * inflate to, and nothing is returned unless its sha256 matches the TOC.
 */
import { createHash } from "node:crypto";
import { createGunzip, gunzip as gunzipCallback } from "node:zlib";
import { promisify } from "node:util";
import { EStargzError } from "./errors.ts";
import type { ChunkRef } from "./layer-index.ts";

const gunzip = promisify(gunzipCallback);
/** Room for tar padding and the headers of following entries in the same member. */
const TRAILER_SLACK = 1 << 20;

export interface DecodeOptions {
  layer?: string | undefined;
  /** Serve chunks whose TOC has no digest (never the default). */
  allowUnverified?: boolean | undefined;
  /** A whole-file digest to check when the chunk is the file's only chunk and has none of its own. */
  fileDigest?: string | undefined;
}

export async function decodeChunk(
  ref: ChunkRef,
  compressed: Uint8Array,
  options: DecodeOptions = {},
): Promise<Buffer> {
  const expectedLength = ref.compressedEnd - ref.compressedOffset;
  if (compressed.byteLength !== expectedLength) {
    throw new EStargzError(
      "truncated",
      `chunk needs ${expectedLength} compressed bytes, got ${compressed.byteLength}`,
      {
        layer: options.layer,
        entry: ref.path,
      },
    );
  }
  const need = ref.innerOffset + ref.chunkSize;
  const inflated = await inflatePrefix(
    Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength),
    need,
    ref,
    options,
  );
  const data = inflated.subarray(ref.innerOffset, need);
  verifyChunk(ref, data, options);
  return data;
}

async function inflatePrefix(
  compressed: Buffer,
  need: number,
  ref: ChunkRef,
  options: DecodeOptions,
): Promise<Buffer> {
  let inflated: Buffer;
  try {
    // A chunk-sized output buffer: zlib's default (16 KiB) costs a threadpool round trip per 16 KiB.
    const chunkSize = Math.min(Math.max(need + 1024, 16 << 10), 8 << 20);
    inflated = await gunzip(compressed, { maxOutputLength: need + TRAILER_SLACK, chunkSize });
  } catch (err) {
    if ((err as { code?: string }).code !== "ERR_BUFFER_TOO_LARGE") {
      throw new EStargzError("bad-chunk", "chunk does not inflate", {
        layer: options.layer,
        entry: ref.path,
        cause: err,
      });
    }
    inflated = await inflateStreaming(compressed, need, ref, options);
  }
  if (inflated.length < need) {
    throw new EStargzError(
      "bad-chunk",
      `chunk inflates to ${inflated.length - ref.innerOffset} bytes, TOC says ${ref.chunkSize}`,
      {
        layer: options.layer,
        entry: ref.path,
      },
    );
  }
  return inflated;
}

/** Inflates until `need` bytes are out, then stops: a member that inflates to gigabytes costs nothing more. */
function inflateStreaming(
  compressed: Buffer,
  need: number,
  ref: ChunkRef,
  options: DecodeOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let have = 0;
    const inflater = createGunzip();
    const finish = (): void => {
      inflater.removeAllListeners("data");
      inflater.destroy();
      resolve(Buffer.concat(parts, have));
    };
    inflater.on("data", (part: Buffer) => {
      const keep = Math.min(part.length, need - have);
      parts.push(part.subarray(0, keep));
      have += keep;
      if (have >= need) finish();
    });
    inflater.once("end", finish);
    inflater.once("error", (cause) =>
      reject(
        new EStargzError("bad-chunk", "chunk does not inflate", {
          layer: options.layer,
          entry: ref.path,
          cause,
        }),
      ),
    );
    inflater.end(compressed);
  });
}

export function verifyChunk(ref: ChunkRef, data: Uint8Array, options: DecodeOptions = {}): void {
  const expected = ref.digest ?? (ref.chunkOffset === 0 ? options.fileDigest : undefined);
  if (expected === undefined) {
    if (options.allowUnverified) return;
    throw new EStargzError("unverifiable", "TOC has no digest for this chunk", {
      layer: options.layer,
      entry: ref.path,
    });
  }
  const actual = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  if (actual !== expected) {
    throw new EStargzError(
      "digest-mismatch",
      `chunk at ${ref.chunkOffset} has digest ${actual}, TOC says ${expected}`,
      {
        layer: options.layer,
        entry: ref.path,
      },
    );
  }
}
