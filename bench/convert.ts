/**
 * Benchmark: convert a ~5-layer image built from real files on this machine
 * (subtrees of /usr, about 300 MB of tar) from one repository of a local
 * registry to another, with `stargz image convert` and with the Go reference:
 * `ctr image pull` + `ctr-remote image convert --estargz --oci` +
 * `ctr image push` against a test containerd. Same registry, same source,
 * default settings on both sides (gzip level 9, 4 MiB chunks). Runs
 * alternate between the two tools; each run gets a fresh target repository
 * (and, for the Go side, a fresh containerd) so nothing is reused.
 *
 *   node bench/convert.ts [--runs 3] [--dirs usr/include,usr/share/doc,...]
 *
 * Needs root, containerd, ctr, ctr-remote, docker-registry, skopeo, tar.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeTempDir } from "../test/support/tmp.ts";
import { startRegistry } from "../test/support/registry.ts";
import { startContainerd } from "../test/support/containerd.ts";
import { run } from "../test/support/process.ts";
import { buildImage, writeOciLayout } from "../test/support/test-image.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    dirs: {
      type: "string",
      default: "usr/include,usr/share/doc,usr/lib/python3,usr/libexec,usr/share/perl",
    },
  },
});
const runs = Number(values.runs);
const dirs = (values.dirs ?? "").split(",").filter(Boolean);
const cli = join(import.meta.dirname, "..", "src", "cli", "main.ts");

interface Measure {
  seconds: number;
  /** user + system CPU seconds */
  cpu: number;
  maxRssMiB: number;
}

function timed(command: string, args: string[]): Measure {
  const start = process.hrtime.bigint();
  const result = spawnSync("/usr/bin/time", ["-v", command, ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr.slice(-2000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr);
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(result.stderr)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(result.stderr)?.[1] ?? NaN);
  return { seconds, cpu: user + sys, maxRssMiB: rss ? Number(rss[1]) / 1024 : NaN };
}

/** CPU seconds a running process (containerd) has used so far, from /proc (100 ticks/s). */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const tmp = await makeTempDir("sgz-bench-");
try {
  // 1. The source image: one layer per directory, gzip level 6 as docker writes them.
  const tars: Buffer[] = [];
  for (const [i, dir] of dirs.entries()) {
    const file = join(tmp.path, `layer${i}.tar`);
    await run("tar", ["-C", "/", "--sort=name", "-cf", file, dir]);
    tars.push(await readFile(file));
  }
  const image = buildImage(tars, { gzipLevel: 6 });
  const tarBytes = tars.reduce((n, t) => n + t.length, 0);
  const gzBytes = image.layers.reduce((n, l) => n + l.size, 0);
  tars.length = 0;
  const layout = join(tmp.path, "layout");
  await writeOciLayout(layout, image, "v1");
  const registry = await startRegistry({ dir: join(tmp.path, "registry") });
  const src = `${registry.host}/bench/source:v1`;
  await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:v1`, `docker://${src}`]);
  console.error(
    `source: ${dirs.length} layers, ${(tarBytes / 1e6).toFixed(0)} MB tar, ${(gzBytes / 1e6).toFixed(0)} MB gzip`,
  );

  const ours: Measure[] = [];
  const go: (Measure & { pull: number; convert: number; push: number })[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const dst = `${registry.host}/bench/ours-${r}:esgz`;
      const m = timed(process.execPath, [
        cli,
        "image",
        "convert",
        "--plain-http",
        "--progress",
        "plain",
        src,
        dst,
      ]);
      ours.push(m);
      console.error(`ours run ${r}: ${m.seconds.toFixed(1)} s, ${m.maxRssMiB.toFixed(0)} MiB`);

      const containerd = await startContainerd({ dir: join(tmp.path, `containerd-${r}`) });
      try {
        const base = ["--address", containerd.address, "--namespace", "default"];
        const goDst = `${registry.host}/bench/go-${r}:esgz`;
        const daemonBefore = processCpu(containerd.process.pid);
        const pull = timed("ctr", [...base, "image", "pull", "--plain-http", src]);
        const convert = timed("ctr-remote", [
          ...base,
          "image",
          "convert",
          "--estargz",
          "--oci",
          src,
          goDst,
        ]);
        const push = timed("ctr", [...base, "image", "push", "--plain-http", goDst]);
        const total = pull.seconds + convert.seconds + push.seconds;
        go.push({
          seconds: total,
          cpu:
            pull.cpu + convert.cpu + push.cpu + processCpu(containerd.process.pid) - daemonBefore,
          maxRssMiB: Math.max(pull.maxRssMiB, convert.maxRssMiB, push.maxRssMiB),
          pull: pull.seconds,
          convert: convert.seconds,
          push: push.seconds,
        });
        console.error(
          `go run ${r}: ${total.toFixed(1)} s (pull ${pull.seconds.toFixed(1)}, convert ${convert.seconds.toFixed(1)}, push ${push.seconds.toFixed(1)})`,
        );
      } finally {
        await containerd.stop();
      }
    }
  } finally {
    await registry.stop();
  }
  const result = {
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}`,
    source: { layers: dirs.length, dirs, tarMB: tarBytes / 1e6, gzipMB: gzBytes / 1e6 },
    ours: ours.map((m) => ({
      s: +m.seconds.toFixed(2),
      cpuS: +m.cpu.toFixed(1),
      rssMiB: +m.maxRssMiB.toFixed(0),
    })),
    go: go.map((m) => ({
      s: +m.seconds.toFixed(2),
      cpuS: +m.cpu.toFixed(1),
      pull: +m.pull.toFixed(2),
      convert: +m.convert.toFixed(2),
      push: +m.push.toFixed(2),
      convertRssMiB: +m.maxRssMiB.toFixed(0),
    })),
    medianOurs: +median(ours.map((m) => m.seconds)).toFixed(2),
    medianGo: +median(go.map((m) => m.seconds)).toFixed(2),
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `| ${dirs.length} layers, ${(tarBytes / 1e6).toFixed(0)} MB tar / ${(gzBytes / 1e6).toFixed(0)} MB gzip | ${result.medianOurs} s | ${result.medianGo} s | ${(result.medianOurs / result.medianGo).toFixed(2)}x |`,
  );
} finally {
  await tmp.remove();
}
