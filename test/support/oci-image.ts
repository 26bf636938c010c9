/**
 * Single-platform OCI images for tests: write an OCI image layout from layer
 * blobs, push it with skopeo, and read an image back from a registry with
 * plain fetch(). Independent of src/registry, so it can check that code.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";

export const mediaTypes = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  index: "application/vnd.oci.image.index.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

/** Layer descriptor annotations the eStargz world uses. */
export const annotations = {
  tocDigest: "containerd.io/snapshot/stargz/toc.digest",
  uncompressedSize: "io.containers.estargz.uncompressed-size",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface LayerInput {
  /** The compressed blob (gzip or eStargz). */
  blob: Uint8Array;
  /** Defaults to the OCI gzip layer type. */
  mediaType?: string;
  /** sha256 of the uncompressed tar; computed by gunzip when omitted. */
  diffID?: string;
  annotations?: Record<string, string>;
}

export interface OciLayout {
  dir: string;
  tag: string;
  manifest: ImageManifest;
  manifestDigest: string;
}

export function digestOf(data: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Writes an OCI image layout holding one image, tagged `tag`, for this machine's platform. */
export async function writeOciLayout(
  dir: string,
  layers: LayerInput[],
  tag = "latest",
): Promise<OciLayout> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const putBlob = async (data: Uint8Array): Promise<string> => {
    const digest = digestOf(data);
    await writeFile(join(dir, "blobs", "sha256", digest.slice("sha256:".length)), data);
    return digest;
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: goArch(),
      os: "linux",
      config: {},
      rootfs: {
        type: "layers",
        diff_ids: layers.map((l) => l.diffID ?? digestOf(gunzipSync(l.blob))),
      },
    }),
  );
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: mediaTypes.manifest,
    config: { mediaType: mediaTypes.config, digest: await putBlob(config), size: config.length },
    layers: [],
  };
  for (const layer of layers) {
    manifest.layers.push({
      mediaType: layer.mediaType ?? mediaTypes.layerGzip,
      digest: await putBlob(layer.blob),
      size: layer.blob.length,
      ...(layer.annotations ? { annotations: layer.annotations } : {}),
    });
  }
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = await putBlob(manifestBytes);
  const index = {
    schemaVersion: 2,
    mediaType: mediaTypes.index,
    manifests: [
      {
        mediaType: mediaTypes.manifest,
        digest: manifestDigest,
        size: manifestBytes.length,
        annotations: { "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  return { dir, tag, manifest, manifestDigest };
}

/** Copies the layout's image to `dest` ("host:port/repo:tag") over plain HTTP, unchanged. */
export async function pushOciLayout(layout: OciLayout, dest: string): Promise<void> {
  await promisify(execFile)("skopeo", [
    "--insecure-policy",
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${layout.dir}:${layout.tag}`,
    `docker://${dest}`,
  ]);
}

export interface FetchedImage {
  manifest: ImageManifest;
  manifestDigest: string;
  config: { rootfs: { diff_ids: string[] } } & Record<string, unknown>;
  /** Layer blobs in manifest order, each checked against its descriptor. */
  layers: { descriptor: Descriptor; blob: Buffer }[];
}

/** Reads an image by tag from a registry (`registryUrl` like "http://127.0.0.1:5000"). */
export async function fetchImage(
  registryUrl: string,
  repo: string,
  tag: string,
): Promise<FetchedImage> {
  const res = await fetch(`${registryUrl}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: [mediaTypes.manifest, mediaTypes.dockerManifest].join(", ") },
  });
  if (!res.ok) throw new Error(`GET manifest ${repo}:${tag}: HTTP ${res.status}`);
  const manifestBytes = Buffer.from(await res.arrayBuffer());
  const manifest = JSON.parse(manifestBytes.toString()) as ImageManifest;
  const config = JSON.parse((await fetchBlob(registryUrl, repo, manifest.config)).toString());
  const layers = [];
  for (const descriptor of manifest.layers) {
    layers.push({ descriptor, blob: await fetchBlob(registryUrl, repo, descriptor) });
  }
  return { manifest, manifestDigest: digestOf(manifestBytes), config, layers };
}

export async function fetchBlob(registryUrl: string, repo: string, d: Descriptor): Promise<Buffer> {
  const res = await fetch(`${registryUrl}/v2/${repo}/blobs/${d.digest}`);
  if (!res.ok) throw new Error(`GET blob ${d.digest}: HTTP ${res.status}`);
  const blob = Buffer.from(await res.arrayBuffer());
  if (blob.length !== d.size || digestOf(blob) !== d.digest) {
    throw new Error(`blob ${d.digest} arrived as ${digestOf(blob)} (${blob.length} bytes)`);
  }
  return blob;
}

function goArch(): string {
  const map: Record<string, string> = {
    x64: "amd64",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
    s390x: "s390x",
  };
  return map[process.arch] ?? process.arch;
}
