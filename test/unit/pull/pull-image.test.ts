/**
 * pullImage's decisions against a fake registry and a fake containerd: which
 * calls it makes, in what order, with which labels, and what it cleans up.
 * The real protocol is covered by test/integration/rpull*.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  pullImage,
  chainIds,
  type PullContainerd,
  type PullRegistry,
  type PullSession,
} from "../../../src/pull/index.ts";
import {
  parseReference,
  type Descriptor,
  type ResolvedImage,
} from "../../../src/registry/index.ts";
import { StargzError, isErrorCode } from "../../../src/util/errors.ts";
import type { WireMount } from "../../../src/containerd/index.ts";

const sha = (s: string): string => "sha256:" + createHash("sha256").update(s).digest("hex");
const layerBytes = ["layer-zero-bytes", "layer-one-bytes"];
const diffIds = [sha("tar0"), sha("tar1")];
const chain = chainIds(diffIds);
const layers: Descriptor[] = layerBytes.map((b, i) => ({
  mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
  digest: sha(b),
  size: b.length,
  ...(i === 1 ? { annotations: { "containerd.io/snapshot/stargz/toc.digest": sha("toc1") } } : {}),
}));
const configBytes = Buffer.from(JSON.stringify({ rootfs: { type: "layers", diff_ids: diffIds } }));
const config: Descriptor = {
  mediaType: "application/vnd.oci.image.config.v1+json",
  digest: sha(configBytes.toString()),
  size: configBytes.length,
};
const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers }));
const manifestDesc: Descriptor = {
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: sha(manifestBytes.toString()),
  size: manifestBytes.length,
};
const ref = parseReference("reg.example:5000/team/app:1");

function fakeRegistry(withIndex = false): PullRegistry & { streamed: string[] } {
  const streamed: string[] = [];
  const manifest = {
    descriptor: manifestDesc,
    bytes: manifestBytes,
    kind: "manifest" as const,
    manifest: { schemaVersion: 2 as const, config, layers },
  };
  const indexBytes = Buffer.from("{index}");
  const other = {
    mediaType: manifestDesc.mediaType,
    digest: sha("other"),
    size: 3,
    platform: { os: "linux", architecture: "arm64" },
  };
  const resolved: ResolvedImage = withIndex
    ? {
        manifest,
        index: {
          descriptor: {
            mediaType: "application/vnd.oci.image.index.v1+json",
            digest: sha("{index}"),
            size: indexBytes.length,
          },
          bytes: indexBytes,
          kind: "index",
          index: {
            schemaVersion: 2,
            manifests: [
              other,
              { ...manifestDesc, platform: { os: "linux", architecture: "amd64" } },
            ],
          },
        },
      }
    : { manifest };
  return {
    streamed,
    resolve: async () => resolved,
    fetchBlob: async (_r, blob) => {
      assert.equal(blob.digest, config.digest);
      return configBytes;
    },
    blobStream: async function* (_r, blob) {
      streamed.push(blob.digest);
      yield Buffer.from(layerBytes[layers.findIndex((l) => l.digest === blob.digest)]!);
    },
  };
}

type Call = [string, ...unknown[]];

interface FakeOptions {
  /** Layers (by index) the snapshotter mounts remotely. */
  remote?: number[];
  /** Snapshots that exist before the pull. */
  existing?: string[];
  applyDigest?: (layer: number) => string;
  applyFails?: boolean;
  /** Prepare answers ALREADY_EXISTS but the chainID never appears. */
  phantom?: boolean;
}

function fakeContainerd(o: FakeOptions = {}): PullContainerd & {
  calls: Call[];
  snapshots: Set<string>;
  labels: Map<string, Record<string, string>>;
} {
  const calls: Call[] = [];
  const snapshots = new Set(o.existing ?? []);
  const labels = new Map<string, Record<string, string>>();
  const blobs = new Set<string>();
  const mounts: WireMount[] = [{ type: "bind", source: "/x", target: "", options: ["rw"] }];
  const notFound = (what: string): StargzError => new StargzError("NOT_FOUND", what);
  const session = (lease: string): PullSession => ({
    content: {
      write: async (desc, data, opts) => {
        calls.push(["write", desc.digest, opts.ref, opts.labels, lease]);
        if (blobs.has(desc.digest)) return { existed: true, bytesWritten: 0 };
        let n = 0;
        if (data instanceof Uint8Array) n = data.length;
        else for await (const c of data) n += c.length;
        blobs.add(desc.digest);
        labels.set(desc.digest, { ...opts.labels });
        return { existed: false, bytesWritten: n };
      },
      info: async (digest) => ({
        digest,
        size: 0,
        created_at: null,
        updated_at: null,
        labels: labels.get(digest) ?? {},
      }),
      setLabels: async (digest, l) => {
        calls.push(["setLabels", digest, l]);
        labels.set(digest, { ...labels.get(digest), ...l });
        return { digest, size: 0, created_at: null, updated_at: null, labels: labels.get(digest)! };
      },
    },
    images: {
      put: async (record) => {
        calls.push(["putImage", record.name, record.target.digest]);
        return { ...record, labels: {}, created_at: null, updated_at: null };
      },
    },
    diff: {
      apply: async (layer) => {
        calls.push(["apply", layer.digest]);
        if (o.applyFails) throw new StargzError("INTERNAL", "apply exploded");
        const i = layers.findIndex((l) => l.digest === layer.digest);
        return {
          media_type: "application/vnd.oci.image.layer.v1.tar",
          digest: o.applyDigest?.(i) ?? diffIds[i]!,
          size: 1,
          annotations: {},
        };
      },
    },
    snapshots: (name) => ({
      stat: async (key) => {
        calls.push(["stat", name, key]);
        if (!snapshots.has(key)) throw notFound(key);
        return {
          name: key,
          parent: "",
          kind: "COMMITTED",
          created_at: null,
          updated_at: null,
          labels: {},
        };
      },
      prepare: async (key, parent, l) => {
        calls.push(["prepare", name, key, parent, l]);
        const target = l["containerd.io/snapshot.ref"]!;
        if (o.phantom) throw new StargzError("ALREADY_EXISTS", "target exists");
        if ((o.remote ?? []).includes(chain.indexOf(target))) {
          snapshots.add(target);
          throw new StargzError("ALREADY_EXISTS", "target exists");
        }
        return mounts;
      },
      commit: async (n, key, l) => {
        calls.push(["commit", name, n, key, l]);
        snapshots.add(n);
      },
      remove: async (key) => {
        calls.push(["remove", name, key]);
      },
    }),
  });
  return {
    calls,
    snapshots,
    labels,
    address: "/fake.sock",
    namespace: "default",
    leases: {
      create: async () => {
        calls.push(["createLease"]);
        return { id: "L1", created_at: null, labels: {} };
      },
      delete: async (id) => {
        calls.push(["deleteLease", id]);
      },
    },
    withLease: session,
  };
}

let n = 0;
const uniquePart = (): string => `u${n++}`;

test("remote layers: Prepare answers ALREADY_EXISTS, no blob is fetched", async () => {
  const registry = fakeRegistry();
  const cd = fakeContainerd({ remote: [0, 1] });
  const result = await pullImage({ registry, containerd: cd, ref, uniquePart });
  assert.deepEqual(
    result.layers.map((l) => l.mode),
    ["remote", "remote"],
  );
  assert.deepEqual(registry.streamed, []);
  assert.equal(result.bytesDownloaded, manifestBytes.length + configBytes.length);
  assert.equal(result.chainId, chain[1]);
  const prepares = cd.calls.filter((c) => c[0] === "prepare");
  assert.equal(prepares[0]![1], "stargz");
  assert.match(String(prepares[0]![2]), new RegExp(`^extract-u\\d+ ${chain[0]}$`));
  assert.equal(prepares[0]![3], "");
  assert.equal(prepares[1]![3], chain[0]);
  const l1 = prepares[1]![4] as Record<string, string>;
  assert.equal(l1["containerd.io/snapshot/stargz/toc.digest"], sha("toc1"));
  assert.equal(l1["containerd.io/snapshot/remote/stargz.reference"], "reg.example:5000/team/app:1");
  // GC root for the snapshots, then the image record, then the lease goes.
  assert.deepEqual(
    cd.labels.get(config.digest)?.["containerd.io/gc.ref.snapshot.stargz"],
    chain[1],
  );
  const tail = cd.calls.slice(-2).map((c) => c[0]);
  assert.deepEqual(tail, ["putImage", "deleteLease"]);
  assert.ok(
    cd.calls.filter((c) => c[0] === "write").every((c) => c[4] === "L1"),
    "every write carries the lease",
  );
});

test("fallback: download into the content store, apply, commit under the chainID", async () => {
  const registry = fakeRegistry();
  const cd = fakeContainerd();
  const seen: string[] = [];
  const result = await pullImage({
    registry,
    containerd: cd,
    ref,
    snapshotter: "overlayfs",
    uniquePart,
    onLayer: (l) => seen.push(l.mode),
  });
  assert.deepEqual(seen, ["fallback", "fallback"]);
  assert.match(String(result.layers[0]!.reason), /not eStargz/);
  assert.match(String(result.layers[1]!.reason), /did not mount it remotely/);
  assert.deepEqual(
    registry.streamed,
    layers.map((l) => l.digest),
  );
  assert.deepEqual(
    result.layers.map((l) => l.bytesDownloaded),
    layerBytes.map((b) => b.length),
  );
  const commits = cd.calls.filter((c) => c[0] === "commit");
  assert.deepEqual(
    commits.map((c) => c[2]),
    chain,
  );
  const prepares = cd.calls.filter((c) => c[0] === "prepare");
  assert.deepEqual(
    commits.map((c) => c[3]),
    prepares.map((c) => c[2]),
    "commit names the prepared key",
  );
  assert.deepEqual(commits[1]![4], prepares[1]![4], "commit carries Prepare's labels");
  assert.equal(cd.labels.get(layers[1]!.digest)?.["containerd.io/uncompressed"], diffIds[1]);
  const writeRefs = cd.calls.filter((c) => c[0] === "write").map((c) => c[2]);
  assert.deepEqual(writeRefs, [
    `config-${config.digest}`,
    `manifest-${manifestDesc.digest}`,
    `layer-${layers[0]!.digest}`,
    `layer-${layers[1]!.digest}`,
  ]);
  assert.equal(
    cd.labels.get(manifestDesc.digest)?.["containerd.io/gc.ref.content.l.1"],
    layers[1]!.digest,
  );
});

test("existing snapshots are skipped without Prepare", async () => {
  const cd = fakeContainerd({ existing: [chain[0]!], remote: [1] });
  const result = await pullImage({ registry: fakeRegistry(), containerd: cd, ref, uniquePart });
  assert.deepEqual(
    result.layers.map((l) => l.mode),
    ["present", "remote"],
  );
  assert.equal(cd.calls.filter((c) => c[0] === "prepare").length, 1);
});

test("a failed apply removes the active snapshot, names the layer and still deletes the lease", async () => {
  const cd = fakeContainerd({ applyFails: true });
  await assert.rejects(
    pullImage({ registry: fakeRegistry(), containerd: cd, ref, uniquePart }),
    (err: unknown) => {
      assert.ok(err instanceof StargzError);
      assert.equal(err.code, "INTERNAL");
      assert.match(err.message, /cannot unpack layer 1\/2 sha256:/);
      assert.equal(err.context.layer, layers[0]!.digest);
      assert.equal(err.context.image, "reg.example:5000/team/app:1");
      return true;
    },
  );
  const prepared = cd.calls.find((c) => c[0] === "prepare")![2];
  assert.deepEqual(
    cd.calls.find((c) => c[0] === "remove"),
    ["remove", "stargz", prepared],
  );
  assert.equal(cd.calls.at(-1)![0], "deleteLease");
  assert.equal(
    cd.calls.filter((c) => c[0] === "putImage").length,
    0,
    "no image record for a failed pull",
  );
});

test("a diffID that does not match the config is DATA_LOSS and nothing is committed", async () => {
  const cd = fakeContainerd({ applyDigest: () => sha("something else") });
  await assert.rejects(
    pullImage({ registry: fakeRegistry(), containerd: cd, ref, uniquePart }),
    (err: unknown) => isErrorCode(err, "DATA_LOSS"),
  );
  assert.equal(cd.calls.filter((c) => c[0] === "commit").length, 0);
  assert.equal(cd.calls.filter((c) => c[0] === "remove").length, 1);
});

test("ALREADY_EXISTS without the chainID appearing is retried with new keys, three times", async () => {
  const cd = fakeContainerd({ phantom: true });
  await assert.rejects(
    pullImage({ registry: fakeRegistry(), containerd: cd, ref, uniquePart }),
    (err: unknown) => isErrorCode(err, "ALREADY_EXISTS"),
  );
  const keys = cd.calls.filter((c) => c[0] === "prepare").map((c) => c[2]);
  assert.equal(keys.length, 3);
  assert.equal(new Set(keys).size, 3);
});

test("an index is stored with GC labels for every manifest and becomes the image's target", async () => {
  const registry = fakeRegistry(true);
  const cd = fakeContainerd({ remote: [0, 1] });
  const result = await pullImage({ registry, containerd: cd, ref, uniquePart });
  assert.equal(result.target.mediaType, "application/vnd.oci.image.index.v1+json");
  const put = cd.calls.find((c) => c[0] === "putImage")!;
  assert.equal(put[2], result.target.digest);
  const labels = cd.labels.get(result.target.digest)!;
  assert.equal(labels["containerd.io/gc.ref.content.m.0"], sha("other"));
  assert.equal(labels["containerd.io/gc.ref.content.m.1"], manifestDesc.digest);
  assert.equal(labels["containerd.io/distribution.source.reg.example"], "team/app");
});

test("a config whose diff_ids do not match the layers fails before any snapshot", async () => {
  const registry = fakeRegistry();
  registry.fetchBlob = async () =>
    Buffer.from(JSON.stringify({ rootfs: { diff_ids: [diffIds[0]] } }));
  const cd = fakeContainerd();
  await assert.rejects(
    pullImage({ registry, containerd: cd, ref, uniquePart }),
    /2 layers but its config lists 1 diff_ids/,
  );
  assert.equal(cd.calls.filter((c) => c[0] === "prepare").length, 0);
  assert.equal(cd.calls.at(-1)![0], "deleteLease");
});

test("a cancelled pull stops with CANCELLED and still deletes its lease", async () => {
  const controller = new AbortController();
  const registry = fakeRegistry();
  const cd = fakeContainerd();
  const stream = registry.blobStream;
  registry.blobStream = (r, blob, o) => {
    controller.abort(new Error("interrupted"));
    return stream(r, blob, o);
  };
  const base = cd.withLease;
  cd.withLease = (lease) => {
    const s = base(lease);
    return {
      ...s,
      diff: {
        apply: async (layer, mounts, o) => {
          if (o?.signal?.aborted) throw new StargzError("CANCELLED", "cancelled");
          return s.diff.apply(layer, mounts, o);
        },
      },
    };
  };
  await assert.rejects(
    pullImage({ registry, containerd: cd, ref, uniquePart, signal: controller.signal }),
    (err: unknown) => isErrorCode(err, "CANCELLED"),
  );
  assert.equal(cd.calls.at(-1)![0], "deleteLease");
  assert.equal(
    cd.calls.filter((c) => c[0] === "remove").length,
    1,
    "the active snapshot is removed",
  );
});
