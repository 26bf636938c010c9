/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./process.ts";

export interface TestCerts {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export async function makeTestCerts(dir: string): Promise<TestCerts> {
  const p = (name: string): string => join(dir, name);
  const days = ["-days", "2"];
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.pem"),
    ...days,
    "-subj",
    "/CN=stargz-test-ca",
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    p("server.key"),
    "-out",
    p("server.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await writeFile(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    p("server.csr"),
    "-CA",
    p("ca.pem"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("server.pem"),
    ...days,
    "-extfile",
    p("ext.cnf"),
  ]);
  return { caFile: p("ca.pem"), certFile: p("server.pem"), keyFile: p("server.key") };
}

/** A self-signed certificate and key, e.g. for signing registry tokens. */
export async function makeSelfSigned(
  dir: string,
  name: string,
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ]);
  return { certFile, keyFile };
}
