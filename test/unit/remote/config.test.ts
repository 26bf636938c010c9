import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, parseConfig } from "../../../src/agent/config/config.ts";

test("lazy-pulling keys default as in the Go snapshotter", () => {
  assert.equal(defaultConfig.prefetchTimeoutSec, 10);
  assert.equal(defaultConfig.noPrefetch, false);
  assert.equal(defaultConfig.noBackgroundFetch, false);
  assert.equal(defaultConfig.disableVerification, false);
  assert.deepEqual(defaultConfig.blob, {
    validIntervalSec: 60,
    checkAlways: false,
    fetchingTimeoutSec: 300,
    maxRetries: 5,
  });
  assert.deepEqual(defaultConfig.fuse, { attrTimeoutSec: 1, entryTimeoutSec: 1 });
});

test("Go keys are read with their meaning", () => {
  const c = parseConfig(`
prefetch_timeout_sec = 3
noprefetch = true
no_background_fetch = true
disable_verification = true
metrics_address = "127.0.0.1:9100"
[blob]
valid_interval = 5
fetching_timeout_sec = 20
max_retries = 2
check_always = true
[fuse]
attr_timeout = 7
entry_timeout = 8
[cache]
memory_max_bytes = 1048576
disk_max_bytes = 0
[resolver]
request_timeout_sec = 12
[[resolver.host."docker.io".mirrors]]
host = "127.0.0.1:5000"
insecure = true
request_timeout_sec = 4
header = { "X-A" = "b" }
`);
  assert.equal(c.prefetchTimeoutSec, 3);
  assert.equal(c.noPrefetch, true);
  assert.equal(c.noBackgroundFetch, true);
  assert.equal(c.disableVerification, true);
  assert.equal(c.metricsAddress, "127.0.0.1:9100");
  assert.deepEqual(c.blob, {
    validIntervalSec: 5,
    fetchingTimeoutSec: 20,
    maxRetries: 2,
    checkAlways: true,
  });
  assert.deepEqual(c.fuse, { attrTimeoutSec: 7, entryTimeoutSec: 8 });
  assert.deepEqual(c.cache, { memoryMaxBytes: 1048576, diskMaxBytes: 0 });
  assert.equal(c.resolver.requestTimeoutSec, 12);
  const mirror = c.resolver.hosts["docker.io"]?.mirrors[0];
  assert.equal(mirror?.host, "127.0.0.1:5000");
  assert.equal(mirror?.insecure, true);
  assert.equal(mirror?.requestTimeoutSec, 4);
  assert.deepEqual(mirror?.headers, { "X-A": ["b"] });
});

test("bad values stop with the key's name and the reason", () => {
  assert.throws(() => parseConfig("prefetch_timeout_sec = -1"), /"prefetch_timeout_sec" must be/);
  assert.throws(() => parseConfig("prefetch_timeout_sec = 0"), /"prefetch_timeout_sec" must be/);
  assert.throws(() => parseConfig('noprefetch = "yes"'), /"noprefetch" must be a boolean/);
  assert.throws(() => parseConfig("[blob]\nvalid_interval = 1.5"), /"blob.valid_interval" must be/);
  assert.throws(() => parseConfig("[blob]\nmax_retries = -2"), /"blob.max_retries" must be/);
  assert.throws(() => parseConfig("[fuse]\nattr_timeout = true"), /"fuse.attr_timeout" must be/);
  assert.throws(() => parseConfig("[fuse]\nnegative_timeout = 1"), /"fuse.negative_timeout"/);
  assert.throws(() => parseConfig("[cache]\ndisk_max_bytes = -1"), /"cache.disk_max_bytes"/);
  assert.throws(() => parseConfig('metrics_address = "nope"'), /"metrics_address" must be/);
  assert.throws(
    () => parseConfig('[[resolver.host."x".mirrors]]\nhost = "m"\ninsecure = "yes"'),
    /resolver.*host."x".mirrors\[0\].insecure must be a boolean/,
  );
  assert.throws(() => parseConfig("resolver = 3"), /"resolver" must be a table/);
});
