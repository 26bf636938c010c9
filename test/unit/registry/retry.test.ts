import { test } from "node:test";
import assert from "node:assert/strict";
import {
  backoffDelay,
  RetryableError,
  withRetries,
  defaultRetryPolicy,
} from "../../../src/registry/retry.ts";
import { StargzError } from "../../../src/util/errors.ts";

const fail = (ms?: number) => new RetryableError(new StargzError("UNAVAILABLE", "down"), ms);

test("exponential backoff with full jitter, capped", () => {
  const p = { ...defaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(p, a, () => 0.999)),
    [99, 199, 399, 799, 999, 999],
  );
  assert.equal(
    backoffDelay(p, 3, () => 0),
    0,
  );
});

test("retries until success, sleeping the injected way; non-retryable errors pass straight through", async () => {
  const sleeps: number[] = [];
  const deps = {
    policy: defaultRetryPolicy,
    sleep: async (ms: number) => void sleeps.push(ms),
    random: () => 0.5,
    now: () => 0,
  };
  let n = 0;
  assert.equal(
    await withRetries(async () => (++n < 3 ? Promise.reject(fail()) : "ok"), deps),
    "ok",
  );
  assert.deepEqual(sleeps, [100, 200]);
  const final = new StargzError("NOT_FOUND", "gone");
  await assert.rejects(
    withRetries(async () => Promise.reject(final), deps),
    (e) => e === final,
  );
  await assert.rejects(
    withRetries(async () => Promise.reject(fail(0)), deps),
    { code: "UNAVAILABLE", message: "down" },
  );
});

test("an aborted signal stops the loop as CANCELLED", async () => {
  const ac = new AbortController();
  const deps = {
    policy: defaultRetryPolicy,
    sleep: async () => ac.abort(),
    random: () => 0,
    now: () => 0,
    signal: ac.signal,
  };
  await assert.rejects(
    withRetries(async () => Promise.reject(fail()), deps),
    (err: Error & { code?: string }) => {
      assert.ok(err.code === "CANCELLED" || err.name === "AbortError");
      return true;
    },
  );
});
