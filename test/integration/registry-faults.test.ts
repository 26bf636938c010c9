import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { once } from "node:events";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { missingForIntegration } from "../support/gates.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { buildImage, digestOf, tarArchive, type TestImage } from "../support/test-image.ts";
import {
  RegistryClient,
  parseReference,
  staticKeychain,
  type RegistryClientOptions,
} from "../../src/registry/index.ts";
import { run } from "../support/process.ts";

const skip = missingForIntegration(["docker-registry", "htpasswd"], false);

let tmp: TempDir;
let registry: TestRegistry;
let proxy: FaultProxy;
const data = randomBytes(1_000_000);
const blob = { digest: digestOf(data), size: data.length };
let img: TestImage;
const repo = "faults/app";

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  proxy = await startFaultProxy(registry.url);
  const direct = new RegistryClient();
  const ref = parseReference(`${registry.host}/${repo}:v1`);
  img = buildImage([tarArchive([{ path: "x", data: "faulty" }])]);
  for (const b of [img.config, ...img.layers]) await direct.pushBlob(ref, b, b.bytes);
  await direct.putManifest(ref, img.manifest.mediaType, img.manifest.bytes);
  await direct.pushBlob(ref, blob, data);
  await direct.close();
});

after(async () => {
  if (skip) return;
  await proxy.stop();
  await registry.stop();
  await tmp.remove();
});

/** A client against the proxy, recording the backoff delays instead of sleeping. */
function client(extra: Partial<RegistryClientOptions> = {}): {
  c: RegistryClient;
  sleeps: number[];
} {
  const sleeps: number[] = [];
  const c = new RegistryClient({
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
  return { c, sleeps };
}

const viaProxy = () => parseReference(`${proxy.host}/${repo}:v1`);
const isBlobGet = (r: { method: string; url: string }) =>
  r.method === "GET" && r.url.includes("/blobs/");

test(
  "the Go registry answers several ranges in one multipart/byteranges response",
  { skip },
  async () => {
    const { c } = client();
    const start = proxy.seen.length;
    try {
      const ranges = [
        { offset: 100, length: 10 },
        { offset: 300_000, length: 10 },
        { offset: 600_000, length: 10 },
      ];
      const parts = await c.readRanges(viaProxy(), blob, ranges);
      parts.forEach((p, i) =>
        assert.deepEqual(Buffer.from(p), data.subarray(ranges[i]!.offset, ranges[i]!.offset + 10)),
      );
      const gets = proxy.seen.slice(start).filter(isBlobGet);
      assert.equal(gets.length, 1);
      assert.equal(gets[0]?.headers.range, "bytes=100-109,300000-300009,600000-600009");
    } finally {
      await c.close();
    }
  },
);

test(
  "a server that ignores Range: range reads and resumes still return the right bytes",
  { skip },
  async () => {
    const { c } = client();
    proxy.fault = () => ({ kind: "ignore-range" });
    try {
      const ranges = [
        { offset: 10, length: 100 },
        { offset: 500_000, length: 4096 },
        { offset: 999_000, length: 1000 },
      ];
      const parts = await c.readRanges(viaProxy(), blob, ranges);
      parts.forEach((p, i) =>
        assert.deepEqual(
          Buffer.from(p),
          data.subarray(ranges[i]!.offset, ranges[i]!.offset + ranges[i]!.length),
        ),
      );
      const again = await c.readRanges(viaProxy(), blob, [{ offset: 7, length: 9 }]);
      assert.deepEqual(Buffer.from(again[0]!), data.subarray(7, 16));
    } finally {
      proxy.fault = () => undefined;
      await c.close();
    }
  },
);

test(
  "a server that serves only the first of several ranges: the rest are fetched alone",
  { skip },
  async () => {
    const { c } = client();
    proxy.fault = () => ({ kind: "first-range-only" });
    const start = proxy.seen.length;
    try {
      const ranges = [
        { offset: 0, length: 10 },
        { offset: 400_000, length: 10 },
        { offset: 900_000, length: 10 },
      ];
      const parts = await c.readRanges(viaProxy(), blob, ranges);
      parts.forEach((p, i) =>
        assert.deepEqual(Buffer.from(p), data.subarray(ranges[i]!.offset, ranges[i]!.offset + 10)),
      );
      // Now known: the next multi-range read goes out as single ranges.
      await c.readRanges(viaProxy(), blob, ranges);
      const laterRanges = proxy.seen.slice(start + 3).map((r) => String(r.headers.range));
      assert.ok(
        laterRanges.every((r) => !r.includes(",")),
        laterRanges.join(" | "),
      );
    } finally {
      proxy.fault = () => undefined;
      await c.close();
    }
  },
);

test("a connection reset mid-body is resumed with a Range request", { skip }, async () => {
  const { c, sleeps } = client();
  let resets = 0;
  proxy.fault = (r) => (isBlobGet(r) && resets++ < 2 ? { kind: "reset-mid-body" } : undefined);
  const start = proxy.seen.length;
  try {
    assert.deepEqual(Buffer.from(await c.fetchBlob(viaProxy(), blob)), data);
    const ranges = proxy.seen.slice(start).map((r) => r.headers.range);
    assert.equal(ranges[0], undefined);
    assert.match(String(ranges[1]), /^bytes=\d+-$/);
    assert.equal(sleeps.length, 2);
  } finally {
    proxy.fault = () => undefined;
    await c.close();
  }
});

test(
  "503 then 200: retried after Retry-After; always 503: bounded attempts",
  { skip },
  async () => {
    const { c, sleeps } = client();
    let n = 0;
    proxy.fault = () => (n++ < 2 ? { kind: "status", status: 503, retryAfterSec: 1 } : undefined);
    try {
      assert.equal((await c.getManifest(viaProxy())).descriptor.digest, img.manifest.digest);
      assert.deepEqual(sleeps, [1000, 1000]);
      proxy.fault = () => ({ kind: "status", status: 503 });
      sleeps.length = 0;
      await assert.rejects(c.getManifest(viaProxy()), (err: Error & { code?: string }) => {
        assert.equal(err.code, "UNAVAILABLE");
        assert.match(err.message, /503/);
        assert.match(err.message, new RegExp(proxy.host));
        return true;
      });
      assert.equal(sleeps.length, 4, "5 attempts, 4 backoffs");
      assert.ok(
        sleeps.every((ms, i) => ms === Math.floor(0.5 * 200 * 2 ** i)),
        sleeps.join(","),
      );
    } finally {
      proxy.fault = () => undefined;
      await c.close();
    }
  },
);

test("elapsed-time bound stops retrying before the attempt bound", { skip }, async () => {
  let clock = 0;
  const { c, sleeps } = client({
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
      sleeps.push(ms);
    },
    retry: { maxAttempts: 100, maxElapsedMs: 1000, baseDelayMs: 300, maxDelayMs: 300 },
    random: () => 1,
  });
  proxy.fault = () => ({ kind: "status", status: 502 });
  try {
    await assert.rejects(c.getManifest(viaProxy()), { code: "UNAVAILABLE" });
    assert.deepEqual(sleeps, [300, 300, 300]);
  } finally {
    proxy.fault = () => undefined;
    await c.close();
  }
});

test(
  "Content-Length lies: a clear error naming blob and registry, after bounded retries",
  { skip },
  async () => {
    const { c } = client();
    proxy.fault = (r) => (isBlobGet(r) ? { kind: "content-length-lie", extra: 1000 } : undefined);
    try {
      await assert.rejects(c.fetchBlob(viaProxy(), blob), (err: Error & { code?: string }) => {
        assert.match(String(err.code), /DATA_LOSS|UNAVAILABLE/);
        assert.match(err.message, new RegExp(blob.digest));
        assert.match(err.message, new RegExp(proxy.host));
        return true;
      });
    } finally {
      proxy.fault = () => undefined;
      await c.close();
    }
  },
);

test("corrupted content is DATA_LOSS: manifest by digest and blob", { skip }, async () => {
  const { c } = client();
  proxy.fault = (r) => (r.method === "GET" ? { kind: "corrupt" } : undefined);
  try {
    await assert.rejects(
      c.getManifest({ ...viaProxy(), tag: undefined, digest: img.manifest.digest }),
      { code: "DATA_LOSS" },
    );
    await assert.rejects(
      c.getManifest(viaProxy()),
      { code: "DATA_LOSS" },
      "tag: Docker-Content-Digest disagrees",
    );
    await assert.rejects(c.fetchBlob(viaProxy(), blob), { code: "DATA_LOSS" });
  } finally {
    proxy.fault = () => undefined;
    await c.close();
  }
});

test("redirects are followed, and credentials never go to another host", { skip }, async () => {
  const dir = join(tmp.path, "redirect");
  await mkdir(dir, { recursive: true });
  const htpasswd = join(dir, "htpasswd");
  await run("htpasswd", ["-Bbc", htpasswd, "bob", "pw-123456"]);
  const authed = await startRegistry({ dir, htpasswdFile: htpasswd });
  const keychain = staticKeychain({
    [authed.host]: { kind: "basic", username: "bob", password: "pw-123456" },
  });
  const seenAuth: (string | undefined)[] = [];
  const storage = createServer((req, res) => {
    seenAuth.push(req.headers.authorization);
    const range = /bytes=(\d+)-(\d+)?/.exec(req.headers.range ?? "");
    if (range) {
      const end = range[2] ? Number(range[2]) : data.length - 1;
      res.writeHead(206, { "content-range": `bytes ${range[1]}-${end}/${data.length}` });
      res.end(data.subarray(Number(range[1]), end + 1));
    } else res.end(data);
  });
  storage.listen(0, "127.0.0.1");
  await once(storage, "listening");
  const port = (storage.address() as { port: number }).port;
  const front = await startFaultProxy(authed.url);
  front.fault = (r) =>
    isBlobGet(r) && r.headers.authorization
      ? { kind: "redirect", location: `http://127.0.0.1:${port}/storage/blob?sig=abc` }
      : undefined;
  const { c } = client({
    keychain: staticKeychain({
      [front.host]: { kind: "basic", username: "bob", password: "pw-123456" },
    }),
  });
  try {
    const up = new RegistryClient({ keychain });
    await up.pushBlob(parseReference(`${authed.host}/r/app:v1`), blob, data);
    await up.close();
    const ref = parseReference(`${front.host}/r/app:v1`);
    assert.deepEqual(Buffer.from(await c.fetchBlob(ref, blob)), data);
    const [part] = await c.readRanges(ref, blob, [{ offset: 5, length: 5 }]);
    assert.deepEqual(Buffer.from(part!), data.subarray(5, 10));
    assert.ok(seenAuth.length >= 2);
    assert.ok(
      seenAuth.every((a) => a === undefined),
      "no Authorization header at the other host",
    );
    assert.ok(
      front.seen.some((r) => r.headers.authorization?.startsWith("Basic ")),
      "the registry itself got credentials",
    );
  } finally {
    await c.close();
    await front.stop();
    storage.close();
    await authed.stop();
  }
});

test("mirrors are tried in order, with their headers, before the origin", { skip }, async () => {
  const broken = await startFaultProxy(registry.url);
  broken.fault = () => ({ kind: "status", status: 404 });
  const good = await startFaultProxy(registry.url);
  const origin = await startFaultProxy(registry.url);
  const hosts = {
    hosts: {
      [origin.host]: {
        mirrors: [
          { host: broken.host, insecure: true },
          { host: good.host, insecure: true, headers: { "x-mirror": ["yes"] } },
        ],
      },
    },
  };
  const { c } = client({ hosts });
  try {
    const ref = parseReference(`${origin.host}/${repo}:v1`);
    assert.equal((await c.getManifest(ref)).descriptor.digest, img.manifest.digest);
    assert.deepEqual(Buffer.from(await c.fetchBlob(ref, blob)), data);
    assert.equal(broken.seen.length, 2);
    assert.equal(good.seen.length, 2);
    assert.ok(good.seen.every((r) => r.headers["x-mirror"] === "yes"));
    assert.equal(origin.seen.length, 0);
    good.fault = () => ({ kind: "status", status: 404 });
    assert.equal((await c.getManifest(ref)).descriptor.digest, img.manifest.digest);
    assert.equal(origin.seen.length, 1);
  } finally {
    await c.close();
    await Promise.all([broken.stop(), good.stop(), origin.stop()]);
  }
});

test(
  "an abort signal ends a hanging request promptly; request timeouts bound a silent server",
  { skip },
  async () => {
    proxy.fault = () => ({ kind: "hang" });
    const { c } = client();
    const timed = client({
      hosts: { hosts: { [proxy.host]: { mirrors: [], origin: { requestTimeoutSec: 1 } } } },
      retry: { maxAttempts: 2 },
    });
    try {
      const started = Date.now();
      await assert.rejects(
        c.getManifest(viaProxy(), { signal: AbortSignal.timeout(300) }),
        (err: Error & { code?: string }) => {
          assert.match(String(err.code), /CANCELLED|DEADLINE_EXCEEDED/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 2000);
      const t0 = Date.now();
      await assert.rejects(timed.c.getManifest(viaProxy()), { code: "UNAVAILABLE" });
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      proxy.fault = () => undefined;
      await c.close();
      await timed.c.close();
    }
  },
);
