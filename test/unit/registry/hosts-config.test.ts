import { test } from "node:test";
import assert from "node:assert/strict";
import { endpointsFor, parseHostsToml } from "../../../src/registry/hosts-config.ts";

test("the Go snapshotter's resolver TOML is read as is", () => {
  const config = parseHostsToml(`
[resolver]
request_timeout_sec = 20
[[resolver.host."docker.io".mirrors]]
host = "mirror.example.com:5000"
insecure = true
request_timeout_sec = 10
header = { "X-Token" = "abc", "X-Multi" = ["a", "b"] }
[[resolver.host."docker.io".mirrors]]
host = "second.example.com"
request_timeout_sec = -1
`);
  const eps = endpointsFor(config, "docker.io");
  assert.deepEqual(
    eps.map((e) => [e.origin, e.basePath, e.isMirror, e.timeoutMs]),
    [
      ["http://mirror.example.com:5000", "/v2", true, 10_000],
      ["https://second.example.com", "/v2", true, undefined],
      ["https://registry-1.docker.io", "/v2", false, 20_000],
    ],
  );
  assert.deepEqual(eps[0]?.headers, { "X-Token": ["abc"], "X-Multi": ["a", "b"] });
  assert.equal(eps[2]?.registry, "docker.io");
});

test("our keys: origin settings, CA file, skip_verify, plain_http; localhost defaults to http", () => {
  const config = parseHostsToml(`
[host."reg.local:443"]
ca_file = "/etc/ca.pem"
[host."127.0.0.1:5000"]
plain_http = false
skip_verify = true
[[host."reg.local:443".mirrors]]
host = "https://m.local/prefix"
`);
  const [mirror, origin] = endpointsFor(config, "reg.local:443");
  assert.equal(mirror?.origin, "https://m.local");
  assert.equal(mirror?.basePath, "/prefix/v2");
  assert.equal(origin?.caFile, "/etc/ca.pem");
  assert.equal(origin?.timeoutMs, 30_000);
  assert.equal(endpointsFor(config, "127.0.0.1:5000")[0]?.origin, "https://127.0.0.1:5000");
  assert.equal(endpointsFor(config, "localhost:5000")[0]?.origin, "http://localhost:5000");
  assert.equal(endpointsFor(config, "example.com")[0]?.origin, "https://example.com");
});

test("bad hosts config is INVALID_ARGUMENT with the path of the bad key", () => {
  assert.throws(
    () => parseHostsToml('[[resolver.host."a".mirrors]]\ninsecure = true'),
    /needs a host/,
  );
  assert.throws(
    () => parseHostsToml('[[resolver.host."a".mirrors]]\nhost = "m"\ninsecure = "yes"'),
    /insecure must be a boolean/,
  );
  assert.throws(
    () => parseHostsToml('[[resolver.host."a".mirrors]]\nhost = "m"\nheader = { x = 1 }'),
    /header/,
  );
  assert.throws(() => parseHostsToml("not toml ["), { code: "INVALID_ARGUMENT" });
});
