import { test } from "node:test";
import assert from "node:assert/strict";
import { mirrorIn } from "../../../scripts/lib/demo-image.ts";

test("the Debian mirror from a deb822 sources file, not the security archive", () => {
  const text = [
    "Types: deb",
    "URIs: http://deb.debian.org/debian-security",
    "Suites: bookworm-security",
    "",
    "Types: deb",
    "URIs: http://mirror.example/debian",
    "Suites: bookworm bookworm-updates",
  ].join("\n");
  assert.equal(mirrorIn(text), "http://mirror.example/debian");
});

test("the Debian mirror from a one-line sources.list, with options; third-party sources ignored", () => {
  const text = [
    "deb https://packages.example.com/apt stable main",
    "deb [arch=amd64] http://ftp.de.debian.org/debian bookworm main",
    "deb http://security.debian.org/debian-security bookworm-security main",
  ].join("\n");
  assert.equal(mirrorIn(text), "http://ftp.de.debian.org/debian");
  assert.equal(mirrorIn("deb https://deb.nodesource.com/node_20.x nodistro main"), undefined);
});
