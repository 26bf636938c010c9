/**
 * A token server for the distribution bearer flow, in front of a real
 * docker-registry configured with `auth.token`. Tokens are RS256 JWTs with
 * the signing certificate in `x5c`; the registry trusts that certificate as
 * its root bundle. Basic credentials and refresh tokens are checked; every
 * grant is recorded (without secrets) for assertions.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createSign, X509Certificate } from "node:crypto";

export interface TokenServerOptions {
  certFile: string;
  keyFile: string;
  service: string;
  issuer: string;
  users?: Record<string, string>;
  /** Refresh tokens accepted by the OAuth POST endpoint, each naming its user. */
  refreshTokens?: Record<string, string>;
  /** Real validity of each JWT, in seconds past the registry's 60 s leeway (default 300). */
  validitySec?: number;
  /** What the answer claims as expires_in (default: validitySec). */
  claimedExpiresInSec?: number;
  allowAnonymousPull?: boolean;
}

export interface Grant {
  method: string;
  user: string;
  scopes: string[];
}

export interface TestTokenServer {
  readonly realm: string;
  readonly grants: Grant[];
  stop(): Promise<void>;
}

export async function startTokenServer(options: TokenServerOptions): Promise<TestTokenServer> {
  const key = await readFile(options.keyFile, "utf8");
  const cert = new X509Certificate(await readFile(options.certFile));
  const x5c = [cert.raw.toString("base64")];
  const grants: Grant[] = [];
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    let user: string | undefined;
    let scopes = url.searchParams.getAll("scope");
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (form.get("grant_type") !== "refresh_token") return deny(res, 400);
      user = options.refreshTokens?.[form.get("refresh_token") ?? ""];
      if (!user) return deny(res, 401);
      scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
    } else {
      const auth = req.headers.authorization;
      if (auth?.startsWith("Basic ")) {
        const [u, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
        if (!u || options.users?.[u] !== rest.join(":")) return deny(res, 401);
        user = u;
      }
    }
    grants.push({ method: req.method ?? "", user: user ?? "", scopes });
    const access = scopes.map(parseScope).filter((a) => a !== undefined);
    const granted = access
      .map((a) => ({
        ...a,
        actions:
          user || options.allowAnonymousPull ? a.actions.filter((x) => user || x === "pull") : [],
      }))
      .filter((a) => a.actions.length > 0);
    const now = Math.floor(Date.now() / 1000);
    const validity = options.validitySec ?? 300;
    const claims = {
      iss: options.issuer,
      sub: user ?? "",
      aud: options.service,
      exp: now - 60 + validity,
      nbf: now - 1,
      iat: now,
      jti: `${now}-${grants.length}`,
      access: granted,
    };
    const token = sign({ typ: "JWT", alg: "RS256", x5c }, claims, key);
    res.setHeader("content-type", "application/json");
    const expires_in = options.claimedExpiresInSec ?? validity;
    res.end(
      JSON.stringify(
        req.method === "POST" ? { access_token: token, expires_in } : { token, expires_in },
      ),
    );
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return {
    realm: `http://127.0.0.1:${address.port}/token`,
    grants,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

function deny(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.end();
}

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const m = /^([a-z]+):(.+):([a-z,*]+)$/.exec(scope);
  return m
    ? { type: m[1] as string, name: m[2] as string, actions: (m[3] as string).split(",") }
    : undefined;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

function sign(header: object, claims: object, key: string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign("RSA-SHA256").update(input).sign(key);
  return `${input}.${b64url(signature)}`;
}
