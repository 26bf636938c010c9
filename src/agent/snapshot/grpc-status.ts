/**
 * The one place where StargzError codes become gRPC status codes. containerd
 * turns NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT and
 * UNAVAILABLE back into its errdefs kinds, so these must be exact.
 */
import { status, type ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { StargzError, errorMessage, type ErrorCode } from "../../util/errors.ts";

const toStatus: Record<ErrorCode, status> = {
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAVAILABLE: status.UNAVAILABLE,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  DEADLINE_EXCEEDED: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  DATA_LOSS: status.DATA_LOSS,
  INTERNAL: status.INTERNAL,
};

export function grpcStatusOf(err: unknown): status {
  return err instanceof StargzError ? toStatus[err.code] : status.UNKNOWN;
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  return { code: grpcStatusOf(err), details: errorMessage(err), metadata: new Metadata() };
}
