/**
 * The Go reference as a judge: test/go/estargz-verify built offline (GOPATH
 * mode) against Debian's golang-github-containerd-stargz-snapshotter-dev,
 * cached per source hash under the temp dir, and run on blob files.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { hasCommand } from "./gates.ts";

const exec = promisify(execFile);
const source = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "go",
  "estargz-verify",
  "main.go",
);
const gocode = "/usr/share/gocode";
/** Every package the verifier and Go's estargz package import, outside the standard library. */
const goPackages = [
  "github.com/containerd/stargz-snapshotter/estargz",
  "github.com/opencontainers/go-digest",
  "github.com/vbatts/tar-split/archive/tar",
  "github.com/klauspost/compress/zstd",
  "golang.org/x/sync/errgroup",
];

/** One TOC entry as the Go verifier lists it (chunks folded into their file). */
export interface GoEntry {
  name: string;
  rawName: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  modtime: string;
  linkName: string;
  devMajor: number;
  devMinor: number;
  xattrs: Record<string, string>;
  /** The TOC's digest field. */
  digest: string;
  /** sha256 of the content Go read and verified (regular files). */
  sha256: string;
  chunks: number;
}

export interface GoSummary {
  tocDigest: string;
  tocVersion: number;
  /** 51 for eStargz, 47 for legacy stargz. */
  footerSize: number;
  /** sha256 of the whole blob decompressed as one gzip stream. */
  diffID: string;
  blobSize: number;
  entries: number;
}

export interface GoVerification {
  entries: GoEntry[];
  summary: GoSummary;
}

/** Why the Go verifier cannot run here, or undefined. */
export function goVerifierSkipReason(): string | undefined {
  if (!hasCommand("go")) return "missing go (apt: golang-go)";
  const missing = goPackages.filter((p) => !existsSync(join(gocode, "src", p)));
  return missing.length > 0
    ? `missing Go packages under ${gocode}: ${missing.join(", ")} (apt: golang-github-containerd-stargz-snapshotter-dev)`
    : undefined;
}

let built: Promise<string> | undefined;

/** Path of the verifier binary, built once per source version. */
export function goVerifierBinary(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const hash = createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `stargz-go-verifier-${hash}`);
  const binary = join(dir, "estargz-verify");
  if (existsSync(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const staging = `${binary}.${process.pid}.tmp`;
  await exec("go", ["build", "-o", staging, source], {
    cwd: dir,
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: `${join(dir, "gopath")}:${gocode}`,
      GOPROXY: "off",
      GOFLAGS: "",
      GOCACHE: join(tmpdir(), "stargz-go-build-cache"),
    },
  });
  await rename(staging, binary); // atomic: concurrent test files may build too
  return binary;
}

/** Runs the verifier; rejects with its stderr when the blob fails any check. */
export async function verifyWithGo(
  blobFile: string,
  options: { tocDigest?: string } = {},
): Promise<GoVerification> {
  const binary = await goVerifierBinary();
  const args = options.tocDigest ? ["-toc-digest", options.tocDigest, blobFile] : [blobFile];
  const { stdout } = await exec(binary, args, { maxBuffer: 64 << 20 });
  const lines = stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown);
  const summary = lines.pop() as GoSummary | undefined;
  if (summary?.tocDigest === undefined) throw new Error(`no summary line from ${binary}`);
  return { entries: lines as GoEntry[], summary };
}
