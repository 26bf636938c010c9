import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mergeSpans, sliceFetched, SpanSet, toByteRanges } from "../../../src/agent/fs/ranges.ts";

describe("mergeSpans", () => {
  test("sorts, merges overlapping and adjacent spans, drops empty ones", () => {
    const spans = [
      { start: 50, end: 60 },
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 15, end: 18 },
      { start: 30, end: 30 },
    ];
    assert.deepEqual(mergeSpans(spans), [
      { start: 0, end: 20 },
      { start: 50, end: 60 },
    ]);
  });

  test("merges across gaps up to maxGap", () => {
    const spans = [
      { start: 0, end: 10 },
      { start: 14, end: 20 },
      { start: 30, end: 40 },
    ];
    assert.deepEqual(mergeSpans(spans, 4), [
      { start: 0, end: 20 },
      { start: 30, end: 40 },
    ]);
    assert.deepEqual(mergeSpans(spans, Infinity), [{ start: 0, end: 40 }]);
  });

  test("keeps merged spans within maxLength", () => {
    const spans = [
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 20, end: 30 },
    ];
    assert.deepEqual(mergeSpans(spans, 0, 20), [
      { start: 0, end: 20 },
      { start: 20, end: 30 },
    ]);
  });

  test("does not modify its input", () => {
    const spans = [
      { start: 0, end: 10 },
      { start: 5, end: 15 },
    ];
    mergeSpans(spans);
    assert.deepEqual(spans[0], { start: 0, end: 10 });
  });
});

test("toByteRanges and sliceFetched cut requested parts out of merged fetches", () => {
  const fetched = [
    { start: 100, end: 110 },
    { start: 200, end: 204 },
  ];
  assert.deepEqual(toByteRanges(fetched), [
    { offset: 100, length: 10 },
    { offset: 200, length: 4 },
  ]);
  const buffers = [Buffer.from("0123456789"), Buffer.from("abcd")];
  assert.equal(sliceFetched(fetched, buffers, { start: 103, end: 106 }).toString(), "345");
  assert.equal(sliceFetched(fetched, buffers, { start: 201, end: 204 }).toString(), "bcd");
  assert.throws(() => sliceFetched(fetched, buffers, { start: 108, end: 112 }), /not fetched/);
});

test("SpanSet tracks the union, coverage and what is missing", () => {
  const set = new SpanSet();
  set.add({ start: 10, end: 20 });
  set.add({ start: 15, end: 30 });
  set.add({ start: 40, end: 50 });
  assert.equal(set.total, 30);
  assert.equal(set.covers({ start: 12, end: 30 }), true);
  assert.equal(set.covers({ start: 25, end: 45 }), false);
  assert.deepEqual(set.missing({ start: 0, end: 60 }), [
    { start: 0, end: 10 },
    { start: 30, end: 40 },
    { start: 50, end: 60 },
  ]);
  assert.deepEqual(set.missing({ start: 12, end: 18 }), []);
});
