import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, parseConfig } from "../../../src/agent/config/config.ts";
import { parseFlags, defaultAddress, defaultRoot } from "../../../src/agent/flags.ts";

test("an empty config gives the defaults", () => {
  assert.deepEqual(parseConfig(""), defaultConfig);
});

test("known keys are applied", () => {
  const c = parseConfig(
    'log_level = "debug"\n[snapshotter]\nasync_remove = true\nshutdown_grace_sec = 3\n',
  );
  assert.equal(c.logLevel, "debug");
  assert.equal(c.snapshotter.asyncRemove, true);
  assert.equal(c.snapshotter.shutdownGraceSec, 3);
  assert.equal(c.snapshotter.overlayUserxattr, false);
});

test("unknown keys and bad values stop with the key's name", () => {
  assert.throws(() => parseConfig("bogus = 1"), /unknown config key "bogus"/);
  assert.throws(
    () => parseConfig("[snapshotter]\nnope = true"),
    /unknown config key "snapshotter.nope"/,
  );
  assert.throws(
    () => parseConfig('[snapshotter]\nasync_remove = "yes"'),
    /"snapshotter.async_remove" must be a boolean/,
  );
  assert.throws(() => parseConfig('log_level = "loud"'), /"log_level" must be one of/);
  assert.throws(() => parseConfig("snapshotter = 1"), /"snapshotter" must be a table/);
  assert.throws(() => parseConfig("[snapshotter\n"), /not valid TOML/);
});

test("flags default to the Go snapshotter's paths and reject bad values", () => {
  assert.deepEqual(parseFlags([]), {
    address: defaultAddress,
    root: defaultRoot,
    config: undefined,
    logLevel: undefined,
    metricsAddress: undefined,
    dockerConfig: undefined,
    noRemote: false,
    help: false,
  });
  assert.equal(parseFlags(["--address", "/x.sock", "--log-level", "warn"]).logLevel, "warn");
  assert.throws(() => parseFlags(["--log-level", "loud"]), /--log-level/);
  assert.throws(() => parseFlags(["--nope"]), /nope/);
});
