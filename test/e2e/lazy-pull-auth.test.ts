/**
 * Lazy pulling from a registry behind basic auth (docker-registry with an
 * htpasswd file): with the credentials in the agent's `docker_config` the
 * layers mount remotely; an agent without credentials falls back with
 * `auth_refused` (and cannot restore the first image's layers, which it
 * reports), and the image still runs because rpull itself has them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { startAgent, type TestAgent } from "../support/agent.ts";
import { missingForIntegration } from "../support/gates.ts";
import { tarLayer, writeOciLayout } from "../support/layer-image.ts";
import { busyboxLayer, busyboxPath } from "../support/busybox-image.ts";
import { unmountUnder } from "../support/mounts.ts";
import { run } from "../support/process.ts";

const cli = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const password = "s3cret-pw";

const skip =
  missingForIntegration(["containerd", "ctr", "docker-registry", "skopeo", "runc", "htpasswd"]) ??
  (existsSync(busyboxPath) ? undefined : "needs /bin/busybox (apt busybox-static)") ??
  (existsSync("/dev/fuse") ? undefined : "needs /dev/fuse");

describe("lazy pulling from a registry that requires credentials", { skip }, () => {
  let tmp: TempDir;
  let registry: TestRegistry;
  let agent: TestAgent;
  let containerd: TestContainerd;
  let dockerConfig: string;
  let emptyDockerDir: string;
  const containers: string[] = [];

  /** Pushes busybox + one file, converts it to eStargz; returns the eStargz ref and the file. */
  const makeImage = async (name: string): Promise<{ ref: string; content: Buffer }> => {
    const content = randomBytes(64 * 1024);
    const layout = join(tmp.path, `oci-${name}`);
    await writeOciLayout(layout, "src", {
      // A base layer of its own, so the two images share no snapshot chain.
      layers: [
        tarLayer([{ path: `image-${name}`, content: name }]),
        await busyboxLayer(),
        tarLayer([
          { path: "data", type: "dir" },
          { path: "data/file", content },
        ]),
      ],
    });
    const src = `${registry.host}/private/${name}:src`;
    await run("skopeo", [
      "copy",
      "--dest-tls-verify=false",
      "--dest-creds",
      `alice:${password}`,
      "--insecure-policy",
      `oci:${layout}:src`,
      `docker://${src}`,
    ]);
    const ref = `${registry.host}/private/${name}:esgz`;
    await run(process.execPath, [
      cli,
      ...["image", "convert", "--plain-http", "--docker-config", dockerConfig, src, ref],
    ]);
    return { ref, content };
  };

  const rpull = async (ref: string): Promise<{ layer?: string; mode?: string }[]> => {
    const { stdout } = await run(process.execPath, [
      cli,
      ...["image", "rpull", "--address", containerd.address, "--plain-http"],
      ...["--docker-config", dockerConfig, "--output", "json", ref],
    ]);
    return stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { layer?: string; mode?: string })
      .filter((l) => l.layer !== undefined);
  };

  const readIn = async (ref: string, name: string): Promise<string> => {
    containers.push(name);
    const out = await containerd.ctr([
      ...["run", "--rm", "--snapshotter", "stargz", ref, name],
      ...["/bin/busybox", "sha256sum", "/data/file"],
    ]);
    return out.trim().split(/\s+/)[0] ?? "";
  };

  const restartAgent = async (config: string, env?: NodeJS.ProcessEnv): Promise<void> => {
    await agent?.stop();
    try {
      agent = await startAgent({ dir: join(tmp.path, "agent"), config, env });
    } catch (err) {
      const log = await readFile(join(tmp.path, "agent", "agent.log"), "utf8").catch(() => "");
      throw new Error(`agent did not start: ${log.split("\n").slice(-15).join("\n")}`, {
        cause: err,
      });
    }
    await containerd.waitForSnapshotter("stargz");
  };

  before(async () => {
    tmp = await makeTempDir("sgz-lazyauth-");
    const regDir = join(tmp.path, "registry");
    await mkdir(regDir, { recursive: true });
    const htpasswd = join(regDir, "htpasswd");
    await run("htpasswd", ["-Bbc", htpasswd, "alice", password]);
    registry = await startRegistry({ dir: regDir, htpasswdFile: htpasswd });
    dockerConfig = join(tmp.path, "docker-config.json");
    const auth = Buffer.from(`alice:${password}`).toString("base64");
    await writeFile(dockerConfig, JSON.stringify({ auths: { [registry.host]: { auth } } }));
    emptyDockerDir = join(tmp.path, "no-docker");
    await mkdir(emptyDockerDir, { recursive: true });
    agent = await startAgent({
      dir: join(tmp.path, "agent"),
      config: `docker_config = "${dockerConfig}"\n`,
    });
    containerd = await startContainerd({
      dir: join(tmp.path, "ctrd"),
      proxySnapshotters: { stargz: agent.socket },
    });
  });

  after(async () => {
    for (const c of containers) {
      await containerd?.ctr(["tasks", "kill", "-s", "KILL", c]).catch(() => "");
      await containerd?.ctr(["containers", "rm", c]).catch(() => "");
    }
    await containerd?.stop();
    await agent?.stop();
    await registry?.stop();
    if (tmp) await unmountUnder(tmp.path);
    await tmp?.remove();
  });

  test("credentials from docker_config: every layer mounts remotely and reads", async () => {
    const { ref, content } = await makeImage("withcreds");
    const layers = await rpull(ref);
    assert.deepEqual(
      layers.map((l) => l.mode),
      ["remote", "remote", "remote"],
    );
    assert.equal(await readIn(ref, "creds"), createHash("sha256").update(content).digest("hex"));
  });

  test("no credentials: the agent falls back with auth_refused and the image still runs", async () => {
    await restartAgent("[blob]\nmax_retries = 0\n", {
      ...process.env,
      DOCKER_CONFIG: emptyDockerDir,
    });
    const { ref, content } = await makeImage("nocreds");
    const layers = await rpull(ref);
    assert.deepEqual(
      layers.map((l) => l.mode),
      ["fallback", "fallback", "fallback"],
    );
    assert.equal(await readIn(ref, "nocreds"), createHash("sha256").update(content).digest("hex"));
    const log = await readFile(agent.logFile, "utf8");
    assert.match(log, /"reason":"auth_refused"/);
    assert.doesNotMatch(log, new RegExp(password));
    assert.doesNotMatch(log, new RegExp(Buffer.from(`alice:${password}`).toString("base64")));
  });
});
