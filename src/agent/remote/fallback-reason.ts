/**
 * Why a layer was not mounted remotely. The reason is a small fixed set so it
 * can be a metric label; the full cause (naming image and layer) goes to the
 * log and the per-image state file.
 */
import { EStargzError } from "../../estargz/index.ts";
import { StargzError, type ErrorContext } from "../../util/errors.ts";

export const fallbackReasons = [
  "no_source_labels",
  "no_toc_digest",
  "not_estargz",
  "toc_digest_mismatch",
  "registry_unreachable",
  "auth_refused",
  "blob_not_found",
  "timeout",
  "cancelled",
  "mount_failed",
] as const;

export type FallbackReason = (typeof fallbackReasons)[number];

/** The snapshotter treats any rejection of mount() as "unpack instead"; this one says why. */
export class RemoteMountError extends StargzError {
  readonly reason: FallbackReason;

  constructor(
    reason: FallbackReason,
    message: string,
    options: { cause?: unknown; context?: ErrorContext } = {},
  ) {
    super("FAILED_PRECONDITION", `${message} [${reason}]`, options);
    this.name = "RemoteMountError";
    this.reason = reason;
  }
}

/** Maps any failure of the remote path onto a reason. */
export function classifyFailure(err: unknown): FallbackReason {
  if (err instanceof RemoteMountError) return err.reason;
  if (err instanceof EStargzError) {
    return err.problem === "digest-mismatch" ? "toc_digest_mismatch" : "not_estargz";
  }
  if (!(err instanceof StargzError)) {
    return (err as Error)?.name === "TimeoutError" ? "timeout" : "mount_failed";
  }
  switch (err.code) {
    case "UNAUTHENTICATED":
    case "PERMISSION_DENIED":
      return "auth_refused";
    case "NOT_FOUND":
      return "blob_not_found";
    case "DEADLINE_EXCEEDED":
      return "timeout";
    case "UNAVAILABLE":
      return "registry_unreachable";
    case "CANCELLED":
      return "cancelled";
    default:
      return "mount_failed";
  }
}

/** Wraps a failure as a RemoteMountError carrying its reason, image and layer. */
export function asRemoteMountError(err: unknown, context: ErrorContext): RemoteMountError {
  if (err instanceof RemoteMountError) return err;
  const reason = classifyFailure(err);
  const message = err instanceof Error ? err.message : String(err);
  return new RemoteMountError(reason, `layer cannot be mounted remotely: ${message}`, {
    cause: err,
    context,
  });
}
