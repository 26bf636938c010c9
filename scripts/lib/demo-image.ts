/**
 * The demo image: a Debian 12 root filesystem with python3, built with
 * debootstrap from the Debian mirror apt uses on this machine, split into a
 * few layers like a real image, written as an OCI layout and pushed with
 * skopeo. The rootfs tarball is cached, so only the first run downloads.
 * Shared by scripts/demo.ts and the benchmarks in bench/.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { run } from "./exec.ts";

export interface RootfsOptions {
  /** Where the rootfs tarball is kept between runs. */
  cacheDir?: string;
  suite?: string;
  /** Packages added to debootstrap's minbase variant. */
  include?: readonly string[];
  /** A Debian mirror URL; default: the one apt uses here (see aptMirror()). */
  mirror?: string;
  log?: (line: string) => void;
}

export const defaultCacheDir = "/var/cache/stargz-operator";

/** python3 with pip and numpy: about 300 MB unpacked, the scale of a typical Python image. */
export const demoPackages: readonly string[] = ["python3", "python3-pip", "python3-numpy"];

/** The Debian mirror named in /etc/apt/sources.list*, for the main archive. */
export async function aptMirror(): Promise<string> {
  const files = ["/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of (await readdir(dir)).sort()) files.push(join(dir, f));
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = await readFile(file, "utf8");
    const url = mirrorIn(text);
    if (url !== undefined) return url;
  }
  return "http://deb.debian.org/debian";
}

/** The first URI of a `deb` source for the Debian main archive (not security, not third party). */
export function mirrorIn(sourcesText: string): string | undefined {
  const candidates: string[] = [];
  for (const line of sourcesText.split("\n")) {
    const oneLine = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (oneLine?.[1] && oneLine[2] && !oneLine[2].includes("security")) candidates.push(oneLine[1]);
    const deb822 = /^\s*URIs:\s*(.+)$/i.exec(line);
    if (deb822?.[1]) candidates.push(...deb822[1].trim().split(/\s+/));
  }
  return candidates.find((u) => /\/debian\/?$/.test(u) && !u.includes("security"));
}

/** Builds (or finds in the cache) a tarball of a debootstrapped root filesystem. */
export async function demoRootfsTar(options: RootfsOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const suite = options.suite ?? "bookworm";
  const include = options.include ?? demoPackages;
  const mirror = options.mirror ?? (await aptMirror());
  const cacheDir = options.cacheDir ?? defaultCacheDir;
  const key = createHash("sha256")
    .update(JSON.stringify({ v: 1, suite, include, variant: "minbase" }))
    .digest("hex")
    .slice(0, 16);
  const tarFile = join(cacheDir, `demo-rootfs-${key}.tar`);
  if (existsSync(tarFile)) {
    log(`using the cached root filesystem ${tarFile}`);
    return tarFile;
  }
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, "build-"));
  try {
    const rootfs = join(work, "rootfs");
    log(`debootstrap --variant=minbase --include=${include.join(",")} ${suite} from ${mirror}`);
    log("(a few minutes, once: the result is cached)");
    await run("debootstrap", [
      "--variant=minbase",
      `--include=${include.join(",")}`,
      suite,
      rootfs,
      mirror,
    ]);
    // What a container image leaves out: package caches and device nodes.
    await run("sh", [
      "-c",
      'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/* "$1"/dev/* "$1"/proc/* "$1"/sys/*',
      "sh",
      rootfs,
    ]);
    const partial = join(work, "rootfs.tar");
    await run("tar", ["--numeric-owner", "--sort=name", "-C", rootfs, "-cf", partial, "."]);
    await rename(partial, tarFile);
    return tarFile;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One layer of the demo image: the paths of the rootfs it holds. */
export interface LayerSplit {
  name: string;
  /** Directories (relative, e.g. "usr/lib") this layer holds. Empty: everything not in another layer. */
  paths: string[];
}

export const demoLayers: readonly LayerSplit[] = [
  { name: "base", paths: [] },
  { name: "usr-share", paths: ["usr/share"] },
  { name: "usr-lib", paths: ["usr/lib"] },
  { name: "python-stdlib", paths: ["usr/lib/python3.11"] },
  { name: "python-packages", paths: ["usr/lib/python3"] },
];

export interface LayerFile {
  name: string;
  /** gzip blob on disk. */
  file: string;
  digest: string;
  size: number;
  diffID: string;
}

/**
 * Unpacks the rootfs tarball and tars it again as one gzip layer per split,
 * each path in exactly one layer (the first split that names a prefix of it).
 */
export async function splitLayers(
  rootfsTar: string,
  dir: string,
  splits: readonly LayerSplit[] = demoLayers,
): Promise<LayerFile[]> {
  const rootfs = join(dir, "rootfs");
  await mkdir(rootfs, { recursive: true });
  await run("tar", ["--numeric-owner", "-xpf", rootfsTar, "-C", rootfs]);
  const layers: LayerFile[] = [];
  for (const [i, split] of splits.entries()) {
    const tarFile = join(dir, `${split.name}.tar`);
    const owned = split.paths.length > 0 ? split.paths : ["."];
    // Paths named by other splits are left out: earlier ones already hold them,
    // later ones will. A split naming a subdirectory of another wins for it.
    const others = splits.flatMap((s, j) => (j === i ? [] : s.paths));
    const excludes = others
      .filter((p) => owned.some((o) => o === "." || p.startsWith(`${o}/`)))
      .map((p) => `--exclude=./${p}`);
    await run("tar", [
      "--numeric-owner",
      "--sort=name",
      "--mtime=2024-01-01",
      "-C",
      rootfs,
      "-cf",
      tarFile,
      ...excludes,
      ...owned.map((p) => (p === "." ? "." : `./${p}`)),
    ]);
    layers.push(await gzipLayer(split.name, tarFile));
    await rm(tarFile);
  }
  await rm(rootfs, { recursive: true, force: true });
  return layers;
}

async function gzipLayer(name: string, tarFile: string): Promise<LayerFile> {
  const file = `${tarFile}.gz`;
  const diff = createHash("sha256");
  const blob = createHash("sha256");
  await pipeline(
    createReadStream(tarFile),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        diff.update(chunk);
        yield chunk;
      }
    },
    createGzip({ level: 6 }),
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        blob.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(file),
  );
  return {
    name,
    file,
    digest: `sha256:${blob.digest("hex")}`,
    size: (await stat(file)).size,
    diffID: `sha256:${diff.digest("hex")}`,
  };
}

/** Writes an OCI image layout for the layers (linux/amd64, python3 as the command) and returns its dir. */
export async function writeDemoLayout(
  dir: string,
  layers: LayerFile[],
  tag: string,
): Promise<string> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const put = async (data: string): Promise<{ digest: string; size: number }> => {
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    await writeFile(join(blobs, digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  for (const l of layers) await rename(l.file, join(blobs, l.digest.slice(7)));
  const config = await put(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {
        Cmd: ["python3"],
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
      history: layers.map((l) => ({ created_by: `demo layer ${l.name}` })),
    }),
  );
  const manifestType = "application/vnd.oci.image.manifest.v1+json";
  const manifest = await put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
    }),
  );
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: manifestType,
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
  return dir;
}

/** Pushes an OCI layout's tag to a plain-HTTP registry ("host:port/repo:tag"). */
export async function pushLayout(
  dir: string,
  tag: string,
  dest: string,
  wrap: readonly string[] = [],
): Promise<void> {
  const [command, ...prefix] = [...wrap, "skopeo"];
  await run(command as string, [
    ...prefix,
    "--insecure-policy",
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${dir}:${tag}`,
    `docker://${dest}`,
  ]);
}

export interface DemoImage {
  /** The gzip image, as any registry would serve it. */
  legacyRef: string;
  layers: LayerFile[];
}

/** Builds the demo image (cached rootfs, split, layout) in `workDir` and pushes it to `ref`. */
export async function buildAndPushDemoImage(
  workDir: string,
  ref: string,
  options: RootfsOptions & { wrap?: readonly string[] } = {},
): Promise<DemoImage> {
  const rootfsTar = await demoRootfsTar(options);
  const layers = await splitLayers(rootfsTar, join(workDir, "layers"));
  const layout = await writeDemoLayout(join(workDir, "layout"), layers, "demo");
  await pushLayout(layout, "demo", ref, options.wrap);
  await rm(join(workDir, "layers"), { recursive: true, force: true });
  await rm(layout, { recursive: true, force: true });
  return { legacyRef: ref, layers };
}
