import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { startContainerd, type TestContainerd } from "../support/containerd.ts";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";
import {
  buildImage,
  digestOf,
  tarArchive,
  writeOciLayout,
  type TestImage,
} from "../support/test-image.ts";
import { RegistryClient, parseReference } from "../../src/registry/index.ts";
import {
  openLayer,
  TOC_DIGEST_ANNOTATION,
  UNCOMPRESSED_SIZE_ANNOTATION,
} from "../../src/estargz/index.ts";

const skip =
  missingForIntegration(["containerd", "ctr", "runc", "docker-registry", "skopeo"]) ??
  (hasBusybox() ? undefined : "needs /bin/busybox (busybox-static)");
const cli = join(import.meta.dirname, "../../src/cli/main.ts");

function hasBusybox(): boolean {
  return existsSync("/bin/busybox");
}

let tmp: TempDir;
let registry: TestRegistry;
let containerd: TestContainerd;
let client: RegistryClient;

async function busyboxImage(): Promise<TestImage> {
  const busybox = await readFile("/bin/busybox");
  const tools = ["sh", "cat", "echo", "ls", "wc"];
  const base = tarArchive([
    { path: "bin", type: "dir" },
    { path: "bin/busybox", data: busybox, mode: 0o755 },
    ...tools.map((t) => ({ path: `bin/${t}`, type: "symlink" as const, linkname: "busybox" })),
    { path: "etc", type: "dir" },
    { path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\n" },
  ]);
  const app = tarArchive([
    { path: "srv", type: "dir" },
    { path: "srv/hello.txt", data: "hello from a converted image\n" },
    { path: "srv/big.bin", data: Buffer.alloc(9 * 1024 * 1024, 7) },
  ]);
  return buildImage([base, app], { cmd: ["/bin/cat", "/srv/hello.txt"] });
}

async function pushWithSkopeo(image: TestImage, ref: string): Promise<void> {
  const layout = join(tmp.path, `layout-${Math.random().toString(36).slice(2)}`);
  await writeOciLayout(layout, image, "v1");
  await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${ref}`]);
}

async function pushDirect(image: TestImage, ref: string): Promise<void> {
  const r = parseReference(ref);
  for (const b of [image.config, ...image.layers]) await client.pushBlob(r, b, b.bytes);
  await client.putManifest(r, image.manifest.mediaType, image.manifest.bytes);
}

async function stargz(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args]);
    return { code: 0, stdout: stdout.toString(), stderr };
  } catch (err) {
    const message = (err as Error).message;
    const code = /exited (\d+)/.exec(message)?.[1];
    return { code: Number(code ?? -1), stdout: "", stderr: message };
  }
}

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  client = new RegistryClient();
});

after(async () => {
  if (skip) return;
  await client.close();
  await containerd.stop();
  await registry.stop();
  await tmp.remove();
});

test(
  "convert: the result carries eStargz annotations and runs under plain containerd",
  { skip },
  async () => {
    const src = `${registry.host}/library/busybox:v1`;
    const dst = `${registry.host}/library/busybox:v1-esgz`;
    await pushWithSkopeo(await busyboxImage(), src);
    const first = await stargz([
      "image",
      "convert",
      "--plain-http",
      "--progress",
      "plain",
      "--chunk-size",
      "1048576",
      src,
      dst,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const digest = first.stdout.trim();
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);

    const ref = parseReference(dst);
    const fetched = await client.getManifest(ref);
    assert.equal(fetched.descriptor.digest, digest);
    assert.equal(fetched.descriptor.mediaType, "application/vnd.oci.image.manifest.v1+json");
    for (const layer of fetched.manifest!.layers) {
      assert.equal(layer.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
      const toc = layer.annotations?.[TOC_DIGEST_ANNOTATION];
      assert.match(String(toc), /^sha256:/);
      assert.ok(Number(layer.annotations?.[UNCOMPRESSED_SIZE_ANNOTATION]) > 0);
      const reader = await openLayer(client.blobReadAt(ref, layer), { expectedTocDigest: toc });
      assert.equal(reader.tocDigest, toc);
    }

    // A runtime that knows nothing of eStargz pulls and runs it.
    await containerd.ctr(["image", "pull", "--plain-http", dst]);
    const out = await containerd.ctr(["run", "--rm", dst, "convert-test"]);
    assert.equal(out, "hello from a converted image\n");
    const sh = await containerd.ctr([
      "run",
      "--rm",
      dst,
      "convert-test-2",
      "/bin/sh",
      "-c",
      "wc -c < /srv/big.bin",
    ]);
    assert.equal(sh.trim(), String(9 * 1024 * 1024));

    // Re-running reuses the layers converted before, and gives the same digest.
    const again = await stargz([
      "image",
      "convert",
      "--plain-http",
      "--progress",
      "plain",
      "--chunk-size",
      "1048576",
      src,
      dst,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), digest);
    assert.equal((again.stderr.match(/"outcome":"reused"/g) ?? []).length, 2, again.stderr);

    // Converting an eStargz image keeps its layers.
    const twice = await stargz([
      "image",
      "convert",
      "--plain-http",
      "--progress",
      "plain",
      dst,
      `${registry.host}/library/busybox:v1-esgz2`,
    ]);
    assert.equal(twice.code, 0, twice.stderr);
    assert.equal(
      (twice.stderr.match(/"outcome":"already-estargz"/g) ?? []).length,
      2,
      twice.stderr,
    );
  },
);

test("convert: prioritized files go first, before the prefetch landmark", { skip }, async () => {
  const src = `${registry.host}/library/prio:v1`;
  const dst = `${registry.host}/library/prio:esgz`;
  await pushWithSkopeo(await busyboxImage(), src);
  const list = join(tmp.path, "prio.txt");
  await writeFile(list, "srv/hello.txt\n");
  const res = await stargz([
    "image",
    "convert",
    "--plain-http",
    "--prioritized-files",
    list,
    src,
    dst,
  ]);
  assert.equal(res.code, 0, res.stderr);
  const ref = parseReference(dst);
  const m = await client.getManifest(ref);
  const appLayer = m.manifest!.layers[1]!;
  const reader = await openLayer(client.blobReadAt(ref, appLayer));
  const names = reader.toc.entries.map((e) => e.name);
  assert.ok(names.indexOf("srv/hello.txt") < names.indexOf(".prefetch.landmark"), names.join(","));
});

test(
  "convert: bad input fails naming image, layer and registry, and tags nothing",
  { skip },
  async () => {
    const good = await busyboxImage();
    // A layer whose media type says gzip but whose bytes are a plain tar.
    const notGzip = buildImage([tarArchive([{ path: "x", data: "y" }])]);
    const plain = tarArchive([{ path: "x", data: "y" }]);
    const lying: TestImage = {
      ...notGzip,
      layers: [
        { ...notGzip.layers[0]!, bytes: plain, size: plain.length, digest: digestOf(plain) },
      ],
    };
    const fixed = buildManifest(lying);
    const src = `${registry.host}/bad/notgzip:v1`;
    await pushDirect(fixed, src); // skopeo would recompress the layer and hide the problem
    const dst = `${registry.host}/bad/notgzip:esgz`;
    const res = await stargz(["image", "convert", "--plain-http", src, dst]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /does not decompress|gzip|header/i);
    assert.match(res.stderr, new RegExp(fixed.layers[0]!.digest));
    assert.match(res.stderr, /bad\/notgzip/);
    assert.match(res.stderr, new RegExp(registry.host.replace(".", "\\.")));
    await assert.rejects(client.getManifest(parseReference(dst)), { code: "NOT_FOUND" });

    // An unknown layer media type.
    const odd = buildManifest({
      ...good,
      layers: good.layers.map((l) => ({ ...l, mediaType: "application/x-unknown" })),
    });
    await pushDirect(odd, `${registry.host}/bad/odd:v1`);
    const res2 = await stargz([
      "image",
      "convert",
      "--plain-http",
      `${registry.host}/bad/odd:v1`,
      `${registry.host}/bad/odd:esgz`,
    ]);
    assert.equal(res2.code, 1);
    assert.match(res2.stderr, /unsupported layer media type application\/x-unknown/);

    // Usage errors exit 2.
    assert.equal((await stargz(["image", "convert", src])).code, 2);
  },
);

test(
  "convert: a DST that refuses pushes fails clearly and is left untagged",
  { skip },
  async () => {
    const dir = join(tmp.path, "locked");
    await mkdir(dir, { recursive: true });
    const htpasswd = join(dir, "htpasswd");
    await run("htpasswd", ["-Bbc", htpasswd, "owner", "owner-pass"]);
    const locked = await startRegistry({ dir, htpasswdFile: htpasswd });
    try {
      const src = `${registry.host}/library/busybox:v1`;
      const res = await stargz([
        "image",
        "convert",
        "--plain-http",
        src,
        `${locked.host}/x/y:esgz`,
      ]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /UNAUTHENTICATED|PERMISSION_DENIED/);
      assert.match(res.stderr, new RegExp(locked.host.replace(".", "\\.")));
      assert.doesNotMatch(res.stderr, /owner-pass/);
    } finally {
      await locked.stop();
    }
  },
);

/** Rebuilds the manifest after layers were swapped in a TestImage. */
function buildManifest(image: TestImage): TestImage {
  const doc = JSON.parse(image.manifest.bytes.toString()) as { layers: unknown[] };
  doc.layers = image.layers.map((l) => ({
    mediaType: l.mediaType,
    digest: l.digest,
    size: l.size,
  }));
  const bytes = Buffer.from(JSON.stringify(doc));
  return {
    ...image,
    manifest: { ...image.manifest, bytes, size: bytes.length, digest: digestOf(bytes) },
  };
}

test("convert: an index converts every platform, or only --platform", { skip }, async () => {
  const amd = await busyboxImage();
  const armDoc = buildImage([tarArchive([{ path: "arm.txt", data: "arm" }])]);
  const repo = `${registry.host}/multi/app`;
  await pushDirect(amd, `${repo}@${amd.manifest.digest}`);
  await pushDirect(armDoc, `${repo}@${armDoc.manifest.digest}`);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: amd.manifest.mediaType,
        digest: amd.manifest.digest,
        size: amd.manifest.size,
        platform: { os: "linux", architecture: "amd64" },
      },
      {
        mediaType: armDoc.manifest.mediaType,
        digest: armDoc.manifest.digest,
        size: armDoc.manifest.size,
        platform: { os: "linux", architecture: "arm64" },
      },
    ],
  };
  await client.putManifest(
    parseReference(`${repo}:v1`),
    index.mediaType,
    Buffer.from(JSON.stringify(index)),
  );

  const all = await stargz(["image", "convert", "--plain-http", `${repo}:v1`, `${repo}:all`]);
  assert.equal(all.code, 0, all.stderr);
  const allIndex = await client.getManifest(parseReference(`${repo}:all`));
  assert.equal(allIndex.kind, "index");
  assert.deepEqual(
    allIndex.index!.manifests.map((m) => m.platform?.architecture),
    ["amd64", "arm64"],
  );

  const one = await stargz([
    "image",
    "convert",
    "--plain-http",
    "--platform",
    "linux/amd64",
    `${repo}:v1`,
    `${repo}:amd64`,
  ]);
  assert.equal(one.code, 0, one.stderr);
  const oneIndex = await client.getManifest(parseReference(`${repo}:amd64`));
  assert.deepEqual(
    oneIndex.index!.manifests.map((m) => m.platform?.architecture),
    ["amd64"],
  );

  await containerd.ctr(["image", "pull", "--plain-http", `${repo}:all`]);
  assert.equal(
    await containerd.ctr(["run", "--rm", `${repo}:all`, "index-test"]),
    "hello from a converted image\n",
  );
});
