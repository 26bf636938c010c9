/**
 * Bounded retries with exponential backoff and full jitter. Bounded twice:
 * by attempts and by elapsed time, so a dead registry fails in a known time.
 * sleep, random and now are injected so tests neither sleep nor flake.
 */
import { StargzError } from "../util/errors.ts";

export interface RetryPolicy {
  /** Total attempts, including the first. */
  maxAttempts: number;
  /** No retry starts after this many milliseconds since the first attempt. */
  maxElapsedMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  maxElapsedMs: 60_000,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

/** Thrown by an attempt that may succeed if tried again. */
export class RetryableError extends Error {
  override name = "RetryableError";
  /** A server-requested delay (Retry-After), when given. */
  readonly retryAfterMs: number | undefined;
  /** What to throw if no attempt is left. */
  readonly final: StargzError;

  constructor(final: StargzError, retryAfterMs?: number) {
    super(final.message, { cause: final });
    this.final = final;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface RetryDeps {
  policy: RetryPolicy;
  sleep: Sleep;
  random: () => number;
  now: () => number;
  signal?: AbortSignal;
  onRetry?: (err: StargzError, attempt: number, delayMs: number) => void;
}

export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  deps: RetryDeps,
): Promise<T> {
  const started = deps.now();
  for (let attempt = 1; ; attempt++) {
    deps.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      if (deps.signal?.aborted) throw cancelled(deps.signal, err.final);
      const delay = Math.min(
        deps.policy.maxDelayMs,
        err.retryAfterMs ?? backoffDelay(deps.policy, attempt, deps.random),
      );
      const elapsed = deps.now() - started;
      if (attempt >= deps.policy.maxAttempts || elapsed + delay > deps.policy.maxElapsedMs) {
        throw err.final;
      }
      deps.onRetry?.(err.final, attempt, delay);
      await deps.sleep(delay, deps.signal);
    }
  }
}

export function cancelled(signal: AbortSignal, cause?: unknown): StargzError {
  const reason: unknown = signal.reason;
  const timeout = reason instanceof DOMException && reason.name === "TimeoutError";
  return new StargzError(
    timeout ? "DEADLINE_EXCEEDED" : "CANCELLED",
    timeout ? "timed out" : "cancelled",
    {
      cause: cause ?? reason,
    },
  );
}
