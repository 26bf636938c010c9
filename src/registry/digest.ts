/**
 * Content digests. Everything fetched by digest is checked against it before
 * it is handed on; a mismatch is DATA_LOSS, never silently accepted.
 */
import { createHash, type Hash } from "node:crypto";
import { StargzError, type ErrorContext } from "../util/errors.ts";

const supported = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

export function isDigest(value: string): boolean {
  return supported.test(value);
}

export function assertSupportedDigest(digest: string, context: ErrorContext = {}): void {
  if (!supported.test(digest)) {
    throw new StargzError("INVALID_ARGUMENT", `unsupported or malformed digest ${digest}`, {
      context,
    });
  }
}

/** Incremental sha256 with a final check against an expected digest. */
export class DigestVerifier {
  readonly expected: string;
  #hash: Hash = createHash("sha256");
  #bytes = 0;

  constructor(expected: string) {
    assertSupportedDigest(expected);
    this.expected = expected;
  }

  get bytes(): number {
    return this.#bytes;
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
  }

  /** Throws DATA_LOSS when the content read does not match the expected digest. */
  verify(context: ErrorContext = {}): void {
    const actual = "sha256:" + this.#hash.digest("hex");
    if (actual !== this.expected) {
      throw new StargzError("DATA_LOSS", `content digest mismatch: got ${actual}`, {
        context: { ...context, digest: this.expected },
      });
    }
  }
}
