/**
 * Lazy pulling end to end on this machine: a real docker-registry, our agent
 * (a child process, FUSE enabled) and a real containerd 1.6 with the agent as
 * its `stargz` proxy snapshotter, runc for containers. Images are built from
 * the host's static busybox plus a data layer of incompressible files, and
 * converted to eStargz by `stargz image convert` and by the Go
 * `ctr-remote image convert --estargz --oci`. They are pulled with the Go
 * `ctr-remote image rpull` and with our `stargz image rpull` (both set the
 * remote-snapshot labels) and run with `ctr run --snapshotter stargz`.
 *
 * The test reads no FUSE mount itself: containers (and their runc processes)
 * do, and the agent is a separate process.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { startAgent, type TestAgent } from "../support/agent.ts";
import { missingForIntegration } from "../support/gates.ts";
import { pushOciLayout, tarLayer, writeOciLayout, type TarEntry } from "../support/layer-image.ts";
import { busyboxLayer, busyboxPath } from "../support/busybox-image.ts";
import { unmountUnder } from "../support/mounts.ts";
import { freePort, run } from "../support/process.ts";
import { ImageStates, type ImageStateFile } from "../../src/agent/remote/index.ts";
import { silentLogger } from "../../src/util/log.ts";

const cli = new URL("../../src/cli/main.ts", import.meta.url).pathname;

const skip =
  missingForIntegration(["containerd", "ctr", "ctr-remote", "docker-registry", "skopeo", "runc"]) ??
  (existsSync(busyboxPath) ? undefined : "needs /bin/busybox (apt busybox-static)") ??
  (existsSync("/dev/fuse") ? undefined : "needs /dev/fuse");

const fileCount = 16;
const fileSize = 256 * 1024;

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("lazy pulling through the agent under a real containerd", { skip }, () => {
  let tmp: TempDir;
  let registry: TestRegistry;
  let agent: TestAgent;
  let containerd: TestContainerd;
  let metricsPort: number;
  let files: Map<string, Buffer>;
  let goFiles: Map<string, Buffer>;
  let plain: string;
  let ours: string;
  let goImage: string;
  const containers: string[] = [];

  const agentConfig = (): string =>
    [
      `metrics_address = "127.0.0.1:${metricsPort}"`,
      "no_background_fetch = true",
      "prefetch_timeout_sec = 5",
      "[blob]",
      "valid_interval = 1",
      "max_retries = 1",
      "fetching_timeout_sec = 20",
    ].join("\n") + "\n";

  const startOurAgent = (): Promise<TestAgent> =>
    startAgent({ dir: join(tmp.path, "agent"), config: agentConfig() });

  const states = (): ImageStates =>
    new ImageStates({ dir: join(agent.root, "remote", "images"), logger: silentLogger() });

  const stateOf = async (image: string): Promise<ImageStateFile | undefined> =>
    states().read(image);

  /** `ctr run --rm` a script in IMAGE on the stargz snapshotter; returns its stdout. */
  const runIn = async (image: string, name: string, script: string): Promise<string> => {
    containers.push(name);
    return containerd.ctr([
      "run",
      "--rm",
      "--snapshotter",
      "stargz",
      image,
      name,
      "/bin/sh",
      "-c",
      script,
    ]);
  };

  const rpull = (image: string): Promise<string> =>
    containerd.ctrRemote(["image", "rpull", "--plain-http", "--snapshotter", "stargz", image]);

  const metric = async (name: string): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    const text = await res.text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
        sum += Number(line.split(" ").at(-1));
    }
    return sum;
  };

  const layerDigests = async (image: string): Promise<{ digest: string; size: number }[]> => {
    const [repo, tag] = image.slice(registry.host.length + 1).split(":") as [string, string];
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    const manifest = (await res.json()) as { layers: { digest: string; size: number }[] };
    return manifest.layers;
  };

  before(async () => {
    tmp = await makeTempDir("sgz-lazy-");
    metricsPort = await freePort();
    registry = await startRegistry({ dir: join(tmp.path, "registry") });
    agent = await startOurAgent();
    containerd = await startContainerd({
      dir: join(tmp.path, "ctrd"),
      proxySnapshotters: { stargz: agent.socket },
    });
    files = new Map();
    const entries: TarEntry[] = [{ path: "data", type: "dir" }];
    for (let i = 0; i < fileCount; i++) {
      const content = randomBytes(fileSize);
      files.set(`/data/f${i}`, content);
      entries.push({ path: `data/f${i}`, content });
    }
    plain = `${registry.host}/test/app:plain`;
    const layout = join(tmp.path, "oci");
    await writeOciLayout(layout, "plain", {
      layers: [await busyboxLayer(), tarLayer(entries)],
      cmd: ["/bin/sh"],
    });
    await pushOciLayout(layout, "plain", plain);
    ours = `${registry.host}/test/app:ours`;
    await run(process.execPath, [cli, "image", "convert", "--plain-http", plain, ours]);
    // The Go image gets files of its own: chunks are cached by digest across layers, and the
    // registry test below needs files no earlier test has read.
    goFiles = new Map();
    const goEntries: TarEntry[] = [{ path: "data", type: "dir" }];
    for (let i = 0; i < fileCount; i++) {
      const content = randomBytes(fileSize);
      goFiles.set(`/data/f${i}`, content);
      goEntries.push({ path: `data/f${i}`, content });
    }
    const goSource = `${registry.host}/test/gosrc:plain`;
    const goLayout = join(tmp.path, "oci-go");
    await writeOciLayout(goLayout, "plain", {
      layers: [await busyboxLayer(), tarLayer(goEntries)],
      cmd: ["/bin/sh"],
    });
    await pushOciLayout(goLayout, "plain", goSource);
    goImage = `${registry.host}/test/app:go`;
    await containerd.ctrRemote(["image", "pull", "--plain-http", goSource]);
    await containerd.ctrRemote(["image", "convert", "--estargz", "--oci", goSource, goImage]);
    await containerd.ctrRemote(["image", "push", "--plain-http", goImage]);
    await containerd.ctr(["image", "rm", "--sync", goSource, goImage]);
  });

  after(async () => {
    for (const c of containers) {
      await containerd?.ctr(["tasks", "kill", "-s", "KILL", c]).catch(() => "");
      await containerd?.ctr(["tasks", "rm", "-f", c]).catch(() => "");
      await containerd?.ctr(["containers", "rm", c]).catch(() => "");
    }
    await containerd?.stop();
    await agent?.stop();
    await registry?.stop();
    if (tmp) await unmountUnder(tmp.path);
    await tmp?.remove();
  });

  test("an image converted by stargz image convert mounts remotely and reads only what it needs", async () => {
    await rpull(ours);
    const state = await stateOf(ours);
    const layers = await layerDigests(ours);
    assert.ok(state, "image state file exists");
    for (const l of layers)
      assert.equal(state.layers[l.digest]?.mode, "remote", JSON.stringify(state));
    const snaps = await containerd.ctr(["snapshots", "--snapshotter", "stargz", "ls"]);
    assert.equal(snaps.split("\n").filter((l) => /Committed/.test(l)).length, 2, snaps);
    assert.equal(await metric("stargz_remote_mounts_total"), 2);

    const before = await metric("stargz_fs_fetched_bytes_total");
    const out = await runIn(ours, "few", "/bin/busybox sha256sum /data/f3");
    assert.equal(out.trim().split(/\s+/)[0], sha256(files.get("/data/f3") as Buffer));
    const fetched = (await metric("stargz_fs_fetched_bytes_total")) - before;
    const total = layers.reduce((s, l) => s + l.size, 0);
    assert.ok(fetched > fileSize, `fetched ${fetched} bytes`);
    assert.ok(fetched < total / 2, `fetched ${fetched} of ${total} bytes`);
  });

  test("with prioritized files the first container waits for the prefetch; the state file shows it", async () => {
    const list = join(tmp.path, "prioritized.txt");
    await writeFile(list, "/data/f0\n/data/f1\n");
    const prio = `${registry.host}/test/prio:esgz`;
    await run(process.execPath, [
      cli,
      "image",
      "convert",
      "--plain-http",
      "--prioritized-files",
      list,
      plain,
      prio,
    ]);
    await rpull(prio);
    const out = await runIn(prio, "prio", "/bin/cat /.stargz-snapshotter/*.json");
    const states = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { digest: string; prefetch: string });
    const data = (await layerDigests(prio))[1]?.digest;
    assert.equal(states.find((x) => x.digest === data)?.prefetch, "done", out);
    assert.ok((await metric("stargz_fs_fetch_requests_total")) > 0);
  });

  test("a container reads every file of the layer and the checksums match the source", async () => {
    const out = await runIn(ours, "all", "/bin/busybox sha256sum /data/*");
    const got = new Map(
      out
        .trim()
        .split("\n")
        .map((l) => {
          const [sum, path] = l.trim().split(/\s+/) as [string, string];
          return [path, sum];
        }),
    );
    assert.equal(got.size, fileCount);
    for (const [path, content] of files) assert.equal(got.get(path), sha256(content), path);
    const busybox = await runIn(ours, "bb", "/bin/busybox sha256sum /bin/busybox");
    assert.equal(busybox.trim().split(/\s+/)[0], sha256(await readFile(busyboxPath)));
  });

  test("after an agent restart the second container runs from the restored snapshots", async () => {
    await agent.stop();
    agent = await startOurAgent();
    // containerd redials the proxy socket with backoff; wait until it is through.
    await containerd.waitForSnapshotter("stargz");
    const log = await readFile(agent.logFile, "utf8");
    assert.doesNotMatch(log.split("\n").slice(-200).join("\n"), /cannot restore remote snapshot/);
    const out = await runIn(ours, "again", "/bin/busybox sha256sum /data/f7");
    assert.equal(out.trim().split(/\s+/)[0], sha256(files.get("/data/f7") as Buffer));
    assert.equal(await metric("stargz_remote_restore_failures_total"), 0);
  });

  test("after the agent is killed (dead FUSE mounts left behind) it restores and runs again", async () => {
    agent.process.child.kill("SIGKILL");
    await agent.process.exited;
    const dead = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .filter((l) => l.includes(agent.root) && l.includes("fuse"));
    assert.ok(dead.length >= 2, "the killed agent's mounts are still in the mount table");
    agent = await startOurAgent();
    await containerd.waitForSnapshotter("stargz");
    const out = await runIn(ours, "after-kill", "/bin/busybox sha256sum /data/f11");
    assert.equal(out.trim().split(/\s+/)[0], sha256(files.get("/data/f11") as Buffer));
    assert.equal(await metric("stargz_remote_restore_failures_total"), 0);
  });

  test("a non-eStargz image falls back, runs, and the reason is visible", async () => {
    await rpull(plain);
    const state = await stateOf(plain);
    assert.ok(state);
    for (const l of await layerDigests(plain)) {
      assert.equal(state.layers[l.digest]?.mode, "fallback");
      assert.equal(state.layers[l.digest]?.reason, "no_toc_digest");
    }
    assert.ok((await metric("stargz_remote_fallbacks_total")) >= 2);
    const out = await runIn(plain, "plain", "/bin/busybox sha256sum /data/f1");
    assert.equal(out.trim().split(/\s+/)[0], sha256(files.get("/data/f1") as Buffer));
  });

  test("a TOC digest that does not match the manifest falls back with the reason", async () => {
    const res = await fetch(`${registry.url}/v2/test/app/manifests/ours`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
    });
    const manifest = (await res.json()) as {
      layers: { digest: string; annotations: Record<string, string> }[];
    };
    const data = manifest.layers[1] as { digest: string; annotations: Record<string, string> };
    data.annotations["containerd.io/snapshot/stargz/toc.digest"] = `sha256:${"0".repeat(64)}`;
    const put = await fetch(`${registry.url}/v2/test/app/manifests/badtoc`, {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: JSON.stringify(manifest),
    });
    assert.equal(put.status, 201);
    const bad = `${registry.host}/test/app:badtoc`;
    // Same layers as `ours`, so the same snapshot chain: containerd must forget it first.
    await containerd.ctr(["image", "rm", "--sync", ours]);
    await rpull(bad);
    const state = await stateOf(bad);
    assert.equal(state?.layers[data.digest]?.mode, "fallback", JSON.stringify(state));
    assert.equal(state?.layers[data.digest]?.reason, "toc_digest_mismatch");
    const out = await runIn(bad, "badtoc", "/bin/busybox sha256sum /data/f2");
    assert.equal(out.trim().split(/\s+/)[0], sha256(files.get("/data/f2") as Buffer));
  });

  test("the registry stopped mid-run: cached files still read, uncached ones give EIO", async () => {
    // Our own rpull this time (ctr-remote's elsewhere): both set the remote-snapshot labels.
    const { stdout } = await run(process.execPath, [
      cli,
      "image",
      "rpull",
      "--address",
      containerd.address,
      "--plain-http",
      "--output",
      "json",
      goImage,
    ]);
    const lines = stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { mode?: string; layer?: string });
    assert.deepEqual(
      lines.filter((l) => l.layer !== undefined).map((l) => l.mode),
      ["remote", "remote"],
      stdout.toString(),
    );
    const state = await stateOf(goImage);
    for (const l of await layerDigests(goImage))
      assert.equal(state?.layers[l.digest]?.mode, "remote", JSON.stringify(state));
    containers.push("eio");
    await containerd.ctr([
      "run",
      "-d",
      "--snapshotter",
      "stargz",
      goImage,
      "eio",
      "/bin/sleep",
      "600",
    ]);
    const exec = (id: string, script: string): Promise<string> =>
      containerd.ctr(["tasks", "exec", "--exec-id", id, "eio", "/bin/sh", "-c", script]);
    const first = await exec("e1", "/bin/busybox sha256sum /data/f4");
    assert.equal(first.trim().split(/\s+/)[0], sha256(goFiles.get("/data/f4") as Buffer));
    await registry.stop();
    const cached = await exec("e2", "/bin/busybox sha256sum /data/f4");
    assert.equal(cached.trim().split(/\s+/)[0], sha256(goFiles.get("/data/f4") as Buffer));
    const uncached = await exec(
      "e3",
      "/bin/cat /data/f9 >/dev/null 2>/tmp/err; echo rc=$?; /bin/cat /tmp/err",
    );
    assert.match(uncached, /rc=1/);
    assert.match(uncached, /Input\/output error/);
  });

  test("a layer that cannot be restored (registry gone) is reported and the agent still starts", async () => {
    await containerd.ctr(["tasks", "kill", "-s", "KILL", "eio"]).catch(() => "");
    await containerd.ctr(["tasks", "rm", "-f", "eio"]).catch(() => "");
    await agent.stop();
    agent = await startOurAgent();
    assert.ok((await metric("stargz_remote_restore_failures_total")) >= 1);
    const state = await stateOf(goImage);
    const modes = Object.values(state?.layers ?? {}).map((l) => l.mode);
    assert.ok(modes.includes("restore_failed"), JSON.stringify(state));
    const log = await readFile(agent.logFile, "utf8");
    assert.match(log, /cannot restore remote snapshot/);
  });
});
