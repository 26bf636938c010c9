/**
 * containerd's own snapshotter test suite (Go, from Debian's
 * golang-github-containerd-containerd-dev) against stargz-agent through
 * containerd's proxy client: test/go-testsuite/run.sh. The first run compiles
 * for about a minute; later runs use the Go build cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { missingForIntegration } from "../support/gates.ts";
import { run } from "../support/process.ts";

const suite =
  "/usr/share/gocode/src/github.com/containerd/containerd/snapshots/testsuite/testsuite.go";
const script = fileURLToPath(new URL("../go-testsuite/run.sh", import.meta.url));
const skip =
  missingForIntegration(["go", "mount"]) ??
  (existsSync(suite) ? undefined : "needs golang-github-containerd-containerd-dev");

test(
  "containerd's snapshotter testsuite passes against the agent",
  { skip, timeout: 600_000 },
  async () => {
    const { stdout } = await run("bash", [script]);
    const out = stdout.toString();
    const failed = out.split("\n").filter((l) => /--- FAIL/.test(l));
    assert.deepEqual(failed, [], out.slice(-4000));
    assert.match(out, /--- PASS: TestStargzAgentProxy\/128LayersMount/);
    assert.match(out, /^ok\s+proxysuite/m);
  },
);
