// npm run bench: the SDK's figures, not a test.
//  1. dist/index.js size, minified and gzip'd (target ≤ 60 kB gz);
//  2. verifying one bundle in Chromium (/usr/bin/chromium headless via playwright-core): the
//     first verification in a fresh page, and the median over many runs (target ≤ 5 ms);
//  3. with ANCORA_URL and ANCORA_API_KEY set, `submit` of BENCH_EVENTS (default 100 000)
//     events from this process, in events/s.
// Run `npm run build` first.
import * as esbuild from "esbuild";
import { createServer } from "node:http";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(pkg, "dist/index.js");
if (!existsSync(dist)) {
  console.error("bench: dist/index.js is missing; run npm run build first");
  process.exit(1);
}
const RUNS = Number(process.env.BENCH_RUNS ?? 300);

// ---- 1. size ----
const code = readFileSync(dist);
console.log(`dist/index.js: ${(code.length / 1000).toFixed(1)} kB minified, ${(gzipSync(code, { level: 9 }).length / 1000).toFixed(1)} kB gzip -9`);

// ---- 2. Chromium ----
// Built beside the tests (dist-test/) so that its imports resolve from this package.
const tmp = join(pkg, "dist-test", "bench");
await esbuild.build({
  entryPoints: [join(pkg, "scripts/bench-data.ts")], outfile: join(tmp, "data.mjs"), bundle: true, format: "esm", platform: "node", packages: "external", logLevel: "warning",
});
const { benchData } = await import(pathToFileURL(join(tmp, "data.mjs")).href);
rmSync(tmp, { recursive: true, force: true });
const data = benchData();

const page = `<!doctype html><meta charset="utf-8"><title>bench</title><script type="module">
import { verifyBundle } from "/sdk.js";
const data = ${JSON.stringify(data)};
async function time(text, opts, runs) {
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await verifyBundle(text, opts);
    t.push(performance.now() - t0);
    if (r.verdict !== "verified") throw new Error("not verified: " + JSON.stringify(r.steps));
  }
  return t;
}
window.run = async (runs) => {
  const tlog = { logKeys: [data.logKey] };
  const both = { logKeys: [data.logKey], chainwebHeaders: [data.header] };
  const first = await time(data.v1, tlog, 1);
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  const p90 = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length * 0.9)]; };
  const v1 = await time(data.v1, tlog, runs);
  const v2 = await time(data.v2, both, runs);
  return { first: first[0], v1: [med(v1), p90(v1)], v2: [med(v2), p90(v2)] };
};
window.ready = true;
</script>`;
const server = createServer((req, res) => {
  if (req.url === "/sdk.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    return res.end(code);
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(page);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/`;
const { chromium } = await import("playwright-core");
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const p = await browser.newPage();
  p.on("pageerror", (e) => console.error("page error:", e.message));
  await p.goto(url);
  await p.waitForFunction(() => window.ready === true);
  const r = await p.evaluate((n) => window.run(n), RUNS);
  const ms = (x) => `${x.toFixed(2)} ms`;
  console.log(`Chromium ${browser.version()}: first verification in a fresh page ${ms(r.first)}`);
  console.log(`  v1 bundle (tlog: checkpoint signature + 3 Merkle paths), median of ${RUNS}: ${ms(r.v1[0])} (p90 ${ms(r.v1[1])})`);
  console.log(`  v2 bundle (tlog + chainweb SPV + header), median of ${RUNS}: ${ms(r.v2[0])} (p90 ${ms(r.v2[1])})`);
} finally {
  await browser.close();
  server.close();
}

// ---- 3. submit throughput ----
const base = process.env.ANCORA_URL;
const apiKey = process.env.ANCORA_API_KEY;
if (!base || !apiKey) {
  console.log("submit: skipped (set ANCORA_URL and ANCORA_API_KEY to measure submit throughput against a service)");
} else {
  const { AncoraClient } = await import(pathToFileURL(dist).href);
  const { sha256 } = await import("@noble/hashes/sha2.js");
  const n = Number(process.env.BENCH_EVENTS ?? 100_000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 4);
  const run = `bench-${Date.now()}`;
  const hex = (b) => Buffer.from(b).toString("hex");
  const events = Array.from({ length: n }, (_, i) => ({ id: `${run}-${i}`, digest: `sha256:${hex(sha256(new TextEncoder().encode(`${run} ${i}`)))}` }));
  const client = new AncoraClient({ baseUrl: base, apiKey, concurrency });
  const t0 = performance.now();
  const receipts = await client.submit(events);
  const s = (performance.now() - t0) / 1000;
  console.log(`submit: ${receipts.length} events in ${s.toFixed(1)} s = ${Math.round(receipts.length / s)} events/s (batches of 1 000, ${concurrency} in flight) against ${base}`);
}
