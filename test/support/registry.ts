/**
 * A real OCI registry (Debian's docker-registry, the CNCF distribution server)
 * started on a free loopback port under a temp dir, for one test file.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startProcess, waitFor, type RunningProcess } from "./process.ts";

export interface RegistryOptions {
  /** Directory that holds the registry's storage, config and log. */
  dir: string;
  /** Serve HTTPS with this certificate and key (PEM file paths). */
  tls?: { certFile: string; keyFile: string };
  /** Require basic auth against this htpasswd file (bcrypt entries). */
  htpasswdFile?: string;
  /** Require bearer tokens from a token server (see token-server.ts). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export interface TestRegistry {
  /** host:port, as used in image references. */
  readonly host: string;
  readonly url: string;
  readonly process: RunningProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

export async function startRegistry(options: RegistryOptions): Promise<TestRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const storage = join(options.dir, "storage");
  await mkdir(storage, { recursive: true });
  const configFile = join(options.dir, "registry.yml");
  await writeFile(configFile, registryConfig(host, storage, options));
  const logFile = join(options.dir, "registry.log");
  const proc = startProcess("docker-registry", ["serve", configFile], { logFile });
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://${host}`;
  await waitFor(`registry on ${host}`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`registry exited, see ${logFile}`);
    const { connect } = await import("node:net");
    return await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
  });
  return {
    host,
    url,
    process: proc,
    logFile,
    stop: async () => {
      await proc.stop();
    },
  };
}

function registryConfig(host: string, storage: string, options: RegistryOptions): string {
  const lines = [
    "version: 0.1",
    "log:",
    "  level: warn",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storage}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${host}`,
  ];
  if (options.tls) {
    lines.push(
      "  tls:",
      `    certificate: ${options.tls.certFile}`,
      `    key: ${options.tls.keyFile}`,
    );
  }
  if (options.htpasswdFile) {
    lines.push("auth:", "  htpasswd:", "    realm: test", `    path: ${options.htpasswdFile}`);
  }
  if (options.token) {
    lines.push(
      "auth:",
      "  token:",
      `    realm: ${options.token.realm}`,
      `    service: ${options.token.service}`,
      `    issuer: ${options.token.issuer}`,
      `    rootcertbundle: ${options.token.rootCertBundle}`,
    );
  }
  return lines.join("\n") + "\n";
}
