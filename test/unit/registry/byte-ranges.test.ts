import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  mergeRanges,
  parseContentRange,
  parseMultipartByteranges,
  rangeHeader,
  sliceFromSpans,
} from "../../../src/registry/byte-ranges.ts";

test("merging: neighbours within the gap join, order and membership are kept", () => {
  const groups = mergeRanges(
    [
      { offset: 100, length: 10 },
      { offset: 0, length: 10 },
      { offset: 15, length: 5 },
      { offset: 1000, length: 1 },
    ],
    8,
  );
  assert.deepEqual(groups, [
    { offset: 0, length: 20, members: [1, 2] },
    { offset: 100, length: 10, members: [0] },
    { offset: 1000, length: 1, members: [3] },
  ]);
  assert.equal(rangeHeader(groups), "bytes=0-19,100-109,1000-1000");
});

test("property: every requested range is inside exactly one span and can be sliced out", () => {
  const range = fc.record({ offset: fc.nat(10_000), length: fc.integer({ min: 1, max: 500 }) });
  fc.assert(
    fc.property(fc.array(range, { minLength: 1, maxLength: 30 }), fc.nat(1000), (ranges, gap) => {
      const blob = Uint8Array.from({ length: 11_000 }, (_, i) => i % 251);
      const groups = mergeRanges(ranges, gap);
      for (let i = 1; i < groups.length; i++) {
        assert.ok(groups[i]!.offset > groups[i - 1]!.offset + groups[i - 1]!.length + gap);
      }
      assert.deepEqual(
        groups.flatMap((g) => g.members).sort((a, b) => a - b),
        ranges.map((_, i) => i),
      );
      const spans = groups.map((g) => ({
        offset: g.offset,
        data: blob.subarray(g.offset, g.offset + g.length),
      }));
      sliceFromSpans(ranges, spans).forEach((s, i) => {
        assert.deepEqual(
          s,
          blob.subarray(ranges[i]!.offset, ranges[i]!.offset + ranges[i]!.length),
        );
      });
    }),
  );
});

test("Content-Range and multipart/byteranges parsing", () => {
  assert.deepEqual(parseContentRange("bytes 10-19/100"), { start: 10, end: 19, total: 100 });
  assert.deepEqual(parseContentRange("bytes 0-0/*"), { start: 0, end: 0 });
  assert.equal(parseContentRange("bytes 9-1/100"), undefined);
  const body = Buffer.from(
    "\r\n--XB\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-3/20\r\n\r\nabcd" +
      "\r\n--XB\r\nContent-Range: bytes 10-11/20\r\n\r\n\r\n" + // the part's data is CRLF itself
      "\r\n--XB--\r\n",
  );
  const parts = parseMultipartByteranges(body, "multipart/byteranges; boundary=XB");
  assert.deepEqual(
    parts.map((p) => [p.range.start, Buffer.from(p.data).toString()]),
    [
      [0, "abcd"],
      [10, "\r\n"],
    ],
  );
  assert.throws(() => parseMultipartByteranges(body, "multipart/byteranges"), {
    code: "DATA_LOSS",
  });
  const short = Buffer.from("--XB\r\nContent-Range: bytes 0-99/200\r\n\r\nabc");
  assert.throws(
    () => parseMultipartByteranges(short, "multipart/byteranges; boundary=XB"),
    /shorter/,
  );
});
