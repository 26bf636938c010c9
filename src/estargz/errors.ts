import { StargzError, type ErrorCode } from "../util/errors.ts";

/** Why a blob was rejected; stable, for tests and metrics. */
export type FormatProblem =
  | "truncated"
  | "bad-footer"
  | "bad-toc"
  | "toc-too-large"
  | "bad-entry"
  | "out-of-bounds"
  | "bad-chunk"
  | "digest-mismatch"
  | "unverifiable"
  | "bad-tar";

const codeFor: Record<FormatProblem, ErrorCode> = {
  truncated: "DATA_LOSS",
  "bad-footer": "INVALID_ARGUMENT",
  "bad-toc": "INVALID_ARGUMENT",
  "toc-too-large": "INVALID_ARGUMENT",
  "bad-entry": "INVALID_ARGUMENT",
  "out-of-bounds": "INVALID_ARGUMENT",
  "bad-chunk": "DATA_LOSS",
  "digest-mismatch": "DATA_LOSS",
  unverifiable: "FAILED_PRECONDITION",
  "bad-tar": "INVALID_ARGUMENT",
};

/** Every rejection of layer bytes: names the layer and, where known, the entry. */
export class EStargzError extends StargzError {
  readonly problem: FormatProblem;

  constructor(
    problem: FormatProblem,
    message: string,
    where: { layer?: string | undefined; entry?: string | undefined; cause?: unknown } = {},
  ) {
    super(codeFor[problem], message, {
      cause: where.cause,
      context: { layer: where.layer, entry: where.entry },
    });
    this.name = "EStargzError";
    this.problem = problem;
  }
}
