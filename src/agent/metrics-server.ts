/** The agent's Prometheus endpoint: GET /metrics from its one registry, on a loopback or node address. */
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { StargzError } from "../util/errors.ts";

export interface MetricsServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function serveMetrics(address: string, registry: Registry): Promise<MetricsServer> {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at) || "127.0.0.1";
  const port = Number(address.slice(at + 1));
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause) =>
      reject(
        new StargzError("UNAVAILABLE", "cannot serve metrics", { cause, context: { address } }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const actual = typeof bound === "object" && bound ? `${host}:${bound.port}` : address;
  return {
    address: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
