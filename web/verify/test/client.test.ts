// AncoraClient against a local HTTP server that behaves like `ancora serve` for the parts the
// client uses: POST /v1/events with Idempotency-Key, 429/503 with Retry-After, a connection
// dropped after the events were stored, submitter signatures checked over the service's exact
// message, GET /v1/events/{id}/proof (404 + Retry-After while not proved), GET /v1/log/key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, IncomingMessage, ServerResponse } from "node:http";
import { AddressInfo } from "node:net";
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { AncoraClient, AncoraError } from "../src/index.js";
import { readReceipt } from "../src/client.js";
import { b64Decode, hexEncode, utf8 } from "../src/encoding.js";
import { goodBundleV1, otherSigner, signer } from "./world.js";

const API_KEY = "ak_test_0123456789";
const DEVICE_SEED = new Uint8Array(32).fill(42);
const DEVICE_KEY = ed25519.getPublicKey(DEVICE_SEED);

interface Fake {
  url: string;
  requests: { key: string | undefined; count: number }[];
  stored: Map<string, string>;
  /** Scripted answers for the next POSTs: "429", "503", "drop" (store, then drop the connection). */
  script: string[];
  proofDelays: Map<string, number>;
  bundles: Map<string, unknown>;
  close: () => Promise<void>;
}

function problem(res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/problem+json", ...headers });
  res.end(JSON.stringify({ type: "about:blank", title: "error", status, detail }));
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function fakeAncora(): Promise<Fake> {
  const fake = { requests: [], stored: new Map(), script: [], proofDelays: new Map(), bundles: new Map() } as unknown as Fake;
  const idem = new Map<string, string>();
  const server = createServer(async (req, res) => {
    if (req.headers.authorization !== `Bearer ${API_KEY}` && req.url !== "/v1/log/key") return problem(res, 401, "missing API key");
    const url = new URL(req.url!, "http://x");
    if (req.method === "POST" && url.pathname === "/v1/events") {
      const text = await body(req);
      const key = req.headers["idempotency-key"] as string | undefined;
      const events = JSON.parse(text).events as any[];
      fake.requests.push({ key, count: events.length });
      const step = fake.script.shift();
      if (step === "429") return problem(res, 429, "rate limited", { "retry-after": "1" });
      if (step === "503") return problem(res, 503, "overloaded", { "retry-after": "0" });
      if (key && idem.has(key)) {
        res.writeHead(202, { "content-type": "application/json" });
        return res.end(idem.get(key));
      }
      const receipts = [];
      for (const [i, e] of events.entries()) {
        let digest = e.digest;
        if (e.content !== undefined) digest = `sha256:${hexEncode(sha256(b64Decode(e.content)))}`;
        if ((e.signature === undefined) !== (e.key === undefined)) return problem(res, 422, `events[${i}]: signature and key go together`);
        if (e.signature !== undefined) {
          if (e.key !== "device-1") return problem(res, 422, `events[${i}].key: no active submitter key named ${JSON.stringify(e.key)}`);
          const msg = utf8(`ancora-event-v1\n${e.id}\n${digest}`);
          if (!ed25519.verify(b64Decode(e.signature), msg, DEVICE_KEY, { zip215: false })) {
            return problem(res, 422, `events[${i}].signature does not verify`);
          }
        }
        const id = e.id ?? `gen-${fake.stored.size}`;
        if (fake.stored.has(id)) return problem(res, 409, `events[${i}].id is stored with another digest`);
        fake.stored.set(id, digest);
        receipts.push({ id, digest, leafHash: "x", receivedAt: "2026-01-01T00:00:00Z", receivedAtMicros: 1, statusUrl: `/v1/events/${id}` });
      }
      const out = JSON.stringify({ receipts });
      if (key) idem.set(key, out);
      if (step === "drop") return req.socket.destroy();
      res.writeHead(202, { "content-type": "application/json" });
      return res.end(out);
    }
    const m = url.pathname.match(/^\/v1\/events\/([^/]+)\/proof$/);
    if (req.method === "GET" && m) {
      const id = decodeURIComponent(m[1]!);
      if (!fake.bundles.has(id)) return problem(res, 404, `no event with id ${JSON.stringify(id)}`);
      const left = fake.proofDelays.get(id) ?? 0;
      if (left > 0) {
        fake.proofDelays.set(id, left - 1);
        return problem(res, 404, `event "${id}" has no proof yet (status: batched); retry later`, { "retry-after": "1" });
      }
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(fake.bundles.get(id)));
    }
    if (req.method === "GET" && url.pathname === "/v1/log/key") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(signer().verifierKey() + "\n");
    }
    problem(res, 404, "no route");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return fake;
}

const digest = (i: number) => `sha256:${hexEncode(sha256(utf8(`event ${i}`)))}`;

test("submit splits into batches of 1 000, one Idempotency-Key per batch, receipts in order", async () => {
  const fake = await fakeAncora();
  try {
    const client = new AncoraClient({ baseUrl: fake.url + "/", apiKey: API_KEY });
    const events = Array.from({ length: 2500 }, (_, i) => ({ id: `e-${i}`, digest: digest(i) }));
    const receipts = await client.submit(events);
    assert.deepEqual(receipts.map((r) => r.id), events.map((e) => e.id));
    assert.equal(receipts[7]!.statusUrl, "/v1/events/e-7");
    assert.equal(receipts[7]!.receivedAtMicros, 1);
    assert.deepEqual(fake.requests.map((r) => r.count).sort((a, b) => a - b), [500, 1000, 1000]);
    const keys = fake.requests.map((r) => r.key!);
    assert.equal(new Set(keys).size, 3);
    for (const k of keys) assert.match(k, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  } finally {
    await fake.close();
  }
});

test("a 429 with Retry-After is waited out, and a dropped connection is retried with the same Idempotency-Key", async () => {
  const fake = await fakeAncora();
  try {
    fake.script.push("429", "drop");
    const client = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, retryBaseMs: 10 });
    const t0 = Date.now();
    const receipts = await client.submit([{ id: "a", digest: digest(1) }, { id: "b", digest: digest(2) }]);
    assert.ok(Date.now() - t0 >= 1000, "Retry-After: 1 was honoured");
    assert.deepEqual(receipts.map((r) => r.id), ["a", "b"]);
    assert.equal(fake.requests.length, 3);
    assert.equal(new Set(fake.requests.map((r) => r.key)).size, 1, "one Idempotency-Key across the retries");
    assert.equal(fake.stored.size, 2, "each event stored once");
  } finally {
    await fake.close();
  }
});

test("503s are retried a bounded number of times, then submit rejects with unavailable", async () => {
  const fake = await fakeAncora();
  try {
    fake.script.push("503", "503", "503", "503", "503");
    const client = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, maxAttempts: 3, retryBaseMs: 5 });
    await assert.rejects(client.submit([{ digest: digest(1) }]), (e: unknown) => e instanceof AncoraError && e.code === "unavailable" && e.status === 503);
    assert.equal(fake.requests.length, 3);
    // The next submit gets through after two more 503s.
    const ok = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, retryBaseMs: 5 });
    assert.equal((await ok.submit([{ digest: digest(1) }])).length, 1);
  } finally {
    await fake.close();
  }
});

test("an unreachable service is retried, then reported as unavailable", async () => {
  const fake = await fakeAncora();
  const url = fake.url;
  await fake.close();
  const client = new AncoraClient({ baseUrl: url, apiKey: API_KEY, maxAttempts: 2, retryBaseMs: 5 });
  await assert.rejects(client.submit([{ digest: digest(1) }]), (e: unknown) => e instanceof AncoraError && e.code === "unavailable");
});

test("events signed with a submitter key carry the signature the service checks", async () => {
  const fake = await fakeAncora();
  try {
    for (const secretKey of [DEVICE_SEED, hexEncode(DEVICE_SEED)]) {
      const client = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, submitterKey: { name: "device-1", secretKey } });
      const n = fake.stored.size;
      const receipts = await client.submit([
        { id: `signed-${n}`, digest: digest(1).toUpperCase().replace("SHA256", "sha256") },
        { digest: digest(2) },
        { content: "hello", metadata: { a: 1 } },
        { content: new Uint8Array([1, 2, 3]) },
      ]);
      assert.equal(receipts.length, 4);
      assert.equal(receipts[0]!.digest, digest(1), "the digest is sent and signed in canonical lowercase");
      assert.match(receipts[1]!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/, "a signed event without id gets a UUID v7");
      assert.equal(receipts[2]!.digest, `sha256:${hexEncode(sha256(utf8("hello")))}`);
    }
    const wrong = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, submitterKey: { name: "device-1", secretKey: new Uint8Array(32).fill(1) } });
    await assert.rejects(wrong.submit([{ id: "x", digest: digest(9) }]), (e: unknown) => e instanceof AncoraError && e.code === "http_error" && e.status === 422 && /signature does not verify/.test(e.message));
  } finally {
    await fake.close();
  }
});

test("bad events are refused before anything is sent", async () => {
  const fake = await fakeAncora();
  try {
    const client = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY });
    for (const bad of [{}, { digest: "md5:00" }, { digest: digest(1), content: "x" }]) {
      await assert.rejects(client.submit([{ digest: digest(1) }, bad as never]), (e: unknown) => e instanceof AncoraError && e.code === "bad_event" && /events\[1\]/.test(e.message));
    }
    assert.equal(fake.requests.length, 0);
    assert.throws(() => new AncoraClient({ baseUrl: "ftp://x", apiKey: API_KEY }), AncoraError);
    assert.throws(() => new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY, submitterKey: { name: "k", secretKey: "abcd" } }), AncoraError);
  } finally {
    await fake.close();
  }
});

test("waitForProof polls through 404 + Retry-After; verify checks the bundle here with the log key", async () => {
  const fake = await fakeAncora();
  try {
    fake.bundles.set("inv/2026 0003", goodBundleV1());
    fake.proofDelays.set("inv/2026 0003", 2);
    const client = new AncoraClient({ baseUrl: fake.url, apiKey: API_KEY });
    await assert.rejects(client.proof("inv/2026 0003"), (e: unknown) => e instanceof AncoraError && e.code === "not_found");
    const bundle = await client.waitForProof("inv/2026 0003", { timeoutMs: 10_000, pollMs: 20 });
    assert.deepEqual(bundle, goodBundleV1());
    assert.deepEqual(await client.proof("inv/2026 0003"), goodBundleV1());
    const report = await client.verify("inv/2026 0003");
    assert.equal(report.verdict, "verified");
    // A key pinned by the caller is used instead of the service's.
    const other = await client.verify("inv/2026 0003", { logKeys: [otherSigner().verifierKey()] });
    assert.equal(other.verdict, "failed");
    assert.equal(other.steps[3]!.status, "failed");
    await assert.rejects(client.waitForProof("nope", { timeoutMs: 1000 }), (e: unknown) => e instanceof AncoraError && e.code === "not_found");
    fake.bundles.set("slow", goodBundleV1());
    fake.proofDelays.set("slow", 1000);
    await assert.rejects(client.waitForProof("slow", { timeoutMs: 300, pollMs: 50 }), (e: unknown) => e instanceof AncoraError && e.code === "timeout");
  } finally {
    await fake.close();
  }
});

test("receipts are read camelCase, and snake_case from a service that predates it", () => {
  const now = { id: "a", digest: "d", leafHash: "h", receivedAt: "t", receivedAtMicros: 5, statusUrl: "/v1/events/a" };
  const old = { id: "a", digest: "d", leaf_hash: "h", received_at: "t", received_at_micros: 5, status_url: "/v1/events/a" };
  assert.deepEqual(readReceipt(now), now);
  assert.deepEqual(readReceipt(old), now);
});
