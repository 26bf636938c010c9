/**
 * The Go reference as a converter: an image with one plain gzip layer goes
 * through a test registry and a test containerd, `ctr-remote image convert
 * --estargz --oci` turns it into eStargz, and the converted layer comes back
 * from the registry as bytes.
 */
import { gzipSync } from "node:zlib";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContainerd } from "./containerd.ts";
import type { TestRegistry } from "./registry.ts";
import { missingForIntegration } from "./gates.ts";
import {
  fetchImage,
  pushOciLayout,
  writeOciLayout,
  type Descriptor,
  type FetchedImage,
} from "./oci-image.ts";

export interface GoConvertOptions {
  registry: TestRegistry;
  containerd: TestContainerd;
  /** Scratch directory for the source OCI layout. */
  dir: string;
  /** The uncompressed layer tar. */
  tar: Uint8Array;
  /** Repository name in the test registry; ":src" and ":esgz" tags are used. */
  repo?: string;
  /** `--estargz-chunk-size`; Go's default (4 MiB) when omitted. */
  chunkSize?: number;
  /** `--estargz-compression-level`; Go's default (9) when omitted. */
  compressionLevel?: number;
  /** Files to put first, passed as an `--estargz-record-in` file. */
  prioritizedFiles?: string[];
}

export interface GoConversion {
  /** The converted eStargz blob. */
  blob: Buffer;
  /** Its descriptor from the pushed manifest (with Go's annotations). */
  descriptor: Descriptor;
  /** diffID Go recorded in the converted image's config. */
  diffID: string;
  image: FetchedImage;
}

/** Why the Go converter cannot run here, or undefined. */
export function goReferenceSkipReason(): string | undefined {
  return missingForIntegration(["containerd", "ctr-remote", "docker-registry", "skopeo"]);
}

export async function convertWithGo(options: GoConvertOptions): Promise<GoConversion> {
  const { registry, containerd } = options;
  const repo = options.repo ?? "compat/fixture";
  const source = `${registry.host}/${repo}:src`;
  const target = `${registry.host}/${repo}:esgz`;
  const layout = await writeOciLayout(join(options.dir, "source-oci"), [
    { blob: gzipSync(options.tar) },
  ]);
  await pushOciLayout(layout, source);
  await containerd.ctrRemote(["image", "pull", "--plain-http", source]);
  const convertFlags = ["--estargz", "--oci"];
  if (options.chunkSize !== undefined)
    convertFlags.push("--estargz-chunk-size", `${options.chunkSize}`);
  if (options.compressionLevel !== undefined) {
    convertFlags.push("--estargz-compression-level", `${options.compressionLevel}`);
  }
  if (options.prioritizedFiles !== undefined) {
    const recordFile = join(options.dir, "record.jsonl");
    const lines = options.prioritizedFiles.map((path) => JSON.stringify({ path }) + "\n");
    await writeFile(recordFile, lines.join(""));
    convertFlags.push("--estargz-record-in", recordFile);
  }
  await containerd.ctrRemote(["image", "convert", ...convertFlags, source, target]);
  await containerd.ctrRemote(["image", "push", "--plain-http", target]);
  const image = await fetchImage(registry.url, repo, "esgz");
  const [layer, ...rest] = image.layers;
  const diffID = image.config.rootfs.diff_ids[0];
  if (layer === undefined || rest.length > 0 || diffID === undefined) {
    throw new Error(`converted image has ${image.layers.length} layers, expected 1`);
  }
  return { blob: layer.blob, descriptor: layer.descriptor, diffID, image };
}
