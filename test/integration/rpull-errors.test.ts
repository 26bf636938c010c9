/**
 * `stargz image rpull` on bad input, against a real containerd and a real
 * registry behind bearer auth: each failure is one clear line naming the
 * image, layer or socket, exit code 1, and leaves no lease behind.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdir, writeFile } from "node:fs/promises";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { startTokenServer, type TestTokenServer } from "../support/token-server.ts";
import { makeSelfSigned } from "../support/tls.ts";
import { missingForIntegration } from "../support/gates.ts";
import { buildImage, tarArchive } from "../support/test-image.ts";
import { pushImage, stargz } from "../support/rpull-fixture.ts";
import { RegistryClient, staticKeychain } from "../../src/registry/index.ts";
import { ContainerdClient } from "../../src/containerd/index.ts";

const skip = missingForIntegration(["containerd", "ctr", "docker-registry", "openssl"]);
const password = "rpull-pass-7";

let tmp: TempDir;
let registry: TestRegistry;
let tokens: TestTokenServer;
let containerd: TestContainerd;
let cd: ContainerdClient;
let goodConfig: string;
let image: string;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  const signer = await makeSelfSigned(tmp.path, "signer");
  tokens = await startTokenServer({
    ...signer,
    service: "svc",
    issuer: "iss",
    users: { dave: password },
  });
  const dir = join(tmp.path, "registry");
  await mkdir(dir);
  registry = await startRegistry({
    dir,
    token: { realm: tokens.realm, service: "svc", issuer: "iss", rootCertBundle: signer.certFile },
  });
  containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  cd = new ContainerdClient({ address: containerd.address });
  goodConfig = join(tmp.path, "good.json");
  const auth = Buffer.from(`dave:${password}`).toString("base64");
  await writeFile(goodConfig, JSON.stringify({ auths: { [registry.host]: { auth } } }));
  image = `${registry.host}/team/app:v1`;
  const client = new RegistryClient({
    keychain: staticKeychain({ [registry.host]: { kind: "basic", username: "dave", password } }),
  });
  const img = buildImage([tarArchive([{ path: "a.txt", data: "a" }])]);
  await pushImage(client, img, image);
  await client.close();
});

after(async () => {
  if (skip) return;
  cd.close();
  await containerd.stop();
  await registry.stop();
  await tokens.stop();
  await tmp.remove();
});

function rpull(ref: string, extra: string[]): ReturnType<typeof stargz> {
  return stargz(["image", "rpull", "--plain-http", "--snapshotter", "overlayfs", ...extra, ref]);
}

test("an unreachable containerd socket is named in the error", { skip }, async () => {
  const socket = join(tmp.path, "nothing-here.sock");
  const res = await rpull(image, ["--address", socket]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, new RegExp(`cannot reach containerd at ${socket}.*\\[UNAVAILABLE\\]`));
});

test("a namespace containerd would refuse is rejected before any call", { skip }, async () => {
  const res = await rpull(image, ["--address", containerd.address, "--namespace", "no/slashes"]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /invalid containerd namespace "no\/slashes".*\[INVALID_ARGUMENT\]/);
});

test("an unknown image is NOT_FOUND and names the image", { skip }, async () => {
  const missing = `${registry.host}/team/app:nope`;
  const res = await rpull(missing, [
    "--address",
    containerd.address,
    "--docker-config",
    goodConfig,
  ]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /\[NOT_FOUND\]/);
  assert.ok(res.stderr.includes(`image=${missing}`), res.stderr);
  assert.deepEqual(await cd.leases.list(), [], "the lease is deleted after a failure");
});

test("wrong registry credentials fail UNAUTHENTICATED without echoing them", { skip }, async () => {
  const bad = join(tmp.path, "bad.json");
  const auth = Buffer.from("dave:not-the-password").toString("base64");
  await writeFile(bad, JSON.stringify({ auths: { [registry.host]: { auth } } }));
  const res = await rpull(image, ["--address", containerd.address, "--docker-config", bad]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /\[UNAUTHENTICATED\]/);
  assert.ok(res.stderr.includes(image), res.stderr);
  assert.doesNotMatch(res.stderr, /not-the-password/);
  assert.deepEqual(await cd.leases.list(), []);
});

test("with the right credentials the same image pulls", { skip }, async () => {
  const res = await rpull(image, ["--address", containerd.address, "--docker-config", goodConfig]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /"mode":"fallback"/);
});

test("a snapshotter containerd does not have is named in the error", { skip }, async () => {
  const res = await stargz([
    "image",
    "rpull",
    "--plain-http",
    "--address",
    containerd.address,
    "--docker-config",
    goodConfig,
    "--snapshotter",
    "no-such-snapshotter",
    image,
  ]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /snapshotter not loaded: no-such-snapshotter/);
  assert.match(res.stderr, /cannot unpack layer 1\/1 sha256:[a-f0-9]{64}/);
  assert.deepEqual(await cd.leases.list(), []);
});
