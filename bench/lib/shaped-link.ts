/**
 * A shaped network path between two network namespaces this process creates:
 * a veth pair with 192.0.2.1 (client side) and 192.0.2.2 (server side), from
 * TEST-NET-1, which exists only inside these namespaces; tc tbf limits the
 * rate on both ends. No netem on this kernel: latency comes from a delaying
 * TCP proxy (scripts/lib/tcp-proxy.ts) run in the client namespace.
 * Processes enter a namespace with `nsenter --net=…` only, so they keep the
 * host's mount namespace (FUSE mounts stay visible to containerd).
 */
import { run } from "../../scripts/lib/exec.ts";

export interface ShapedLink {
  client: string;
  server: string;
  clientAddress: string;
  serverAddress: string;
  /** Command prefix that runs a process in the client or server namespace. */
  clientWrap: string[];
  serverWrap: string[];
  shape(rateMbit: number): Promise<void>;
  /** Bytes the server side's veth has sent (what the client downloaded, plus headers). */
  serverTxBytes(): Promise<number>;
  remove(): Promise<void>;
}

export async function createShapedLink(tag: string): Promise<ShapedLink> {
  const client = `sgzb-${tag}-c`;
  const server = `sgzb-${tag}-s`;
  const link: ShapedLink = {
    client,
    server,
    clientAddress: "192.0.2.1",
    serverAddress: "192.0.2.2",
    clientWrap: ["nsenter", `--net=/run/netns/${client}`],
    serverWrap: ["nsenter", `--net=/run/netns/${server}`],
    shape: async (rateMbit) => {
      for (const ns of [client, server]) {
        await run("tc", [
          "-n",
          ns,
          "qdisc",
          "replace",
          "dev",
          "veth0",
          "root",
          "tbf",
          "rate",
          `${rateMbit}mbit`,
          "burst",
          "64kb",
          "latency",
          "50ms",
        ]);
      }
    },
    serverTxBytes: async () => {
      const { stdout } = await run("ip", ["-n", server, "-s", "-j", "link", "show", "veth0"]);
      const [info] = JSON.parse(stdout) as { stats64: { tx: { bytes: number } } }[];
      return info?.stats64.tx.bytes ?? 0;
    },
    remove: async () => {
      for (const ns of [client, server]) await run("ip", ["netns", "del", ns]).catch(() => {});
    },
  };
  try {
    await run("ip", ["netns", "add", client]);
    await run("ip", ["netns", "add", server]);
    await run("ip", [
      "-n",
      client,
      "link",
      "add",
      "veth0",
      "type",
      "veth",
      "peer",
      "name",
      "veth0",
      "netns",
      server,
    ]);
    for (const [ns, address] of [
      [client, link.clientAddress],
      [server, link.serverAddress],
    ] as const) {
      await run("ip", ["-n", ns, "addr", "add", `${address}/30`, "dev", "veth0"]);
      await run("ip", ["-n", ns, "link", "set", "veth0", "up"]);
      await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
  } catch (err) {
    await link.remove();
    throw err;
  }
  return link;
}
