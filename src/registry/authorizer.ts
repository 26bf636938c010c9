/**
 * Registry auth as containerd's docker authorizer does it: nothing is sent
 * until a host challenges; after that, each request to the host carries basic
 * credentials or a bearer token for its scopes. Tokens are cached per host and
 * scope set until shortly before they expire; a 401 on a cached token drops it
 * and fetches a new one once. Credentials and tokens never enter errors or logs.
 */
import { StargzError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { parseChallenges, type AuthChallenge } from "./auth-challenge.ts";
import type { Credentials, Keychain } from "./keychain.ts";

export interface TokenResponse {
  status: number;
  body: string;
}

/** Sends a token request; the client routes it through its own dispatchers. */
export type TokenFetch = (
  url: URL,
  init: {
    method: "GET" | "POST";
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
  },
) => Promise<TokenResponse>;

export interface AuthorizerOptions {
  keychain: Keychain;
  fetchToken: TokenFetch;
  now: () => number;
  logger: Logger;
}

interface HostAuth {
  challenge: AuthChallenge;
}

interface TokenWanted {
  host: string;
  registry: string;
  challenge: AuthChallenge;
  scopes: string[];
  signal: AbortSignal | undefined;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Tokens without expires_in live this long (the distribution token spec's default). */
const defaultTokenLifetimeSec = 60;
const clientId = "stargz-operator";

export class Authorizer {
  readonly #options: AuthorizerOptions;
  readonly #hosts = new Map<string, HostAuth>();
  readonly #tokens = new Map<string, Promise<CachedToken>>();

  constructor(options: AuthorizerOptions) {
    this.#options = options;
  }

  /** The Authorization header for a request to host with these scopes, if the host wants one. */
  async authorization(
    host: string,
    registry: string,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const state = this.#hosts.get(host);
    if (!state) return undefined;
    if (state.challenge.scheme === "basic") {
      const creds = await this.#credentials(host, registry, signal);
      return creds?.kind === "basic" ? basicHeader(creds) : undefined;
    }
    const key = tokenKey(host, scopes);
    let pending = this.#tokens.get(key);
    if (pending) {
      const cached = await pending.catch(() => undefined);
      if (!cached || cached.expiresAt <= this.#options.now()) pending = undefined;
    }
    if (!pending) {
      pending = this.#fetchToken({ host, registry, challenge: state.challenge, scopes, signal });
      this.#tokens.set(key, pending);
      pending.catch(() => this.#tokens.delete(key));
    }
    return `Bearer ${(await pending).token}`;
  }

  /**
   * Records a 401's challenge. Returns true when a retry may succeed (a new
   * challenge, or a cached token that the server no longer accepts).
   */
  handleUnauthorized(
    host: string,
    scopes: string[],
    wwwAuthenticate: string | string[] | undefined,
    sentAuth: boolean,
  ): boolean {
    const challenges = parseChallenges(wwwAuthenticate);
    const challenge =
      challenges.find((c) => c.scheme === "bearer" && c.params.realm) ??
      challenges.find((c) => c.scheme === "basic");
    if (!challenge) return false;
    const known = this.#hosts.get(host);
    this.#hosts.set(host, { challenge });
    this.#tokens.delete(tokenKey(host, scopes));
    // Auth was sent and refused: a bearer token may have expired early, so a
    // fresh one can help; the same basic credentials cannot, unless the host
    // had asked for something else before.
    return !sentAuth || challenge.scheme === "bearer" || known?.challenge.scheme !== "basic";
  }

  async #credentials(
    host: string,
    registry: string,
    signal?: AbortSignal,
  ): Promise<Credentials | undefined> {
    const name = host === "registry-1.docker.io" ? "docker.io" : host;
    return (
      (await this.#options.keychain.credentials(name, { signal })) ??
      (name !== registry
        ? await this.#options.keychain.credentials(registry, { signal })
        : undefined)
    );
  }

  async #fetchToken(want: TokenWanted): Promise<CachedToken> {
    const { host, registry, challenge, scopes, signal } = want;
    const creds = await this.#credentials(host, registry, signal);
    const realm = challenge.params.realm ?? "";
    const service = challenge.params.service;
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw new StargzError(
        "UNAUTHENTICATED",
        "registry sent a bearer challenge without a valid realm",
        {
          cause: err,
          context: { registry: host },
        },
      );
    }
    const started = this.#options.now();
    const res =
      creds?.kind === "identity-token"
        ? await this.#options.fetchToken(url, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: oauthForm(creds.token, service, scopes),
            signal,
          })
        : await this.#options.fetchToken(withTokenQuery(url, service, scopes), {
            method: "GET",
            headers: creds ? { authorization: basicHeader(creds) } : {},
            signal,
          });
    this.#options.logger.debug("token request", {
      registry: host,
      realm: url.host,
      status: res.status,
      scopes,
    });
    if (res.status !== 200) {
      const code =
        res.status === 401
          ? "UNAUTHENTICATED"
          : res.status === 403
            ? "PERMISSION_DENIED"
            : "UNAVAILABLE";
      throw new StargzError(code, `token server answered ${res.status}`, {
        context: {
          registry: host,
          realm: url.host,
          scope: scopes.join(" "),
          credentials: creds ? "yes" : "none",
        },
      });
    }
    return parseTokenResponse(res.body, started, host);
  }
}

function parseTokenResponse(body: string, started: number, host: string): CachedToken {
  let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    throw new StargzError("UNAUTHENTICATED", "token server sent invalid JSON", {
      context: { registry: host },
    });
  }
  const token =
    typeof doc.access_token === "string" && doc.access_token ? doc.access_token : doc.token;
  if (typeof token !== "string" || token === "") {
    throw new StargzError("UNAUTHENTICATED", "token server sent no token", {
      context: { registry: host },
    });
  }
  const lifetimeSec =
    typeof doc.expires_in === "number" && doc.expires_in > 0
      ? doc.expires_in
      : defaultTokenLifetimeSec;
  // Refresh a little early: a tenth of the lifetime, at most 30 s.
  const margin = Math.min(30_000, lifetimeSec * 100);
  return { token, expiresAt: started + lifetimeSec * 1000 - margin };
}

function withTokenQuery(url: URL, service: string | undefined, scopes: string[]): URL {
  const out = new URL(url);
  if (service) out.searchParams.set("service", service);
  for (const s of scopes) out.searchParams.append("scope", s);
  return out;
}

function oauthForm(refreshToken: string, service: string | undefined, scopes: string[]): string {
  const form = new URLSearchParams({
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: clientId,
  });
  if (service) form.set("service", service);
  if (scopes.length > 0) form.set("scope", scopes.join(" "));
  return form.toString();
}

function basicHeader(creds: { username: string; password: string }): string {
  return "Basic " + Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
}

function tokenKey(host: string, scopes: string[]): string {
  return `${host}\n${[...scopes].sort().join(" ")}`;
}

/** The scope strings the distribution token spec defines for repository access. */
export function repositoryScope(repository: string, actions: "pull" | "pull,push"): string {
  return `repository:${repository}:${actions}`;
}
