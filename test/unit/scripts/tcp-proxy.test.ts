import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type AddressInfo } from "node:net";
import { startTcpProxy } from "../../../scripts/lib/tcp-proxy.ts";

/** A server that answers every request with `size` bytes and closes. */
async function blobServer(size: number): Promise<{ port: number; close(): void }> {
  const server = createServer((socket) => {
    socket.once("data", () => socket.end(Buffer.alloc(size, 7)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function request(port: number): Promise<{ bytes: number; ms: number }> {
  const start = performance.now();
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write("get");
  let bytes = 0;
  socket.on("data", (b: Buffer) => (bytes += b.length));
  await once(socket, "end");
  socket.destroy();
  return { bytes, ms: performance.now() - start };
}

test("counts the bytes in each direction, and reset zeroes them", async () => {
  const server = await blobServer(300_000);
  const proxy = await startTcpProxy({
    listenHost: "127.0.0.1",
    targetHost: "127.0.0.1",
    targetPort: server.port,
  });
  try {
    const { bytes } = await request(proxy.port);
    assert.equal(bytes, 300_000);
    assert.deepEqual(proxy.counts(), { down: 300_000, up: 3 });
    proxy.reset();
    assert.deepEqual(proxy.counts(), { down: 0, up: 0 });
  } finally {
    await proxy.close();
    server.close();
  }
});

test("delays each direction, so a request and its answer take at least two delays", async () => {
  const server = await blobServer(10);
  const proxy = await startTcpProxy({
    listenHost: "127.0.0.1",
    targetHost: "127.0.0.1",
    targetPort: server.port,
    delayMs: 25,
  });
  try {
    const { bytes, ms } = await request(proxy.port);
    assert.equal(bytes, 10);
    assert.ok(ms >= 50, `round trip took ${ms} ms`);
  } finally {
    await proxy.close();
    server.close();
  }
});
