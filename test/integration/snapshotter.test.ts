/**
 * The agent as containerd's proxy snapshotter, end to end: a real containerd
 * and registry, an image built from the host's static busybox, pulled and run
 * through `--snapshotter stargz`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { startAgent, type TestAgent } from "../support/agent.ts";
import { missingForIntegration } from "../support/gates.ts";
import { pushOciLayout, tarLayer, writeOciLayout } from "../support/layer-image.ts";
import { busyboxLayer, busyboxPath } from "../support/busybox-image.ts";
import { snapshotsClient } from "../support/snapshots-client.ts";
import { unmountUnder } from "../support/mounts.ts";

const skip =
  missingForIntegration(["containerd", "ctr", "docker-registry", "skopeo", "runc"]) ??
  (existsSync(busyboxPath) ? undefined : "needs /bin/busybox (apt busybox-static)");

describe("stargz-agent under a real containerd", { skip }, () => {
  let tmp: TempDir;
  let registry: TestRegistry;
  let agent: TestAgent;
  let containerd: TestContainerd;
  let image: string;

  before(async () => {
    tmp = await makeTempDir("sgz-int-");
    registry = await startRegistry({ dir: join(tmp.path, "registry") });
    agent = await startAgent({ dir: join(tmp.path, "agent") });
    containerd = await startContainerd({
      dir: join(tmp.path, "ctrd"),
      proxySnapshotters: { stargz: agent.socket },
    });
    image = `${registry.host}/test/busybox:v1`;
    await buildAndPush(join(tmp.path, "oci"), image);
  });

  after(async () => {
    await containerd?.ctr(["tasks", "kill", "-s", "KILL", "c1"]).catch(() => "");
    await containerd?.stop();
    await agent?.stop();
    await registry?.stop();
    if (tmp) await unmountUnder(tmp.path);
    await tmp?.remove();
  });

  test("pulls a multi-layer image into the stargz snapshotter", async () => {
    await containerd.ctr(["image", "pull", "--plain-http", "--snapshotter", "stargz", image]);
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "stargz", "ls"]);
    const committed = snaps.split("\n").filter((l) => /Committed/.test(l));
    assert.equal(committed.length, 3, snaps);
    const client = snapshotsClient(agent.socket);
    try {
      const all = await client.list();
      assert.equal(all.filter((i) => i.kind === "COMMITTED").length, 3);
    } finally {
      client.close();
    }
  });

  test("runs a container that reads the layers and writes its own files", async () => {
    const out = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "stargz",
      image,
      "c1",
      "/bin/sh",
      "-c",
      "cat /etc/hello.txt; test ! -e /etc/old.txt && echo gone; echo hi > /tmp/x; cat /tmp/x; ls /data",
    ]);
    assert.equal(out, "hello from layer 2\ngone\nhi\nkeep\n");
  });

  test("reports usage and removes an active snapshot", async () => {
    await containerd.ctr([
      "snapshots",
      "--snapshotter",
      "stargz",
      "prepare",
      "scratch",
      await topChainId(),
    ]);
    const usage = await containerd.ctr([
      "snapshots",
      "--snapshotter",
      "stargz",
      "usage",
      "scratch",
    ]);
    assert.match(usage, /scratch\s+\d/);
    await containerd.ctr(["snapshots", "--snapshotter", "stargz", "rm", "scratch"]);
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "stargz", "ls"]);
    assert.doesNotMatch(snaps, /scratch/);
  });

  test("an agent restart between pull and run loses nothing", async () => {
    await agent.stop();
    agent = await startAgent({ dir: join(tmp.path, "agent") });
    await containerd.waitForSnapshotter("stargz");
    const out = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "stargz",
      image,
      "c2",
      "/bin/cat",
      "/etc/hello.txt",
    ]);
    assert.equal(out, "hello from layer 2\n");
  });

  test("an image with 130 layers pulls and runs (lowerdir longer than a page)", async () => {
    const deep = `${registry.host}/test/deep:v1`;
    const layers = [await busyboxLayer()];
    for (let i = 1; i < 130; i++) {
      layers.push(
        tarLayer([
          { path: "layers", type: "dir" },
          { path: `layers/${i}`, content: `${i}\n` },
        ]),
      );
    }
    await writeOciLayout(join(tmp.path, "oci-deep"), "v1", { layers });
    await pushOciLayout(join(tmp.path, "oci-deep"), "v1", deep);
    await containerd.ctr(["image", "pull", "--plain-http", "--snapshotter", "stargz", deep]);
    const out = await containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "stargz",
      deep,
      "c-deep",
      "/bin/sh",
      "-c",
      "ls /layers | wc -l; cat /layers/1 /layers/129",
    ]);
    assert.equal(out.replace(/^\s+/, ""), "129\n1\n129\n");
    await containerd.ctr(["image", "rm", "--sync", deep]);
  });

  test("image removal and garbage collection remove the snapshots", async () => {
    await containerd.ctr(["image", "rm", "--sync", image]);
    await waitForNoSnapshots(agent.socket);
  });

  async function topChainId(): Promise<string> {
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "stargz", "ls"]);
    const names = snaps
      .split("\n")
      .slice(1)
      .filter((l) => /Committed/.test(l))
      .map((l) => l.split(/\s+/));
    const parents = new Set(names.map((n) => n[1]));
    const top = names.find((n) => !parents.has(n[0]));
    assert.ok(top?.[0]);
    return top[0];
  }
});

async function buildAndPush(dir: string, ref: string): Promise<void> {
  const layers = [
    await busyboxLayer(),
    tarLayer([
      { path: "etc", type: "dir" },
      { path: "etc/hello.txt", content: "hello from layer 2\n" },
      { path: "etc/old.txt", content: "to be deleted\n" },
    ]),
    tarLayer([
      { path: "etc", type: "dir" },
      { path: "etc/.wh.old.txt", content: "" },
      { path: "data", type: "dir" },
      { path: "data/keep", content: "k" },
    ]),
  ];
  await writeOciLayout(dir, "v1", { layers });
  await pushOciLayout(dir, "v1", ref);
}

async function waitForNoSnapshots(socket: string): Promise<void> {
  const client = snapshotsClient(socket);
  try {
    for (let i = 0; i < 100; i++) {
      if ((await client.list()).length === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await client.list(), []);
  } finally {
    client.close();
  }
}
