import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdir, writeFile } from "node:fs/promises";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry } from "../support/registry.ts";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";
import { startTokenServer } from "../support/token-server.ts";
import { makeSelfSigned, makeTestCerts } from "../support/tls.ts";
import { buildImage, tarArchive, type TestImage } from "../support/test-image.ts";
import { createLogger } from "../../src/util/log.ts";
import {
  RegistryClient,
  dockerConfigFileKeychain,
  parseReference,
  staticKeychain,
  type ImageReference,
} from "../../src/registry/index.ts";

const skip = missingForIntegration(["docker-registry", "htpasswd", "openssl"], false);
const password = "s3cret-Passw0rd";

let tmp: TempDir;
before(async () => {
  tmp = await makeTempDir();
});
after(async () => {
  await tmp?.remove();
});

function image(): TestImage {
  return buildImage([tarArchive([{ path: "f.txt", data: "auth test" }])]);
}

async function pushAndPull(
  client: RegistryClient,
  ref: ImageReference,
  img: TestImage,
): Promise<void> {
  for (const b of [img.config, ...img.layers]) await client.pushBlob(ref, b, b.bytes);
  await client.putManifest(ref, img.manifest.mediaType, img.manifest.bytes);
  const got = await client.getManifest(ref);
  assert.equal(got.descriptor.digest, img.manifest.digest);
  assert.deepEqual(Buffer.from(await client.fetchBlob(ref, img.layers[0]!)), img.layers[0]!.bytes);
}

function capturingLogger(lines: string[]): ReturnType<typeof createLogger> {
  return createLogger({ level: "debug", write: (l) => lines.push(l) });
}

test(
  "htpasswd basic auth: anonymous refused, credentials from config.json accepted",
  { skip },
  async () => {
    const dir = join(tmp.path, "basic");
    await mkdir(dir, { recursive: true });
    const htpasswd = join(dir, "htpasswd");
    await run("htpasswd", ["-Bbc", htpasswd, "alice", password]);
    const registry = await startRegistry({ dir, htpasswdFile: htpasswd });
    const logs: string[] = [];
    const anon = new RegistryClient({ sleep: async () => {} });
    const configFile = join(dir, "config.json");
    const auth = Buffer.from(`alice:${password}`).toString("base64");
    await writeFile(
      configFile,
      JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }),
    );
    const client = new RegistryClient({
      keychain: dockerConfigFileKeychain(configFile),
      logger: capturingLogger(logs),
      sleep: async () => {},
    });
    const wrong = new RegistryClient({
      keychain: staticKeychain({
        [registry.host]: { kind: "basic", username: "alice", password: "nope-wrong" },
      }),
    });
    try {
      const ref = parseReference(`${registry.host}/private/app:v1`);
      await assert.rejects(anon.getManifest(ref), { code: "UNAUTHENTICATED" });
      await pushAndPull(client, ref, image());
      await assert.rejects(wrong.getManifest(ref), (err: Error & { code?: string }) => {
        assert.equal(err.code, "UNAUTHENTICATED");
        assert.doesNotMatch(err.message, /nope-wrong/);
        return true;
      });
      const all = logs.join("");
      assert.doesNotMatch(all, new RegExp(password));
      assert.doesNotMatch(all, new RegExp(auth));
    } finally {
      await Promise.all([anon.close(), client.close(), wrong.close()]);
      await registry.stop();
    }
  },
);

async function tokenRegistry(
  name: string,
  opts: { validitySec?: number; claimedExpiresInSec?: number } = {},
) {
  const dir = join(tmp.path, name);
  await mkdir(dir, { recursive: true });
  const signer = await makeSelfSigned(dir, "token-signer");
  const service = "test-registry";
  const issuer = "test-issuer";
  const tokens = await startTokenServer({
    ...signer,
    service,
    issuer,
    users: { alice: password },
    refreshTokens: { "refresh-xyz": "alice" },
    allowAnonymousPull: true,
    ...opts,
  });
  const registry = await startRegistry({
    dir,
    token: { realm: tokens.realm, service, issuer, rootCertBundle: signer.certFile },
  });
  return {
    registry,
    tokens,
    stop: async () => {
      await registry.stop();
      await tokens.stop();
    },
  };
}

test(
  "bearer flow: token per scope, cached, basic and identity-token credentials",
  { skip },
  async () => {
    const { registry, tokens, stop } = await tokenRegistry("bearer");
    const logs: string[] = [];
    const client = new RegistryClient({
      keychain: staticKeychain({ [registry.host]: { kind: "basic", username: "alice", password } }),
      logger: capturingLogger(logs),
      sleep: async () => {},
    });
    const refreshing = new RegistryClient({
      keychain: staticKeychain({
        [registry.host]: { kind: "identity-token", token: "refresh-xyz" },
      }),
    });
    const anon = new RegistryClient({ sleep: async () => {} });
    try {
      const ref = parseReference(`${registry.host}/team/app:v1`);
      const img = image();
      await pushAndPull(client, ref, img);
      const pushGrants = tokens.grants.filter((g) =>
        g.scopes.includes("repository:team/app:pull,push"),
      );
      assert.equal(pushGrants.length, 1, "one token serves every push request");
      assert.equal(pushGrants[0]?.user, "alice");
      // Anonymous pull is allowed, anonymous push is not.
      assert.equal((await anon.getManifest(ref)).descriptor.digest, img.manifest.digest);
      const other = parseReference(`${registry.host}/team/other:v1`);
      await assert.rejects(
        anon.pushBlob(other, img.layers[0]!, img.layers[0]!.bytes),
        (err: Error & { code?: string }) => {
          assert.match(String(err.code), /UNAUTHENTICATED|PERMISSION_DENIED/);
          return true;
        },
      );
      // A refresh token goes through the OAuth POST endpoint.
      await pushAndPull(refreshing, parseReference(`${registry.host}/team/refreshed:v1`), img);
      assert.ok(tokens.grants.some((g) => g.method === "POST" && g.user === "alice"));
      assert.doesNotMatch(logs.join(""), new RegExp(password));
    } finally {
      await Promise.all([client.close(), refreshing.close(), anon.close()]);
      await stop();
    }
  },
);

test(
  "a token that expires before its claimed lifetime is renewed on the 401",
  { skip },
  async () => {
    // The JWT is valid ~2 s but the answer claims an hour: the client caches it
    // and only learns from the registry's 401.
    const { registry, tokens, stop } = await tokenRegistry("expiry", {
      validitySec: 2,
      claimedExpiresInSec: 3600,
    });
    const client = new RegistryClient({
      keychain: staticKeychain({ [registry.host]: { kind: "basic", username: "alice", password } }),
    });
    try {
      const ref = parseReference(`${registry.host}/team/expiring:v1`);
      const img = image();
      await pushAndPull(client, ref, img);
      const before = tokens.grants.length;
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(Buffer.from(await client.fetchBlob(ref, img.config)), img.config.bytes);
      assert.ok(tokens.grants.length > before, "a new token was fetched");
    } finally {
      await client.close();
      await stop();
    }
  },
);

test(
  "TLS: a CA file from the hosts config is trusted; without it the handshake fails fast",
  { skip },
  async () => {
    const dir = join(tmp.path, "tls");
    await mkdir(dir, { recursive: true });
    const certs = await makeTestCerts(dir);
    const registry = await startRegistry({
      dir,
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    });
    const hostsWith = (origin: object) => ({ hosts: { [registry.host]: { mirrors: [], origin } } });
    const trusted = new RegistryClient({ hosts: hostsWith({ caFile: certs.caFile }) });
    const untrusted = new RegistryClient({
      hosts: hostsWith({ plainHttp: false }),
      sleep: async () => {},
    });
    const skipping = new RegistryClient({ hosts: hostsWith({ skipVerify: true }) });
    try {
      const ref = parseReference(`${registry.host}/secure/app:v1`);
      const img = image();
      await pushAndPull(trusted, ref, img);
      await assert.rejects(untrusted.getManifest(ref), (err: Error & { code?: string }) => {
        assert.equal(err.code, "UNAVAILABLE");
        assert.match(err.message, /certificate|self.signed|issuer/i);
        return true;
      });
      assert.equal((await skipping.getManifest(ref)).descriptor.digest, img.manifest.digest);
    } finally {
      await Promise.all([trusted.close(), untrusted.close(), skipping.close()]);
      await registry.stop();
    }
  },
);
