import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeTempDir } from "../support/tmp.ts";
import { startRegistry } from "../support/registry.ts";
import { startContainerd } from "../support/containerd.ts";
import { missingForIntegration } from "../support/gates.ts";

const skip = missingForIntegration(["containerd", "ctr", "docker-registry"]);

test("test harness starts and stops its own registry and containerd", { skip }, async () => {
  const tmp = await makeTempDir();
  const registry = await startRegistry({ dir: join(tmp.path, "registry") });
  const containerd = await startContainerd({ dir: join(tmp.path, "containerd") });
  try {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    const plugins = await containerd.ctr(["plugins", "ls"]);
    assert.match(plugins, /io\.containerd\.snapshotter\.v1\s+overlayfs\s+linux\/amd64\s+ok/);
  } finally {
    await containerd.stop();
    await registry.stop();
    await tmp.remove();
  }
  assert.notEqual(registry.process.child.exitCode ?? registry.process.child.signalCode, null);
});
