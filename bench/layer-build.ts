/**
 * Benchmark: build one eStargz layer from ~500 MB of real files, with our
 * builder (`stargz layer build`) and with the Go reference
 * (`ctr-remote image convert --estargz --oci`) on the same content, on the
 * same machine. Prints wall times (each run) and peak RSS (from
 * /usr/bin/time -v) as JSON and a markdown table row.
 *
 *   node bench/layer-build.ts [--size-mb 500] [--runs 3] [--root /usr]
 *
 * Needs root, containerd, ctr-remote, docker-registry, skopeo (scripts/provision.sh).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { availableParallelism, cpus } from "node:os";
import { makeTempDir } from "../test/support/tmp.ts";
import { startRegistry } from "../test/support/registry.ts";
import { startContainerd } from "../test/support/containerd.ts";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "500" },
    runs: { type: "string", default: "3" },
    root: { type: "string", default: "/usr" },
  },
});
const targetBytes = Number(values["size-mb"]) * 1e6;
const runs = Number(values.runs);
const cli = join(import.meta.dirname, "..", "src", "cli", "main.ts");

interface Measure {
  seconds: number;
  maxRssMiB: number;
}

/** Runs a command under /usr/bin/time -v; returns wall seconds and peak RSS. */
function timed(command: string, args: string[]): Measure {
  const start = process.hrtime.bigint();
  const result = spawnSync("/usr/bin/time", ["-v", command, ...args], { encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  return { seconds, maxRssMiB: rss ? Number(rss[1]) / 1024 : NaN };
}

/** Regular files under root, in a stable order, until their sizes add up to the target. */
function pickFiles(root: string): { files: string[]; bytes: number } {
  const all = execFileSync("find", [root, "-xdev", "-type", "f", "-printf", "%s %p\\n"], {
    maxBuffer: 1 << 28,
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const space = line.indexOf(" ");
      return { size: Number(line.slice(0, space)), path: line.slice(space + 1) };
    })
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const files: string[] = [];
  let bytes = 0;
  for (const file of all) {
    if (bytes >= targetBytes) break;
    files.push(file.path.slice(1));
    bytes += file.size;
  }
  return { files, bytes };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/** An OCI layout with one gzip layer, for skopeo to push. */
async function writeLayout(dir: string, layerGz: string, layerTar: string): Promise<void> {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const layerDigest = await sha256File(layerGz);
  execFileSync("cp", [layerGz, join(blobs, layerDigest.slice(7))]);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [await sha256File(layerTar)] },
      config: {},
    }),
  );
  const put = (data: Buffer): { digest: string; size: number } => {
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    writeFileSync(join(blobs, digest.slice(7)), data);
    return { digest, size: data.length };
  };
  const configDesc = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: layerDigest,
          size: statSync(layerGz).size,
        },
      ],
    }),
  );
  const manifestDesc = put(manifest);
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestDesc,
          annotations: { "org.opencontainers.image.ref.name": "latest" },
        },
      ],
    }),
  );
}

function summary(
  label: string,
  measures: Measure[],
): { label: string; seconds: number[]; medianSeconds: number; maxRssMiB: number } {
  const seconds = measures.map((m) => m.seconds).sort((a, b) => a - b);
  return {
    label,
    seconds,
    medianSeconds: seconds[Math.floor(seconds.length / 2)]!,
    maxRssMiB: Math.max(...measures.map((m) => m.maxRssMiB)),
  };
}

const tmp = await makeTempDir("sgz-bench-");
const registry = await startRegistry({ dir: join(tmp.path, "registry") });
const containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
try {
  const { files, bytes } = pickFiles(values.root!);
  const list = join(tmp.path, "files.txt");
  writeFileSync(list, files.join("\n") + "\n");
  const layerTar = join(tmp.path, "layer.tar");
  execFileSync("tar", ["--format=pax", "-C", "/", "--no-recursion", "-cf", layerTar, "-T", list]);
  const layerGz = `${layerTar}.gz`;
  execFileSync("sh", ["-c", `gzip -1 -c ${layerTar} > ${layerGz}`]);
  await writeLayout(join(tmp.path, "layout"), layerGz, layerTar);
  const source = `${registry.host}/bench/source:latest`;
  execFileSync(
    "skopeo",
    [
      "copy",
      "--dest-tls-verify=false",
      `oci:${join(tmp.path, "layout")}:latest`,
      `docker://${source}`,
    ],
    { stdio: "ignore" },
  );
  await containerd.ctr(["image", "pull", "--plain-http", source]);

  const ours: Measure[] = [];
  const go: Measure[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(
      timed(process.execPath, [cli, "layer", "build", layerGz, join(tmp.path, `ours-${i}.esgz`)]),
    );
    go.push(
      timed("ctr-remote", [
        "--address",
        containerd.address,
        "image",
        "convert",
        "--estargz",
        "--oci",
        source,
        `bench/converted:${i}`,
      ]),
    );
  }
  const machine = `${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, Node ${process.version}`;
  const result = {
    machine,
    inputFiles: files.length,
    inputMB: Math.round(bytes / 1e6),
    tarMB: Math.round(statSync(layerTar).size / 1e6),
    ours: summary("stargz layer build", ours),
    go: summary("ctr-remote image convert --estargz --oci", go),
  };
  console.log(JSON.stringify(result, null, 2));
  const ratio = result.ours.medianSeconds / result.go.medianSeconds;
  console.log(
    `| ${result.inputMB} MB, ${files.length} files | ${result.ours.medianSeconds.toFixed(2)} s, ${result.ours.maxRssMiB.toFixed(0)} MiB | ${result.go.medianSeconds.toFixed(2)} s, ${result.go.maxRssMiB.toFixed(0)} MiB | ${ratio.toFixed(2)}x |`,
  );
} finally {
  await containerd.stop();
  await registry.stop();
  await tmp.remove();
}
