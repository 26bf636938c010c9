import { test } from "node:test";
import assert from "node:assert/strict";
import {
  childGcLabels,
  distributionSourceLabel,
  inheritedLabels,
  layerSnapshotLabels,
  remoteSnapshotLabels,
} from "../../../src/pull/index.ts";
import { parseReference, type Descriptor } from "../../../src/registry/index.ts";

const gz = "application/vnd.oci.image.layer.v1.tar+gzip";
const d = (n: number, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: gz,
  digest: `sha256:${n.toString(16).padStart(64, "0")}`,
  size: 100 + n,
  ...extra,
});

test("remote labels name the image, the layer and the layers from it on", () => {
  const layers = [d(1), d(2, { urls: ["https://a/x", "https://b/x"] }), d(3)];
  assert.deepEqual(remoteSnapshotLabels("r.io/app:1", layers, 1), {
    "containerd.io/snapshot/remote/stargz.reference": "r.io/app:1",
    "containerd.io/snapshot/remote/stargz.digest": layers[1]!.digest,
    "containerd.io/snapshot/remote/stargz.layers": `${layers[1]!.digest},${layers[2]!.digest}`,
    "containerd.io/snapshot/remote/urls.0": "https://a/x,https://b/x",
    "containerd.io/snapshot/remote/urls.1": "",
    "containerd.io/snapshot/remote/stargz.prefetch": "10485760",
    "containerd.io/snapshot/remote/urls": "https://a/x,https://b/x",
  });
});

test("the layers label stops before key plus value would pass 4096 bytes", () => {
  const layers = Array.from({ length: 100 }, (_, i) => d(i));
  const labels = remoteSnapshotLabels("r.io/app:1", layers, 0);
  const key = "containerd.io/snapshot/remote/stargz.layers";
  const value = labels[key]!;
  const count = value.split(",").length;
  // Each item is 71 bytes plus a comma; Go checks the value with its trailing comma.
  assert.equal(count, Math.floor((4096 - key.length) / 72));
  assert.ok(key.length + value.length <= 4096);
  assert.equal(labels[`containerd.io/snapshot/remote/urls.${count - 1}`], "");
  assert.equal(labels[`containerd.io/snapshot/remote/urls.${count}`], undefined);
});

test("snapshot labels keep only containerd.io/snapshot/ annotations and add the chainID", () => {
  const layer = d(1, {
    annotations: {
      "containerd.io/snapshot/stargz/toc.digest": "sha256:toc",
      "io.containers.estargz.uncompressed-size": "1234",
      "org.opencontainers.image.title": "x",
    },
  });
  const labels = layerSnapshotLabels({
    imageRef: "r.io/app:1",
    layers: [layer],
    index: 0,
    chainId: "sha256:c",
  });
  assert.equal(labels["containerd.io/snapshot/stargz/toc.digest"], "sha256:toc");
  assert.equal(labels["containerd.io/snapshot.ref"], "sha256:c");
  assert.equal(labels["io.containers.estargz.uncompressed-size"], undefined);
  assert.equal(labels["org.opencontainers.image.title"], undefined);
  assert.deepEqual(
    inheritedLabels({ "containerd.io/snapshot.ref": "x", "containerd.io/snapshotter": "y" }),
    {
      "containerd.io/snapshot.ref": "x",
    },
  );
});

test("GC labels number each kind of child as containerd does", () => {
  const config = {
    mediaType: "application/vnd.oci.image.config.v1+json",
    digest: "sha256:c",
    size: 1,
  };
  assert.deepEqual(childGcLabels([config, d(1), d(2)]), {
    "containerd.io/gc.ref.content.config": "sha256:c",
    "containerd.io/gc.ref.content.l.0": d(1).digest,
    "containerd.io/gc.ref.content.l.1": d(2).digest,
  });
  const m = (
    digest: string,
    mediaType = "application/vnd.oci.image.manifest.v1+json",
  ): Descriptor => ({
    mediaType,
    digest,
    size: 1,
  });
  assert.deepEqual(
    childGcLabels([
      m("sha256:m0"),
      m("sha256:m1", "application/vnd.docker.distribution.manifest.v2+json"),
      m("sha256:x0", "application/vnd.in-toto+json"),
      m("sha256:x1", "application/vnd.in-toto+json"),
    ]),
    {
      "containerd.io/gc.ref.content.m.0": "sha256:m0",
      "containerd.io/gc.ref.content.m.1": "sha256:m1",
      "containerd.io/gc.ref.content.0": "sha256:x0",
      "containerd.io/gc.ref.content.1": "sha256:x1",
    },
  );
});

test("the distribution source label drops the port and keeps repositories sorted and unique", () => {
  const ref = parseReference("127.0.0.1:5000/team/app:1");
  assert.deepEqual(distributionSourceLabel(ref, undefined), [
    "containerd.io/distribution.source.127.0.0.1",
    "team/app",
  ]);
  assert.deepEqual(
    distributionSourceLabel(ref, "zed/x,team/app,alpha/y")?.[1],
    "alpha/y,team/app,zed/x",
  );
  assert.deepEqual(
    distributionSourceLabel(parseReference("busybox"), "")?.[0],
    "containerd.io/distribution.source.docker.io",
  );
});
