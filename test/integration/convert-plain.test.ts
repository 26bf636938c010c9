import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { makeTempDir, type TempDir } from "../support/tmp.ts";
import { startRegistry, type TestRegistry } from "../support/registry.ts";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy.ts";
import { buildImage, digestOf, tarArchive } from "../support/test-image.ts";
import { gunzipSync, gzipSync, zstdCompressSync } from "node:zlib";
import { RegistryClient, parseReference } from "../../src/registry/index.ts";

const skip = missingForIntegration(["docker-registry"], false);
const cli = join(import.meta.dirname, "../../src/cli/main.ts");

let tmp: TempDir;
let registry: TestRegistry;
let mirror: FaultProxy;
let origin: FaultProxy;

before(async () => {
  if (skip) return;
  tmp = await makeTempDir();
  registry = await startRegistry({ dir: join(tmp.path, "registry") });
  mirror = await startFaultProxy(registry.url);
  origin = await startFaultProxy(registry.url);
});

after(async () => {
  if (skip) return;
  await mirror.stop();
  await origin.stop();
  await registry.stop();
  await tmp.remove();
});

test(
  "convert reads SRC through the mirrors of a Go-style hosts config, headers included",
  { skip },
  async () => {
    const client = new RegistryClient();
    const src = parseReference(`${registry.host}/hosts/app:v1`);
    const img = buildImage([tarArchive([{ path: "h", data: "hosts" }])]);
    for (const b of [img.config, ...img.layers]) await client.pushBlob(src, b, b.bytes);
    await client.putManifest(src, img.manifest.mediaType, img.manifest.bytes);
    await client.close();

    const hostsFile = join(tmp.path, "hosts.toml");
    await writeFile(
      hostsFile,
      [
        "[resolver]",
        "request_timeout_sec = 5",
        `[[resolver.host."${origin.host}".mirrors]]`,
        `host = "${mirror.host}"`,
        "insecure = true",
        'header = { "X-From-Config" = "mirror" }',
        "",
      ].join("\n"),
    );
    const { stdout } = await run(process.execPath, [
      cli,
      "image",
      "convert",
      "--hosts-config",
      hostsFile,
      `${origin.host}/hosts/app:v1`,
      `${origin.host}/hosts/app:esgz`,
    ]);
    assert.match(stdout.toString(), /^sha256:[a-f0-9]{64}\n$/);
    const mirrorReads = mirror.seen.filter((r) => r.method === "GET");
    assert.ok(mirrorReads.length >= 3, "manifest, config and layer came from the mirror");
    assert.ok(mirror.seen.every((r) => r.headers["x-from-config"] === "mirror"));
    assert.ok(
      origin.seen.every((r) => !(r.method === "GET" && r.url.includes("/hosts/app/blobs/"))),
      "no source blob read from the origin",
    );
    assert.ok(
      origin.seen.some((r) => r.method === "PUT"),
      "pushes go to the origin",
    );
  },
);

test("a bad hosts config is a clear error", { skip }, async () => {
  const hostsFile = join(tmp.path, "bad.toml");
  await writeFile(hostsFile, '[[resolver.host."x".mirrors]]\ninsecure = "yes"\n');
  await assert.rejects(
    run(process.execPath, [cli, "image", "convert", "--hosts-config", hostsFile, "x/a:1", "x/b:1"]),
    /bad\.toml: host."x".mirrors\[0\] needs a host/,
  );
});

test(
  "Docker media types, zstd and uncompressed layers all convert to OCI eStargz with matching diffIDs",
  { skip },
  async () => {
    const client = new RegistryClient();
    const tars = [
      tarArchive([{ path: "gz.txt", data: "gzip layer" }]),
      tarArchive([{ path: "zstd.txt", data: "zstd layer".repeat(1000) }]),
      tarArchive([{ path: "plain.txt", data: "plain layer" }]),
    ];
    const base = buildImage(tars);
    const blobs = [
      { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", bytes: gzipSync(tars[0]!) },
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar+zstd",
        bytes: zstdCompressSync(tars[1]!),
      },
      { mediaType: "application/vnd.oci.image.layer.v1.tar", bytes: tars[2]! },
    ].map((b) => ({ ...b, digest: digestOf(b.bytes), size: b.bytes.length }));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        digest: base.config.digest,
        size: base.config.size,
      },
      layers: blobs.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    };
    const src = parseReference(`${registry.host}/types/app:v1`);
    for (const b of [base.config, ...blobs]) await client.pushBlob(src, b, b.bytes);
    await client.putManifest(src, manifest.mediaType, Buffer.from(JSON.stringify(manifest)));

    const { stdout } = await run(process.execPath, [
      cli,
      "image",
      "convert",
      `${registry.host}/types/app:v1`,
      `${registry.host}/types/app:esgz`,
    ]);
    const dst = parseReference(`${registry.host}/types/app:esgz`);
    const out = await client.getManifest(dst);
    assert.equal(out.descriptor.digest, stdout.toString().trim());
    assert.equal(out.descriptor.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(out.manifest!.config.mediaType, "application/vnd.oci.image.config.v1+json");
    const config = JSON.parse(
      Buffer.from(await client.fetchBlob(dst, out.manifest!.config)).toString(),
    ) as { rootfs: { diff_ids: string[] } };
    for (const [i, layer] of out.manifest!.layers.entries()) {
      assert.equal(layer.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
      const tar = gunzipSync(await client.fetchBlob(dst, layer));
      assert.equal(config.rootfs.diff_ids[i], digestOf(tar), `diffID of layer ${i}`);
      assert.equal(
        Number(layer.annotations?.["io.containers.estargz.uncompressed-size"]),
        tar.length,
      );
    }
    await client.close();
  },
);

test(
  "a registry lying about Content-Length or serving a bad manifest fails the conversion clearly, nothing tagged",
  { skip },
  async () => {
    const client = new RegistryClient();
    const src = parseReference(`${registry.host}/lies/app:v1`);
    const img = buildImage([tarArchive([{ path: "l", data: "lies".repeat(10_000) }])]);
    for (const b of [img.config, ...img.layers]) await client.pushBlob(src, b, b.bytes);
    await client.putManifest(src, img.manifest.mediaType, img.manifest.bytes);
    const layer = img.layers[0]!.digest;
    const convert = (dst: string) =>
      run(process.execPath, [
        cli,
        "image",
        "convert",
        `${origin.host}/lies/app:v1`,
        `${origin.host}/lies/app:${dst}`,
      ]).then(
        () => "",
        (err: Error) => err.message,
      );
    try {
      origin.fault = (r) =>
        r.method === "GET" && r.url.includes(`/blobs/${layer}`)
          ? { kind: "content-length-lie", extra: 4096 }
          : undefined;
      const lie = await convert("lie");
      assert.match(lie, /exited 1/);
      assert.match(lie, new RegExp(layer));
      assert.match(lie, /lies\/app/);
      assert.match(lie, new RegExp(origin.host));
      origin.fault = (r) =>
        r.method === "GET" && r.url.includes("/manifests/") ? { kind: "corrupt" } : undefined;
      const bad = await convert("bad");
      assert.match(bad, /manifest digest mismatch/);
      assert.match(bad, /DATA_LOSS/);
      origin.fault = () => undefined;
      for (const tag of ["lie", "bad"]) {
        await assert.rejects(
          client.getManifest(parseReference(`${registry.host}/lies/app:${tag}`)),
          { code: "NOT_FOUND" },
        );
      }
    } finally {
      origin.fault = () => undefined;
      await client.close();
    }
  },
);
