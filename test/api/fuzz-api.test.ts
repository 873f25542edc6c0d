// Property tests over every operation the emulator publishes in its own OpenAPI document: random
// paths, queries, headers and bodies (wrong types, huge strings, unicode, missing/extra fields,
// truncated multipart, wrong content types) must always get a JSON 4xx error (or a 2xx when the
// request happens to be valid), never a 5xx or a crash, and a rejected request changes nothing.
// Responses are also checked against the published schemas by the emulator itself (response check).
// FUZZ_RUNS sets the number of generated requests (default 600).
import fc from "fast-check";
import net from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { png } from "../helpers/fixtures.js";
import { operations, sample, type Operation } from "../helpers/openapi-sampler.js";
import { changedParts, stateDigest, stateParts } from "../helpers/state-digest.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);

let emu: TestEmulator;
let ops: Operation[];
let doc: any;
const stats = { cases: 0, byStatus: new Map<number, number>(), rejectedChecked: 0, rawCases: 0 };

const BATCH = "fuzz-batch";

beforeAll(async () => {
  emu = await startTestEmulator();
  // A batch with a file, so id-bearing routes have something real to find (seeded over HTTP, as users do).
  await emu.controls.seed({ batches: [{ batchId: BATCH, files: [{ name: "one.png", base64: png(1).toString("base64") }] }] });
  const r = await emu.call("GET", "/openapi.json", { apiKey: null });
  doc = r.json;
  // Controls that change behaviour on purpose (faults, reset, clock) are fuzzed only with GET here.
  ops = operations(doc).filter((o) => !o.path.startsWith("/_emulator") || o.method === "GET");
});

afterAll(async () => {
  const byStatus = [...stats.byStatus]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}:${n}`)
    .join(" ");
  console.log(
    `[fuzz] ${stats.cases} generated requests over ${ops?.length ?? 0} operations (${byStatus}); ${stats.rejectedChecked} rejections checked for unchanged state; ${stats.rawCases} raw-socket cases`,
  );
  await emu?.close();
});

// ---- generators ----------------------------------------------------------------------------------

// Mostly under Node's 16 KiB header limit (so the app sees them), sometimes far over it.
const hugeString = fc
  .oneof({ arbitrary: fc.integer({ min: 2_000, max: 12_000 }), weight: 4 }, { arbitrary: fc.integer({ min: 20_000, max: 70_000 }), weight: 1 })
  .map((n) => "a".repeat(n));
const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "..",
    "../..",
    "%2e%2e",
    "a/b",
    "a\\b",
    "\u0000",
    "\u202e",
    "💥",
    " ",
    "",
    "null",
    "-1",
    "1e309",
    "NaN",
    "0x10",
    "true",
    "[]",
    "{}",
    "UPPER",
    "a".repeat(65),
  ),
  hugeString,
);
const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }),
  weirdString,
);

type BodyPlan =
  | { kind: "none" }
  | { kind: "sample"; mutation: "none" | "drop" | "wrong-type" | "extra" | "typo"; pick: number; value: unknown; extraKey: string }
  | { kind: "json"; value: unknown }
  | { kind: "bad-json"; cut: number }
  | { kind: "multipart"; variant: "ok" | "truncated" | "no-parts" | "two-parts" | "wrong-boundary" | "no-boundary"; name: string }
  | { kind: "bytes"; data: Uint8Array; contentType: string };

const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  fc.record({
    kind: fc.constant("sample" as const),
    mutation: fc.constantFrom("none" as const, "drop" as const, "wrong-type" as const, "extra" as const, "typo" as const),
    pick: fc.nat(),
    value: wrongType,
    extraKey: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("notificationUrl", "notificationsUrl", "batchID", "__proto__", "constructor")),
  }),
  fc.record({ kind: fc.constant("json" as const), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ kind: fc.constant("bad-json" as const), cut: fc.nat() }),
  fc.record({
    kind: fc.constant("multipart" as const),
    variant: fc.constantFrom("ok" as const, "truncated" as const, "no-parts" as const, "two-parts" as const, "wrong-boundary" as const, "no-boundary" as const),
    name: fc.oneof(fc.constantFrom("img.png", "../evil.png", "a/b.png", "x\u0001.png", "", ".png", "noext"), fc.string({ maxLength: 30 })),
  }),
  fc.record({
    kind: fc.constant("bytes" as const),
    data: fc.uint8Array({ maxLength: 2048 }),
    contentType: fc.constantFrom(
      "application/octet-stream",
      "text/plain",
      "application/xml",
      "application/json",
      "image/png",
      "application/x-www-form-urlencoded",
      "",
    ),
  }),
);

const valueFor = (mode: number, valid: string, garbage: string, validBelow = 6) => (mode < validBelow ? valid : mode < 8 ? "nonexistent-id-1" : garbage);

const casePlan = fc.record({
  op: fc.nat(),
  pathModes: fc.array(fc.nat({ max: 9 }), { minLength: 4, maxLength: 4 }),
  pathGarbage: weirdString,
  rawPathGarbage: fc.boolean(),
  query: fc.array(fc.record({ mode: fc.nat({ max: 4 }), value: fc.oneof(weirdString, fc.integer().map(String)) }), { minLength: 6, maxLength: 6 }),
  extraQuery: fc.option(fc.tuple(fc.string({ maxLength: 10 }), weirdString), { nil: undefined }),
  keyMode: fc.nat({ max: 19 }),
  body: bodyPlan,
  contentTypeOverride: fc.option(
    fc.constantFrom("text/plain", "application/json; charset=utf-16", "multipart/form-data", "application/x-www-form-urlencoded", "image/png", "*/*"),
    { nil: undefined },
  ),
  extraHeader: fc.option(
    fc.tuple(fc.constantFrom("x-fuzz", "accept", "accept-encoding", "range", "if-none-match", "x-forwarded-for"), fc.stringMatching(/^[\x21-\x7e]{0,60}$/)),
    { nil: undefined },
  ),
});

function multipartBody(variant: string, name: string): { body: Buffer; contentType: string } {
  const boundary = "----fuzzboundary7MA4YWxk";
  const safeName = name.replace(/["\r\n]/g, "_");
  const part = (field: string, data: Buffer) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${field}"\r\n\r\n`), data, Buffer.from("\r\n")]);
  const end = Buffer.from(`--${boundary}--\r\n`);
  const image = png(42);
  switch (variant) {
    case "ok":
      return { body: Buffer.concat([part(safeName || "img.png", image), end]), contentType: `multipart/form-data; boundary=${boundary}` };
    case "truncated": {
      const full = Buffer.concat([part(safeName || "img.png", image), end]);
      return { body: full.subarray(0, Math.floor(full.length / 2)), contentType: `multipart/form-data; boundary=${boundary}` };
    }
    case "no-parts":
      return { body: end, contentType: `multipart/form-data; boundary=${boundary}` };
    case "two-parts":
      return { body: Buffer.concat([part("a.png", image), part("b.png", png(43)), end]), contentType: `multipart/form-data; boundary=${boundary}` };
    case "wrong-boundary":
      return { body: Buffer.concat([part("img.png", image), end]), contentType: "multipart/form-data; boundary=somethingelse" };
    default:
      return { body: Buffer.concat([part("img.png", image), end]), contentType: "multipart/form-data" };
  }
}

function mutateSample(base: unknown, plan: Extract<BodyPlan, { kind: "sample" }>): unknown {
  if (plan.mutation === "none" || base === null || typeof base !== "object" || Array.isArray(base)) return base;
  const obj = structuredClone(base) as Record<string, unknown>;
  const keys = Object.keys(obj);
  const key = keys.length ? keys[plan.pick % keys.length] : undefined;
  switch (plan.mutation) {
    case "drop":
      if (key) delete obj[key];
      break;
    case "wrong-type":
      if (key) obj[key] = plan.value;
      break;
    case "extra":
      obj[plan.extraKey] = plan.value;
      break;
    case "typo":
      if (key) {
        obj[key.toLowerCase() === key ? key.toUpperCase() : key.toLowerCase()] = obj[key];
        delete obj[key];
      }
      break;
  }
  return obj;
}

const wellFormed = (s: string) => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");

type CasePlan = typeof casePlan extends fc.Arbitrary<infer T> ? T : never;

function buildRequest(plan: CasePlan) {
  const op = ops[plan.op % ops.length];
  const valid: Record<string, string> = { workspace: emu.workspace, batchId: BATCH, jobId: "fuzz-job", seq: "1", fileName: "one.png", stageId: "processing" };
  let pathname = op.path;
  op.pathParams.forEach((name, i) => {
    const mode = plan.pathModes[i % plan.pathModes.length];
    // Lone surrogates cannot be percent-encoded; a client could not send them either.
    const v = wellFormed(valueFor(mode, valid[name] ?? "x", plan.pathGarbage, name === "workspace" ? 8 : 6));
    const enc =
      plan.rawPathGarbage && mode >= 8 ? v.replace(/[?#%\s\u0000-\u001f\u007f-\u{10ffff}]/gu, (ch: string) => encodeURIComponent(ch)) : encodeURIComponent(v);
    pathname = pathname.replace(`{${name}}`, enc || "%20");
  });
  const url = new URL(emu.url + pathname);
  op.queryParams.forEach((q, i) => {
    if (q.name === "api_key") return;
    const m = plan.query[i % plan.query.length];
    if (m.mode === 0) return;
    const v = m.mode === 1 ? JSON.stringify(sample(doc, q.schema) ?? 1).replace(/^"|"$/g, "") : m.value;
    url.searchParams.append(q.name, v);
    if (m.mode === 4) url.searchParams.append(q.name, m.value);
  });
  if (plan.extraQuery) url.searchParams.append(plan.extraQuery[0] || "x", plan.extraQuery[1]);
  if (plan.keyMode === 1) url.searchParams.set("api_key", "wrong-key");
  else if (plan.keyMode === 2) url.searchParams.set("api_key", "");
  else if (plan.keyMode !== 3) url.searchParams.set("api_key", emu.apiKey);

  const headers: Record<string, string> = {};
  let body: Buffer | string | undefined;
  const b = plan.body;
  const jsonSchema = op.body["application/json"];
  if (b.kind === "sample") {
    body = JSON.stringify(mutateSample(jsonSchema ? sample(doc, jsonSchema) : {}, b));
    headers["content-type"] = "application/json";
  } else if (b.kind === "json") {
    body = JSON.stringify(b.value);
    headers["content-type"] = "application/json";
  } else if (b.kind === "bad-json") {
    const text = JSON.stringify(jsonSchema ? sample(doc, jsonSchema) : { a: 1 });
    body = text.slice(0, Math.max(1, b.cut % text.length));
    headers["content-type"] = "application/json";
  } else if (b.kind === "multipart") {
    const m = multipartBody(b.variant, b.name);
    body = m.body;
    headers["content-type"] = m.contentType;
  } else if (b.kind === "bytes") {
    body = Buffer.from(b.data);
    if (b.contentType) headers["content-type"] = b.contentType;
  }
  if (plan.contentTypeOverride && body !== undefined) headers["content-type"] = plan.contentTypeOverride;
  if (plan.extraHeader) headers[plan.extraHeader[0]] = plan.extraHeader[1];
  // GET with a body is legal HTTP but pointless; keep it for the write methods only.
  if (op.method === "GET") body = undefined;
  return { op, url, method: op.method, headers, body };
}

async function settledDigest(dataRoot: string): Promise<string> {
  let prev = stateDigest(emu.emulator.db, dataRoot);
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 15));
    const next = stateDigest(emu.emulator.db, dataRoot);
    if (next === prev) return next;
    prev = next;
  }
  throw new Error("the emulator's state never settled (background work running for over 3 s)");
}

function bump(status: number) {
  stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
}

describe("fuzz: every published operation", () => {
  it("never answers 5xx, always a JSON error for 4xx, and leaves state unchanged when it rejects", async () => {
    expect(ops.length).toBeGreaterThanOrEqual(8);
    const dataRoot = emu.emulator.blobs.root.replace(/[/\\]blobs$/, "");
    const outcome = await fc.check(
      fc.asyncProperty(casePlan, async (plan) => {
        const req = buildRequest(plan);
        // Earlier accepted requests may have started background work (ingests, jobs, webhooks): wait until
        // the state stands still, so a change seen afterwards can only come from this request.
        const before = await settledDigest(dataRoot);
        const beforeParts = stateParts(emu.emulator.db, dataRoot);
        const res = await request(req.url, { method: req.method as any, headers: req.headers, body: req.body, headersTimeout: 15_000, bodyTimeout: 15_000 });
        const text = await res.body.text();
        stats.cases++;
        bump(res.statusCode);
        const where = `${req.method} ${req.url.pathname}${req.url.search.slice(0, 200)} → ${res.statusCode}: ${text.slice(0, 400)}`;
        expect(res.statusCode, where).toBeLessThan(500);
        expect(res.statusCode, where).toBeGreaterThanOrEqual(200);
        // 431: Node's HTTP parser refuses request lines + headers over 16 KiB before the app sees them.
        if (res.statusCode === 431) return;
        if (res.statusCode >= 400) {
          const ct = String(res.headers["content-type"] ?? "");
          expect(ct, where).toMatch(/application\/json/);
          const json = JSON.parse(text);
          expect(typeof json.message, where).toBe("string");
          expect(json.error?.status, where).toBe(res.statusCode);
          const after = stateDigest(emu.emulator.db, dataRoot);
          if (after !== before)
            throw new Error(`state changed by a rejected request (${changedParts(beforeParts, stateParts(emu.emulator.db, dataRoot)).join("; ")}): ${where}`);
          stats.rejectedChecked++;
        }
      }),
      { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, endOnFailure: true },
    );
    // fast-check's own report prints the whole counterexample (huge strings included): keep it short.
    if (outcome.failed) {
      const cause = String((outcome.errorInstance as Error)?.message ?? outcome.errorInstance).slice(0, 1500);
      throw new Error(
        `fuzz case failed after ${outcome.numRuns} runs (seed ${outcome.seed}, path ${outcome.counterexamplePath}; rerun with FUZZ_SEED=${outcome.seed}): ${cause}`,
      );
    }
    const health = await emu.call("GET", "/health", { apiKey: null });
    expect(health.status).toBe(200);
  }, 240_000);
});

// ---- below HTTP semantics: raw sockets ------------------------------------------------------------

function rawExchange(payload: Buffer | string, opts: { endAfter?: boolean; waitMs?: number } = {}): Promise<string> {
  const { port } = emu;
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = "";
    const done = () => {
      sock.destroy();
      resolve(data);
    };
    sock.on("data", (d) => (data += d.toString("latin1")));
    sock.on("error", done);
    sock.on("close", done);
    sock.on("connect", () => {
      sock.write(payload);
      if (opts.endAfter) sock.end();
    });
    setTimeout(done, opts.waitMs ?? 1500);
  });
}

describe("fuzz: malformed HTTP on the wire", () => {
  const upload = () => `/data-staging/v1/external/${emu.workspace}/batches/raw-batch/upload/image?api_key=${emu.apiKey}&fileName=a.png`;
  const list = () => `/data-staging/v1/external/${emu.workspace}/batches?api_key=${emu.apiKey}`;

  it("survives absurd Content-Length, lying lengths, bad chunking and garbage request lines", async () => {
    const dataRoot = emu.emulator.blobs.root.replace(/[/\\]blobs$/, "");
    const before = stateDigest(emu.emulator.db, dataRoot);
    const cases: { payload: string | Buffer; end?: boolean }[] = [
      {
        payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 99999999999999\r\n\r\n--b\r\n`,
        end: true,
      },
      {
        payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 10\r\n\r\n--b\r\nContent-Disposition: form-data; name="a.png"; filename="a.png"\r\n\r\nxxxxxxxxxxxxxxxxxxxx`,
      },
      { payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: -5\r\n\r\n` },
      {
        payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n`,
      },
      { payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` },
      { payload: `GET ${list()} HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n` },
      { payload: `NOT-A-METHOD /\u0000 HTTP/9.9\r\n\r\n` },
      { payload: Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]) },
      { payload: `GET ${list()} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n`, end: true },
      {
        payload: `POST ${upload()} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n--b\r\nContent-Disposition: form-data; name="a.png"; filename="a.png"\r\n\r\n\x89PNG`,
        end: true,
      },
    ];
    for (const c of cases) {
      const reply = await rawExchange(c.payload, { endAfter: c.end });
      stats.rawCases++;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1];
      // Either no reply (connection dropped mid-body) or a non-5xx status.
      if (status) expect(Number(status), `reply to ${String(c.payload).slice(0, 120)}: ${reply.slice(0, 200)}`).toBeLessThan(500);
      const health = await emu.call("GET", "/health", { apiKey: null });
      expect(health.status).toBe(200);
    }
    // Give aborted uploads a moment to clean up their temp files, then nothing may have changed.
    let after = stateDigest(emu.emulator.db, dataRoot);
    for (let i = 0; i < 50 && after !== before; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = stateDigest(emu.emulator.db, dataRoot);
    }
    expect(after).toBe(before);
  });
});
