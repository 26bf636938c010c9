/**
 * An HTTP proxy in front of a real registry that misbehaves on request: it
 * ignores Range, serves only the first of several ranges, resets the
 * connection mid-body, answers 503, lies about Content-Length, corrupts
 * bodies, redirects, or hangs. Responses are buffered (test blobs are small).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";

export type Fault =
  | { kind: "ignore-range" }
  | { kind: "first-range-only" }
  | { kind: "reset-mid-body" }
  | { kind: "status"; status: number; retryAfterSec?: number; headers?: Record<string, string> }
  | { kind: "content-length-lie"; extra: number }
  | { kind: "corrupt" }
  | { kind: "redirect"; location: string }
  | { kind: "hang" };

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}

export interface FaultProxy {
  readonly host: string;
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Decides the fault for each request; undefined forwards it untouched. */
  fault: (req: SeenRequest, index: number) => Fault | undefined;
  stop(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const seen: SeenRequest[] = [];
  const proxy: FaultProxy = {
    host: "",
    url: "",
    seen,
    fault: () => undefined,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
  const server = createServer((req, res) => {
    const info = { method: req.method ?? "GET", url: req.url ?? "/", headers: { ...req.headers } };
    seen.push(info);
    const fault = proxy.fault(info, seen.length - 1);
    handle(req, res, fault).catch(() => res.destroy());
  });

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault | undefined,
  ): Promise<void> {
    if (fault?.kind === "hang") return;
    if (answerWithoutUpstream(res, fault)) return;
    // The Host header is kept, so the registry builds upload Locations that point back at the proxy.
    const headers = { ...req.headers };
    if (fault?.kind === "ignore-range") delete headers.range;
    if (fault?.kind === "first-range-only" && typeof headers.range === "string") {
      headers.range = headers.range.split(",")[0];
    }
    const up = await forward(req.method ?? "GET", req.url ?? "/", headers, await readAll(req));
    sendMangled(res, up.res.statusCode ?? 500, { ...up.res.headers }, up.body, fault);
  }

  function forward(
    method: string,
    path: string,
    headers: IncomingMessage["headers"],
    body: Buffer,
  ) {
    return new Promise<{ res: IncomingMessage; body: Buffer }>((resolve, reject) => {
      const r = request(
        { host: target.hostname, port: target.port, method, path, headers },
        (res) => {
          readAll(res).then((b) => resolve({ res, body: b }), reject);
        },
      );
      r.on("error", reject);
      r.end(body);
    });
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  Object.assign(proxy, {
    host: `127.0.0.1:${address.port}`,
    url: `http://127.0.0.1:${address.port}`,
  });
  return proxy;
}

/** Faults answered by the proxy itself: a status or a redirect. */
function answerWithoutUpstream(res: ServerResponse, fault: Fault | undefined): boolean {
  if (fault?.kind === "status") {
    const retryAfter =
      fault.retryAfterSec !== undefined ? { "retry-after": String(fault.retryAfterSec) } : {};
    res.writeHead(fault.status, { ...fault.headers, ...retryAfter });
    res.end();
    return true;
  }
  if (fault?.kind === "redirect") {
    res.writeHead(307, { location: fault.location });
    res.end();
    return true;
  }
  return false;
}

/** Sends the upstream answer, corrupted, cut short or with a false Content-Length as the fault says. */
function sendMangled(
  res: ServerResponse,
  status: number,
  headers: IncomingMessage["headers"],
  body: Buffer,
  fault: Fault | undefined,
): void {
  let data = body;
  if (fault?.kind === "corrupt" && data.length > 0) {
    data = Buffer.from(data);
    data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
  }
  if (fault?.kind === "content-length-lie")
    headers["content-length"] = String(data.length + fault.extra);
  res.writeHead(status, headers);
  if (fault?.kind === "content-length-lie" || fault?.kind === "reset-mid-body") {
    res.write(
      fault.kind === "reset-mid-body" ? data.subarray(0, Math.floor(data.length / 2)) : data,
    );
    setTimeout(() => res.destroy(), 20);
    return;
  }
  res.end(data);
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
