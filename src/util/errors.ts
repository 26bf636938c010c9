/**
 * One error model for the whole project. Every error that crosses a module
 * boundary is a StargzError with a stable code; edges map the code once
 * (gRPC status in the snapshot service, errno in the FUSE adapter, exit code
 * in the CLI). `context` names what failed (image, layer, path) and never
 * holds credentials.
 */
export type ErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "INVALID_ARGUMENT"
  | "UNAVAILABLE"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "DEADLINE_EXCEEDED"
  | "CANCELLED"
  | "DATA_LOSS"
  | "INTERNAL";

export type ErrorContext = Readonly<Record<string, string | number | boolean | undefined>>;

export interface StargzErrorOptions {
  cause?: unknown;
  context?: ErrorContext;
}

export class StargzError extends Error {
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: StargzErrorOptions = {}) {
    super(withContext(message, options.context), { cause: options.cause });
    this.name = "StargzError";
    this.code = code;
    this.context = options.context ?? {};
  }
}

export function isErrorCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof StargzError && err.code === code;
}

/** The message of any thrown value, for logs and wrapped errors. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withContext(message: string, context: ErrorContext | undefined): string {
  if (!context) return message;
  const parts = Object.entries(context)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${String(value)}`);
  return parts.length === 0 ? message : `${message} (${parts.join(", ")})`;
}
