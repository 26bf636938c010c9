/**
 * Where requests for a registry go. Each registry host has an ordered list of
 * mirrors, tried first, then the origin itself. Each endpoint carries its
 * scheme, TLS trust, timeout and extra headers.
 *
 * The TOML accepted is the Go snapshotter's resolver section, as is:
 *
 *   [resolver]
 *   request_timeout_sec = 30            # default for every endpoint
 *   [[resolver.host."docker.io".mirrors]]
 *   host = "mirror.example.com:5000"
 *   insecure = true                      # plain HTTP (Go semantics)
 *   request_timeout_sec = 10             # 0: default, < 0: no timeout
 *   header = { "X-Foo" = "bar" }         # string or array of strings
 *
 * plus our own keys, on a mirror or on the host table (applying to the
 * origin): `plain_http`, `skip_verify` (HTTPS without certificate checks),
 * `ca_file` (PEM bundle trusted in addition to the system roots), and the
 * same `insecure`, `request_timeout_sec` and `header`. A top-level
 * `[resolver]` table is optional: `[host."x"]` at the root is read too.
 */
import { parse as parseToml } from "smol-toml";
import { StargzError } from "../util/errors.ts";
import { dockerHub } from "./reference.ts";

export const defaultRequestTimeoutSec = 30;

export interface EndpointConfig {
  /** host[:port], optionally followed by a path prefix (`/v2` is appended to it). */
  host: string;
  plainHttp?: boolean;
  /** Go snapshotter meaning: talk plain HTTP to this endpoint. */
  insecure?: boolean;
  skipVerify?: boolean;
  caFile?: string;
  /** 0 or unset: the default; negative: no timeout. */
  requestTimeoutSec?: number;
  headers?: Record<string, string[]>;
}

export interface RegistryHostConfig {
  mirrors: EndpointConfig[];
  /** Settings for the origin itself (scheme, TLS, timeout, headers). */
  origin?: Omit<EndpointConfig, "host">;
}

export interface HostsConfig {
  hosts: Record<string, RegistryHostConfig>;
  requestTimeoutSec?: number;
}

/** One concrete place to send a request, resolved from the config. */
export interface Endpoint {
  /** The registry the image names (docker.io, not registry-1.docker.io). */
  readonly registry: string;
  /** scheme://host[:port] */
  readonly origin: string;
  /** Path prefix before `/<repo>/...`, normally `/v2`. */
  readonly basePath: string;
  readonly host: string;
  readonly isMirror: boolean;
  readonly skipVerify: boolean;
  readonly caFile?: string;
  /** undefined: no timeout. */
  readonly timeoutMs?: number;
  readonly headers: Readonly<Record<string, string[]>>;
}

export function emptyHostsConfig(): HostsConfig {
  return { hosts: {} };
}

const localhostPattern = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

export function isLocalhost(host: string): boolean {
  return localhostPattern.test(host);
}

/** Mirrors in order, then the origin. */
export function endpointsFor(config: HostsConfig, registry: string): Endpoint[] {
  const entry = config.hosts[registry];
  const out = (entry?.mirrors ?? []).map((m) => toEndpoint(config, registry, m, true));
  out.push(toEndpoint(config, registry, { ...entry?.origin, host: registry }, false));
  return out;
}

function toEndpoint(
  config: HostsConfig,
  registry: string,
  e: EndpointConfig,
  isMirror: boolean,
): Endpoint {
  const { scheme, host, prefix } = splitHost(e.host);
  const seconds =
    e.requestTimeoutSec === undefined || e.requestTimeoutSec === 0
      ? (config.requestTimeoutSec ?? defaultRequestTimeoutSec)
      : e.requestTimeoutSec;
  return {
    registry,
    origin: `${scheme ?? defaultScheme(host, e)}://${host}`,
    basePath: prefix.endsWith("/v2") ? prefix : `${prefix}/v2`,
    host,
    isMirror,
    skipVerify: e.skipVerify === true,
    ...(e.caFile !== undefined ? { caFile: e.caFile } : {}),
    ...(seconds > 0 ? { timeoutMs: seconds * 1000 } : {}),
    headers: e.headers ?? {},
  };
}

/** `[scheme://]host[:port][/prefix]`; docker.io is served by registry-1.docker.io. */
function splitHost(value: string): { scheme?: "http" | "https"; host: string; prefix: string } {
  const m = /^(?:(https?):\/\/)?([^/]+)(\/.*)?$/.exec(value);
  const host = m?.[2] ?? value;
  return {
    ...(m?.[1] ? { scheme: m[1] as "http" | "https" } : {}),
    host: host === dockerHub ? "registry-1.docker.io" : host,
    prefix: (m?.[3] ?? "").replace(/\/+$/, ""),
  };
}

/** plain_http wins; else Go's insecure; else localhost without TLS settings is HTTP. */
function defaultScheme(host: string, e: EndpointConfig): "http" | "https" {
  const hasTls = e.skipVerify === true || e.caFile !== undefined;
  const plain = e.plainHttp ?? (e.insecure === true || (isLocalhost(host) && !hasTls));
  return plain ? "http" : "https";
}

/** Parses hosts TOML (the Go snapshotter's `[resolver]` shape, or the same at top level). */
export function parseHostsToml(text: string, source = "hosts config"): HostsConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new StargzError("INVALID_ARGUMENT", `cannot parse ${source}`, { cause: err });
  }
  return hostsConfigFromTable(isTable(doc.resolver) ? doc.resolver : doc, source);
}

/** The same from an already parsed `[resolver]` table (the agent's config file holds one). */
export function hostsConfigFromTable(
  root: Record<string, unknown>,
  source = "hosts config",
): HostsConfig {
  const out: HostsConfig = { hosts: {} };
  const timeout = root.request_timeout_sec;
  if (timeout !== undefined) out.requestTimeoutSec = int(timeout, "request_timeout_sec", source);
  const hosts = root.host ?? {};
  if (!isTable(hosts)) throw invalid(source, "host must be a table");
  for (const [name, value] of Object.entries(hosts)) {
    if (!isTable(value)) throw invalid(source, `host."${name}" must be a table`);
    const mirrors = value.mirrors ?? [];
    if (!Array.isArray(mirrors)) throw invalid(source, `host."${name}".mirrors must be an array`);
    out.hosts[name] = {
      mirrors: mirrors.map((m, i) => {
        if (!isTable(m) || typeof m.host !== "string" || m.host === "") {
          throw invalid(source, `host."${name}".mirrors[${i}] needs a host`);
        }
        return { host: m.host, ...endpointSettings(m, `host."${name}".mirrors[${i}]`, source) };
      }),
      origin: endpointSettings(value, `host."${name}"`, source),
    };
  }
  return out;
}

function endpointSettings(
  t: Record<string, unknown>,
  where: string,
  source: string,
): Omit<EndpointConfig, "host"> {
  const out: Omit<EndpointConfig, "host"> = {};
  if (t.insecure !== undefined) out.insecure = bool(t.insecure, `${where}.insecure`, source);
  if (t.plain_http !== undefined) out.plainHttp = bool(t.plain_http, `${where}.plain_http`, source);
  if (t.skip_verify !== undefined)
    out.skipVerify = bool(t.skip_verify, `${where}.skip_verify`, source);
  if (t.ca_file !== undefined) {
    if (typeof t.ca_file !== "string") throw invalid(source, `${where}.ca_file must be a string`);
    out.caFile = t.ca_file;
  }
  if (t.request_timeout_sec !== undefined) {
    out.requestTimeoutSec = int(t.request_timeout_sec, `${where}.request_timeout_sec`, source);
  }
  if (t.header !== undefined) out.headers = headers(t.header, `${where}.header`, source);
  return out;
}

function headers(value: unknown, where: string, source: string): Record<string, string[]> {
  if (!isTable(value)) throw invalid(source, `${where} must be a table`);
  const out: Record<string, string[]> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === "string") out[key] = [v];
    else if (Array.isArray(v) && v.every((s) => typeof s === "string")) out[key] = v;
    else throw invalid(source, `${where}."${key}" must be a string or an array of strings`);
  }
  return out;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function bool(v: unknown, where: string, source: string): boolean {
  if (typeof v !== "boolean") throw invalid(source, `${where} must be a boolean`);
  return v;
}

function int(v: unknown, where: string, source: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n))
    throw invalid(source, `${where} must be an integer`);
  return n;
}

function invalid(source: string, why: string): StargzError {
  return new StargzError("INVALID_ARGUMENT", `${source}: ${why}`);
}
