/**
 * Measures a registry link from where it runs (a benchmark runs it inside its
 * client network namespace): the median time of GET /v2/ over one kept-alive
 * connection, and the rate of one blob download.
 *
 *   node bench/lib/link-probe.ts http://HOST:PORT REPO DIGEST   → {"rttMs":…,"mbit":…,"bytes":…}
 */
const [base, repo, digest] = process.argv.slice(2);
if (base === undefined || repo === undefined || digest === undefined) {
  throw new Error("usage: link-probe.ts BASE_URL REPO DIGEST");
}
const times: number[] = [];
for (let i = 0; i < 7; i++) {
  const start = performance.now();
  const res = await fetch(`${base}/v2/`);
  await res.arrayBuffer();
  times.push(performance.now() - start);
}
times.sort((a, b) => a - b);
const start = performance.now();
const res = await fetch(`${base}/v2/${repo}/blobs/${digest}`);
const bytes = (await res.arrayBuffer()).byteLength;
const seconds = (performance.now() - start) / 1000;
process.stdout.write(
  JSON.stringify({ rttMs: times[3], mbit: (bytes * 8) / seconds / 1e6, bytes }) + "\n",
);
