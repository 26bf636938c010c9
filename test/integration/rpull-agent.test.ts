/**
 * `stargz image rpull` with our stargz-agent as containerd's proxy
 * snapshotter "stargz". The agent mounts every eStargz layer remotely: the
 * image must come out complete and runnable with `ctr run --snapshotter
 * stargz`, the agent's snapshots must carry the remote labels, and a second
 * pull must be a no-op. (Fallbacks through the agent: test/e2e/lazy-pull.test.ts.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { startAgent, type TestAgent } from "../support/agent.ts";
import { missingForIntegration } from "../support/gates.ts";
import { unmountUnder } from "../support/mounts.ts";
import {
  busyboxImage,
  hasBusybox,
  parseJsonLines,
  pushImage,
  stargz,
} from "../support/rpull-fixture.ts";
import { RegistryClient, parseReference, type ImageManifest } from "../../src/registry/index.ts";
import { ContainerdClient } from "../../src/containerd/index.ts";

const skip =
  missingForIntegration(["containerd", "ctr", "runc", "docker-registry"]) ??
  (hasBusybox() ? undefined : "needs /bin/busybox (busybox-static)");

let tmp: TempDir;
let registry: TestRegistry;
let agent: TestAgent;
let containerd: TestContainerd;
let client: RegistryClient;
let cd: ContainerdClient;
let esgzRef: string;
let manifest: ImageManifest;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  agent = await startAgent({ dir: join(tmp.path, "agent") });
  containerd = await startContainerd({
    dir: join(tmp.path, "containerd"),
    proxySnapshotters: { stargz: agent.socket },
  });
  client = new RegistryClient();
  cd = new ContainerdClient({ address: containerd.address });
  const legacyRef = `${registry.host}/test/agent:v1`;
  esgzRef = `${registry.host}/test/agent:v1-esgz`;
  await pushImage(client, await busyboxImage("hello through the agent\n"), legacyRef);
  const conv = await stargz([
    "image",
    "convert",
    "--plain-http",
    "--progress",
    "plain",
    legacyRef,
    esgzRef,
  ]);
  assert.equal(conv.code, 0, conv.stderr);
  manifest = (await client.getManifest(parseReference(esgzRef))).manifest!;
});

after(async () => {
  if (skip) return;
  cd.close();
  await client.close();
  await containerd.stop();
  await agent.stop();
  await registry.stop();
  await unmountUnder(tmp.path);
  await tmp.remove();
});

test(
  "rpull through the agent mounts every layer remotely and the image runs on it",
  { skip },
  async () => {
    const res = await stargz([
      "image",
      "rpull",
      "--address",
      containerd.address,
      "--plain-http",
      esgzRef,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const lines = parseJsonLines(res.stdout);
    assert.deepEqual(
      lines.slice(0, 2).map((l) => [l.layer, l.mode]),
      manifest.layers.map((l) => [l.digest, "remote"]),
    );
    const chainId = String(lines[2]!.chainId);
    const top = await cd.snapshots("stargz").stat(chainId);
    assert.equal(top.kind, "COMMITTED");
    assert.equal(top.labels["containerd.io/snapshot/remote/stargz.reference"], esgzRef);
    assert.equal(
      top.labels["containerd.io/snapshot/stargz/toc.digest"],
      manifest.layers[1]!.annotations?.["containerd.io/snapshot/stargz/toc.digest"],
    );
    const cInfo = await cd.content.info(manifest.config.digest);
    assert.equal(cInfo.labels["containerd.io/gc.ref.snapshot.stargz"], chainId);
    assert.deepEqual(await cd.leases.list(), []);
    const out = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "stargz",
      esgzRef,
      "agent-run-1",
    ]);
    assert.equal(out, "hello through the agent\n");
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "stargz", "ls"]);
    assert.doesNotMatch(snaps, /extract-/);
  },
);

test("a second rpull through the agent is a no-op and the image still runs", { skip }, async () => {
  const res = await stargz([
    "image",
    "rpull",
    "--address",
    containerd.address,
    "--plain-http",
    esgzRef,
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(
    parseJsonLines(res.stdout)
      .slice(0, 2)
      .map((l) => [l.mode, l.bytesDownloaded]),
    [
      ["present", 0],
      ["present", 0],
    ],
  );
  const out = await containerd.ctr([
    "run",
    "--rm",
    "--snapshotter",
    "stargz",
    esgzRef,
    "agent-run-2",
  ]);
  assert.equal(out, "hello through the agent\n");
});
