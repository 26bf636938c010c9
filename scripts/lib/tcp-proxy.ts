/**
 * A TCP proxy that counts the bytes it carries and can delay them: every
 * chunk is forwarded `delayMs` after it arrived, in both directions, so a
 * proxy with delayMs 10 adds 20 ms to every round trip. (The kernel here has
 * no netem; bandwidth is shaped separately with tc tbf.) Order is kept per
 * direction; a slow receiver pauses the sender.
 *
 * Run as a program (`node scripts/lib/tcp-proxy.ts --listen H:P --target H:P
 * [--delay-ms N]`), it prints {"port":N} once listening and answers each
 * stdin line "stats" with {"down":N,"up":N} and "reset" by zeroing them; this
 * lets a benchmark run it inside a network namespace with nsenter.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

export interface ProxyOptions {
  listenHost: string;
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  /** One-way delay added to every chunk, in milliseconds (default 0). */
  delayMs?: number;
}

export interface ByteCounts {
  /** Bytes from the target to clients (what clients downloaded). */
  down: number;
  /** Bytes from clients to the target. */
  up: number;
}

export interface TcpProxy {
  readonly port: number;
  counts(): ByteCounts;
  reset(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(options: ProxyOptions): Promise<TcpProxy> {
  const totals: ByteCounts = { down: 0, up: 0 };
  const sockets = new Set<Socket>();
  const delayMs = options.delayMs ?? 0;
  const server: Server = createServer((client) => {
    const upstream = connect(options.targetPort, options.targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream, delayMs, (n) => (totals.up += n));
    forward(upstream, client, delayMs, (n) => (totals.down += n));
  });
  server.listen(options.listenPort ?? 0, options.listenHost);
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    counts: () => ({ ...totals }),
    reset: () => {
      totals.down = 0;
      totals.up = 0;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Pipes from → to, each chunk written delayMs after it was read; half-close follows the data. */
function forward(from: Socket, to: Socket, delayMs: number, count: (n: number) => void): void {
  let pending = 0;
  let ended = false;
  const later = (fn: () => void): void => {
    if (delayMs > 0) setTimeout(fn, delayMs);
    else fn();
  };
  from.on("data", (chunk: Buffer) => {
    pending++;
    later(() => {
      pending--;
      count(chunk.length);
      if (!to.destroyed && !to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
      if (ended && pending === 0) to.end();
    });
  });
  from.on("end", () => {
    ended = true;
    if (pending === 0) later(() => to.end());
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: "string" },
      target: { type: "string" },
      "delay-ms": { type: "string", default: "0" },
    },
  });
  const [listenHost, listenPort] = splitHostPort(values.listen ?? "127.0.0.1:0");
  const [targetHost, targetPort] = splitHostPort(values.target ?? "");
  const proxy = await startTcpProxy({
    listenHost,
    listenPort,
    targetHost,
    targetPort,
    delayMs: Number(values["delay-ms"]),
  });
  process.stdout.write(JSON.stringify({ port: proxy.port }) + "\n");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "stats") process.stdout.write(JSON.stringify(proxy.counts()) + "\n");
    if (line.trim() === "reset") proxy.reset();
  }
  await proxy.close();
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`expected HOST:PORT, got "${s}"`);
  return [s.slice(0, i), port];
}

if (import.meta.main) await main();
