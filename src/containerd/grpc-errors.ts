/**
 * The one place where containerd's gRPC statuses become StargzErrors. The
 * codes containerd's errdefs use (NOT_FOUND, ALREADY_EXISTS, ...) keep their
 * meaning; a channel that cannot reach the socket is UNAVAILABLE and says so.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { StargzError, type ErrorCode, type ErrorContext } from "../util/errors.ts";

const fromStatus: Partial<Record<status, ErrorCode>> = {
  [status.NOT_FOUND]: "NOT_FOUND",
  [status.ALREADY_EXISTS]: "ALREADY_EXISTS",
  [status.FAILED_PRECONDITION]: "FAILED_PRECONDITION",
  [status.INVALID_ARGUMENT]: "INVALID_ARGUMENT",
  [status.UNAVAILABLE]: "UNAVAILABLE",
  [status.UNAUTHENTICATED]: "UNAUTHENTICATED",
  [status.PERMISSION_DENIED]: "PERMISSION_DENIED",
  [status.DEADLINE_EXCEEDED]: "DEADLINE_EXCEEDED",
  [status.CANCELLED]: "CANCELLED",
  [status.DATA_LOSS]: "DATA_LOSS",
};

export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number";
}

/** A StargzError for a failed call; `what` says what was being done ("prepare snapshot"). */
export function containerdError(err: unknown, what: string, context: ErrorContext): StargzError {
  if (err instanceof StargzError) return err;
  if (!isServiceError(err)) {
    return new StargzError("INTERNAL", `containerd: ${what} failed: ${String(err)}`, {
      cause: err,
      context,
    });
  }
  const code = fromStatus[err.code as status] ?? "INTERNAL";
  const details = (err.details || err.message).replace(/\.?\s*Resolution note:\s*$/, "");
  const unreachable =
    code === "UNAVAILABLE" && /connect|No connection|ENOENT|ECONNREFUSED/i.test(details);
  const message = unreachable
    ? `cannot reach containerd at ${String(context.socket)}: ${details}`
    : `containerd: ${what}: ${details}`;
  return new StargzError(code, message, { cause: err, context });
}
