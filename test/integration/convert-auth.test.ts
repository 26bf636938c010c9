import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdir, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";
import { startTokenServer, type TestTokenServer } from "../support/token-server.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { makeSelfSigned } from "../support/tls.ts";
import { buildImage, tarArchive, type TestImage } from "../support/test-image.ts";
import { RegistryClient, parseReference, staticKeychain } from "../../src/registry/index.ts";

const skip = missingForIntegration(["docker-registry", "openssl"], false);
const cli = join(import.meta.dirname, "../../src/cli/main.ts");
const password = "conv-pass-42";

let tmp: TempDir;
let registry: TestRegistry;
let tokens: TestTokenServer;
let proxy: FaultProxy;
let configFile: string;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  const signer = await makeSelfSigned(tmp.path, "signer");
  tokens = await startTokenServer({
    ...signer,
    service: "svc",
    issuer: "iss",
    users: { carol: password },
  });
  const dir = join(tmp.path, "registry");
  await mkdir(dir);
  registry = await startRegistry({
    dir,
    token: { realm: tokens.realm, service: "svc", issuer: "iss", rootCertBundle: signer.certFile },
  });
  proxy = await startFaultProxy(registry.url);
  configFile = join(tmp.path, "config.json");
  const auth = Buffer.from(`carol:${password}`).toString("base64");
  await writeFile(configFile, JSON.stringify({ auths: { [proxy.host]: { auth } } }));
});

after(async () => {
  if (skip) return;
  await proxy.stop();
  await registry.stop();
  await tokens.stop();
  await tmp.remove();
});

function image(): TestImage {
  return buildImage([
    tarArchive([{ path: "a", data: randomBytes(200_000) }]),
    tarArchive([{ path: "b", data: randomBytes(200_000) }]),
    tarArchive([{ path: "c", data: "c" }]),
  ]);
}

test(
  "convert behind bearer auth survives a token the registry stops accepting mid-conversion",
  { skip },
  async () => {
    const client = new RegistryClient({
      keychain: staticKeychain({ [proxy.host]: { kind: "basic", username: "carol", password } }),
    });
    const src = parseReference(`${proxy.host}/team/app:v1`);
    const img = image();
    for (const b of [img.config, ...img.layers]) await client.pushBlob(src, b, b.bytes);
    await client.putManifest(src, img.manifest.mediaType, img.manifest.bytes);
    await client.close();

    // After a few authorized requests, the registry (through the proxy) rejects
    // the token as expired, once, the way distribution answers an expired JWT.
    let authorized = 0;
    let rejected = false;
    proxy.fault = (r) => {
      if (!r.headers.authorization || rejected) return undefined;
      if (++authorized < 6) return undefined;
      rejected = true;
      const challenge = `Bearer realm="${tokens.realm}",service="svc",scope="repository:team/app:pull",error="invalid_token"`;
      return { kind: "status", status: 401, headers: { "www-authenticate": challenge } };
    };
    const grantsBefore = tokens.grants.length;
    const { stdout, stderr } = await run(process.execPath, [
      cli,
      "image",
      "convert",
      "--plain-http",
      "--docker-config",
      configFile,
      "--log-level",
      "debug",
      `${proxy.host}/team/app:v1`,
      `${proxy.host}/team/app:esgz`,
    ]);
    assert.match(stdout.toString(), /^sha256:[a-f0-9]{64}\n$/);
    assert.ok(rejected, "the token was rejected mid-conversion");
    assert.ok(
      tokens.grants.length > grantsBefore + 1,
      "a fresh token was fetched after the rejection",
    );
    assert.doesNotMatch(stderr, new RegExp(password));
    assert.doesNotMatch(stderr, /eyJ/, "no JWT in the logs");
  },
);

test(
  "convert with wrong credentials fails UNAUTHENTICATED without echoing them",
  { skip },
  async () => {
    proxy.fault = () => undefined;
    const bad = join(tmp.path, "bad.json");
    const auth = Buffer.from("carol:wrong-secret-99").toString("base64");
    await writeFile(bad, JSON.stringify({ auths: { [proxy.host]: { auth } } }));
    const res = await run(process.execPath, [
      cli,
      "image",
      "convert",
      "--plain-http",
      "--docker-config",
      bad,
      `${proxy.host}/team/app:v1`,
      `${proxy.host}/team/app:x`,
    ]).then(
      () => ({ ok: true, message: "" }),
      (err: Error) => ({ ok: false, message: err.message }),
    );
    assert.equal(res.ok, false);
    assert.match(res.message, /UNAUTHENTICATED/);
    assert.doesNotMatch(res.message, /wrong-secret-99/);
    assert.doesNotMatch(res.message, new RegExp(auth));
  },
);
