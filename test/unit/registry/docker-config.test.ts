import { test } from "node:test";
import assert from "node:assert/strict";
import {
  kubernetesSecretKeychain,
  parseDockerConfig,
} from "../../../src/registry/docker-config.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("config.json: base64 auth, username/password, identity tokens, URL keys", () => {
  const creds = parseDockerConfig(
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hub:pa:ss") },
        "ghcr.io": { username: "u", password: "p" },
        "https://reg.example.com:5000/v2/": { auth: b64("x:y"), identitytoken: "refresh" },
        "empty.io": {},
      },
    }),
  );
  assert.deepEqual(creds.get("docker.io"), { kind: "basic", username: "hub", password: "pa:ss" });
  assert.deepEqual(creds.get("ghcr.io"), { kind: "basic", username: "u", password: "p" });
  assert.deepEqual(creds.get("reg.example.com:5000"), {
    kind: "identity-token",
    token: "refresh",
    username: "x",
  });
  assert.equal(creds.has("empty.io"), false);
});

test("Kubernetes dockerconfigjson and dockercfg secrets", async () => {
  const doc = JSON.stringify({ auths: { "r.io": { auth: b64("a:b") } } });
  const k = kubernetesSecretKeychain({
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(doc) },
  });
  assert.deepEqual(await k.credentials("r.io"), { kind: "basic", username: "a", password: "b" });
  const old = kubernetesSecretKeychain({
    data: { ".dockercfg": b64(JSON.stringify({ "r.io": { auth: b64("c:d") } })) },
  });
  assert.deepEqual(await old.credentials("r.io"), { kind: "basic", username: "c", password: "d" });
  assert.throws(
    () => kubernetesSecretKeychain({ metadata: { name: "s", namespace: "n" }, data: {} }),
    /n\/s/,
  );
});

test("parse errors never quote the secret", () => {
  const text = '{"auths": {"r.io": {"auth": "c2VjcmV0LXZhbHVl"}}, broken';
  assert.throws(
    () => parseDockerConfig(text),
    (err: Error) => {
      assert.doesNotMatch(err.message + String((err.cause as Error)?.message), /c2VjcmV0/);
      return true;
    },
  );
  assert.throws(
    () => parseDockerConfig(JSON.stringify({ auths: { "r.io": { auth: b64("nocolon") } } })),
    (err: Error) => {
      assert.doesNotMatch(err.message, /nocolon/);
      return true;
    },
  );
});
