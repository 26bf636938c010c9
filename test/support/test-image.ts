/**
 * Small OCI images built in memory for tests: a ustar writer, gzip layers, a
 * config (with a command) and manifest, and an OCI layout on disk for skopeo.
 * oci-image.ts is the layout helper for ready-made layer blobs.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export interface TarEntry {
  path: string;
  type?: "file" | "dir" | "symlink";
  data?: Uint8Array | string;
  mode?: number;
  linkname?: string;
}

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

export interface TestImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  /** Uncompressed layer digests, as in the config's rootfs.diff_ids. */
  diffIds: string[];
}

export function digestOf(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, bytes };
}

/** A POSIX ustar archive with the given entries (paths under 100 bytes). */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? "file";
    const header = Buffer.alloc(512);
    const name = type === "dir" && !e.path.endsWith("/") ? `${e.path}/` : e.path;
    header.write(name, 0, 100, "utf8");
    const mode = e.mode ?? (type === "dir" ? 0o755 : 0o644);
    header.write(octal(mode, 8), 100);
    header.write(octal(0, 8), 108);
    header.write(octal(0, 8), 116);
    header.write(octal(type === "file" ? data.length : 0, 12), 124);
    header.write(octal(1700000000, 12), 136);
    header.write("        ", 148);
    header.write(type === "dir" ? "5" : type === "symlink" ? "2" : "0", 156);
    if (e.linkname) header.write(e.linkname, 157, 100, "utf8");
    header.write("ustar\u000000", 257, "latin1");
    let sum = 0;
    for (const b of header) sum += b;
    header.write(octal(sum, 7) + " ", 148, "latin1");
    parts.push(header);
    if (type === "file") {
      parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** An image of gzip layers (from uncompressed tars) for linux/amd64. */
export function buildImage(
  layerTars: Buffer[],
  options: { cmd?: string[]; gzipLevel?: number } = {},
): TestImage {
  const layers = layerTars.map((t) =>
    blob(
      "application/vnd.oci.image.layer.v1.tar+gzip",
      gzipSync(t, { level: options.gzipLevel ?? 6 }),
    ),
  );
  const diffIds = layerTars.map(digestOf);
  const configDoc = {
    architecture: "amd64",
    os: "linux",
    config: { Cmd: options.cmd ?? ["/bin/sh"], Env: ["PATH=/bin:/usr/bin"] },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: layerTars.map(() => ({ created_by: "test" })),
  };
  const config = blob(
    "application/vnd.oci.image.config.v1+json",
    Buffer.from(JSON.stringify(configDoc)),
  );
  const manifestDoc = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const manifest = blob(manifestDoc.mediaType, Buffer.from(JSON.stringify(manifestDoc)));
  return { manifest, config, layers, diffIds };
}

/** Writes the image as an OCI layout (index.json names it with the tag). */
export async function writeOciLayout(dir: string, image: TestImage, tag: string): Promise<void> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  for (const b of [image.manifest, image.config, ...image.layers]) {
    await writeFile(join(blobs, b.digest.slice("sha256:".length)), b.bytes);
  }
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: image.manifest.mediaType,
        digest: image.manifest.digest,
        size: image.manifest.size,
        annotations: { "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
}
