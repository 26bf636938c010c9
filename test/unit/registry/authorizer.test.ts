import { test } from "node:test";
import assert from "node:assert/strict";
import { Authorizer, type TokenFetch } from "../../../src/registry/authorizer.ts";
import { staticKeychain } from "../../../src/registry/keychain.ts";
import { silentLogger } from "../../../src/util/log.ts";

const challenge = 'Bearer realm="https://auth.example/token",service="reg"';
const scopes = ["repository:a/b:pull"];

function setup(expiresIn: number | undefined) {
  let clock = 0;
  const calls: { url: string; auth?: string; method: string; body?: string }[] = [];
  const fetchToken: TokenFetch = async (url, init) => {
    calls.push({
      url: url.toString(),
      auth: init.headers.authorization,
      method: init.method,
      ...(init.body ? { body: init.body } : {}),
    });
    return {
      status: 200,
      body: JSON.stringify({
        token: `t${calls.length}`,
        ...(expiresIn ? { expires_in: expiresIn } : {}),
      }),
    };
  };
  const auth = new Authorizer({
    keychain: staticKeychain({
      "reg.io": { kind: "basic", username: "u", password: "p" },
      "idt.io": { kind: "identity-token", token: "rt" },
    }),
    fetchToken,
    now: () => clock,
    logger: silentLogger(),
  });
  return { auth, calls, tick: (ms: number) => (clock += ms) };
}

test("nothing is sent before a challenge; a bearer token is cached per scope until near expiry", async () => {
  const { auth, calls, tick } = setup(300);
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), undefined);
  assert.equal(auth.handleUnauthorized("reg.io", scopes, challenge, false), true);
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t1");
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t1");
  assert.equal(calls.length, 1);
  assert.equal(
    calls[0]?.url,
    "https://auth.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull",
  );
  assert.equal(calls[0]?.auth, "Basic " + Buffer.from("u:p").toString("base64"));
  assert.equal(
    await auth.authorization("reg.io", "reg.io", ["repository:a/b:pull,push"]),
    "Bearer t2",
  );
  tick(269_000); // 300 s lifetime, refreshed 30 s early
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t1");
  tick(2_000);
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t3");
});

test("a refused token is dropped and fetched again; tokens without expires_in live 60 s", async () => {
  const { auth, calls, tick } = setup(undefined);
  auth.handleUnauthorized("reg.io", scopes, challenge, false);
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t1");
  assert.equal(
    auth.handleUnauthorized("reg.io", scopes, challenge + ',error="invalid_token"', true),
    true,
  );
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t2");
  tick(55_000);
  assert.equal(await auth.authorization("reg.io", "reg.io", scopes), "Bearer t3");
  assert.equal(calls.length, 3);
});

test("identity tokens use the OAuth POST; basic challenges send the keychain's password; refused basic is final", async () => {
  const { auth, calls } = setup(60);
  auth.handleUnauthorized("idt.io", scopes, challenge, false);
  assert.equal(await auth.authorization("idt.io", "idt.io", scopes), "Bearer t1");
  assert.equal(calls[0]?.method, "POST");
  assert.match(String(calls[0]?.body), /grant_type=refresh_token&refresh_token=rt/);
  assert.equal(auth.handleUnauthorized("reg.io", scopes, 'Basic realm="r"', false), true);
  assert.equal(
    await auth.authorization("reg.io", "reg.io", scopes),
    "Basic " + Buffer.from("u:p").toString("base64"),
  );
  assert.equal(auth.handleUnauthorized("reg.io", scopes, 'Basic realm="r"', true), false);
  assert.equal(auth.handleUnauthorized("x.io", scopes, undefined, false), false);
});
