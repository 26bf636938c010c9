/**
 * Credentials from a docker config.json and from Kubernetes secrets of type
 * kubernetes.io/dockerconfigjson (the same `auths` map) or the older
 * kubernetes.io/dockercfg (the map alone). Keys may be bare hosts or URLs
 * (`https://index.docker.io/v1/`); entries carry `auth` (base64 user:pass),
 * `username`/`password`, or `identitytoken`.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { StargzError } from "../util/errors.ts";
import type { Credentials, Keychain } from "./keychain.ts";

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

/** Parses a config.json or dockerconfigjson document into host → credentials. */
export function parseDockerConfig(
  text: string,
  source = "docker config",
): Map<string, Credentials> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // The parser's message can quote the input, which holds secrets: drop it.
    throw new StargzError("INVALID_ARGUMENT", `${source} is not valid JSON`, {
      cause: new Error(err instanceof SyntaxError ? "syntax error" : "parse error"),
    });
  }
  if (typeof doc !== "object" || doc === null) {
    throw new StargzError("INVALID_ARGUMENT", `${source} is not a JSON object`);
  }
  const obj = doc as Record<string, unknown>;
  const auths = (typeof obj.auths === "object" && obj.auths !== null ? obj.auths : obj) as Record<
    string,
    unknown
  >;
  const out = new Map<string, Credentials>();
  for (const [key, value] of Object.entries(auths)) {
    if (typeof value !== "object" || value === null) continue;
    const creds = toCredentials(value as AuthEntry, key, source);
    if (creds) out.set(normalizeAuthKey(key), creds);
  }
  return out;
}

function toCredentials(e: AuthEntry, key: string, source: string): Credentials | undefined {
  if (typeof e.identitytoken === "string" && e.identitytoken !== "") {
    const username = e.username ?? decodeAuth(e.auth, key, source)?.username;
    return { kind: "identity-token", token: e.identitytoken, ...(username ? { username } : {}) };
  }
  if (typeof e.username === "string" && typeof e.password === "string") {
    return { kind: "basic", username: e.username, password: e.password };
  }
  const decoded = decodeAuth(e.auth, key, source);
  return decoded ? { kind: "basic", ...decoded } : undefined;
}

function decodeAuth(
  auth: string | undefined,
  key: string,
  source: string,
): { username: string; password: string } | undefined {
  if (typeof auth !== "string" || auth === "") return undefined;
  const text = Buffer.from(auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) {
    throw new StargzError(
      "INVALID_ARGUMENT",
      `${source}: the auth field for ${key} is not base64 of user:password`,
    );
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** `https://index.docker.io/v1/` → docker.io; `https://host:5000/x` → host:5000. */
export function normalizeAuthKey(key: string): string {
  let host = key.replace(/^[a-z]+:\/\//, "");
  host = host.split("/")[0] ?? host;
  if (host === "index.docker.io" || host === "registry-1.docker.io") return "docker.io";
  return host;
}

/** A keychain over a parsed config. */
export function dockerConfigKeychain(entries: Map<string, Credentials>): Keychain {
  return {
    credentials: async (registry) =>
      entries.get(registry) ??
      (registry === "docker.io" ? entries.get("registry-1.docker.io") : undefined),
  };
}

/** $DOCKER_CONFIG/config.json or ~/.docker/config.json; read on every call, so edits apply. */
export function dockerConfigFileKeychain(path?: string): Keychain {
  const file = path ?? join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  return {
    credentials: async (registry) => {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" && path === undefined)
          return undefined;
        throw new StargzError("INVALID_ARGUMENT", `cannot read docker config ${file}`, {
          cause: err,
        });
      }
      return dockerConfigKeychain(parseDockerConfig(text, file)).credentials(registry);
    },
  };
}

/**
 * A keychain from a Kubernetes Secret object (as returned by the API):
 * `data[".dockerconfigjson"]` or `data[".dockercfg"]`, base64 encoded.
 */
export function kubernetesSecretKeychain(secret: {
  metadata?: { name?: string; namespace?: string };
  type?: string;
  data?: Record<string, string>;
}): Keychain {
  const name = `secret ${secret.metadata?.namespace ?? ""}/${secret.metadata?.name ?? ""}`;
  const raw = secret.data?.[".dockerconfigjson"] ?? secret.data?.[".dockercfg"];
  if (raw === undefined) {
    throw new StargzError("INVALID_ARGUMENT", `${name} has no .dockerconfigjson or .dockercfg key`);
  }
  return dockerConfigKeychain(parseDockerConfig(Buffer.from(raw, "base64").toString("utf8"), name));
}
