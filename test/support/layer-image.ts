/**
 * Builds small container images for tests without the internet: tar layers
 * from in-memory entries, written as an OCI image layout and pushed to a test
 * registry with skopeo. Generic on purpose: layers are just tar bytes.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { run } from "./process.ts";

export interface TarEntry {
  path: string;
  type?: "file" | "dir" | "symlink";
  content?: Buffer | string;
  /** Permission bits; 0o644 for files, 0o755 for dirs by default. */
  mode?: number;
  linkname?: string;
  uid?: number;
  gid?: number;
}

/** A ustar archive of `entries`, in order. Paths are relative (no leading slash). */
export function tarLayer(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.content ?? "");
    const type = e.type ?? "file";
    blocks.push(tarHeader(e, type, type === "file" ? body.length : 0));
    if (type === "file" && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function tarHeader(e: TarEntry, type: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const name = type === "dir" && !e.path.endsWith("/") ? `${e.path}/` : e.path;
  if (Buffer.byteLength(name) > 100) throw new Error(`tar path too long for this helper: ${name}`);
  const mode = e.mode ?? (type === "dir" ? 0o755 : 0o644);
  const octal = (n: number, width: number): string => n.toString(8).padStart(width - 1, "0") + "\0";
  h.write(name, 0);
  h.write(octal(mode, 8), 100);
  h.write(octal(e.uid ?? 0, 8), 108);
  h.write(octal(e.gid ?? 0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(1700000000, 12), 136);
  h.write("        ", 148);
  h.write(type === "dir" ? "5" : type === "symlink" ? "2" : "0", 156);
  h.write(e.linkname ?? "", 157);
  h.write("ustar\u000000", 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148);
  return h;
}

export interface ImageSpec {
  /** Uncompressed tar layers, base first. */
  layers: readonly Buffer[];
  cmd?: string[];
}

const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Writes an OCI image layout with one image tagged `tag` into `dir`. */
export async function writeOciLayout(dir: string, tag: string, spec: ImageSpec): Promise<string> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const putBlob = async (data: Buffer | string): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await writeFile(join(blobs, digest.slice("sha256:".length)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layers = [];
  for (const tar of spec.layers) {
    const blob = await putBlob(gzipSync(tar));
    layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...blob });
  }
  const config = await putBlob(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: spec.cmd ?? ["/bin/sh"], Env: ["PATH=/bin"] },
      rootfs: { type: "layers", diff_ids: spec.layers.map((l) => sha256(l)) },
    }),
  );
  const manifest = await putBlob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers,
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  await writeFile(join(dir, "index.json"), JSON.stringify(index));
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return manifest.digest;
}

/** Pushes the layout's `tag` to a plain-http registry as HOST/REPO:TAG. */
export async function pushOciLayout(dir: string, tag: string, ref: string): Promise<void> {
  await run("skopeo", [
    "copy",
    "--dest-tls-verify=false",
    "--insecure-policy",
    `oci:${dir}:${tag}`,
    `docker://${ref}`,
  ]);
}
