// The contract-test oracle over HTTP: journal bodies (JSON, multipart, streamed downloads), body /
// query / header matching, verification with near misses, the contract report (deprecated option,
// unknown field, injected answers, coverage, failed webhooks, surviving resets), respond and
// job-state stubs, and the control routes' 404 / 415 under the response self-check.
import crypto from "node:crypto";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

const definition = (ws: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId: "pics" },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
  processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "wf", ...spec },
  ...extra,
});
const BIG_TEXT = "0123456789abcdef".repeat(256 * 1024); // 4 MiB

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());
beforeEach(async () => {
  await emu.controls.reset();
  await emu.controls.clearContractReport();
  const s = await ctl("POST", "/seed", {
    workspaces: [{ id: "team-b", apiKeys: ["key-b"] }],
    batches: [
      { batchId: "pics", images: { count: 2 } },
      { batchId: "texts", files: [{ name: "big.jsonl", text: BIG_TEXT }] },
    ],
  });
  expect(s.status, s.text).toBe(200);
});

describe("journal bodies", () => {
  it("keeps JSON bodies (api keys masked), the operation, response headers and body; multipart as parts with sha256", async () => {
    const def = definition(emu.workspace, {}, { aggregationFormat: "csv", workflowParameters: { ref: "https://x.test/a.png?api_key=secret-in-body" } });
    expect((await emu.call("POST", emu.jobs("j-csv"), { json: def, headers: { authorization: "Bearer tok-123" } })).status).toBe(200);
    const png = crypto.randomBytes(64);
    const form = new FormData();
    form.append("a.png", new Blob([Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), png])], { type: "image/png" }), "a.png");
    const up = await fetch(`${emu.url}${emu.staging("up")}/upload/image?api_key=${emu.apiKey}&fileName=a.png`, { method: "POST", body: form });
    await up.text();
    const page = (await ctl("GET", "/journal")).json;
    const [job, upload] = page.entries;
    expect(job.operation).toBe("POST /batch-processing/v1/external/{workspace}/jobs/{jobId}");
    expect(job.headers.authorization).toBe("Bearer ***");
    expect(job.requestBody).toMatchObject({ kind: "json", contentType: "application/json", truncated: false, complete: true });
    expect(JSON.parse(job.requestBody.text).processingSpecification.aggregationFormat).toBe("csv");
    expect(job.requestBody.text).toContain("api_key=***");
    expect(JSON.stringify(page)).not.toContain("secret-in-body");
    expect(JSON.stringify(page)).not.toContain("tok-123");
    expect(job.responseHeaders["content-type"]).toContain("application/json");
    expect(job.responseBody).toMatchObject({ kind: "json", text: '{"status":"ok"}' });
    expect(upload.operation).toBe("POST /data-staging/v1/external/{workspace}/batches/{batchId}/upload/image");
    expect(upload.requestBody.kind).toBe("multipart");
    const bytes = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), png]);
    expect(upload.requestBody.parts).toEqual([
      { name: "a.png", fileName: "a.png", contentType: "image/png", size: bytes.length, sha256: crypto.createHash("sha256").update(bytes).digest("hex") },
    ]);
    expect(upload.requestBody.text).toBeUndefined();
  });

  it("summarises a streamed download as size + sha256 without changing it; bodyBytes bounds the text kept", async () => {
    const list = await emu.call("GET", `${emu.staging("texts")}/list`);
    const url = list.json.filesMetadata[0].downloadURL;
    const res = await request(url);
    let size = 0;
    const hash = crypto.createHash("sha256");
    for await (const chunk of res.body) {
      size += chunk.length;
      hash.update(chunk);
    }
    expect(res.statusCode).toBe(200);
    expect(size).toBe(BIG_TEXT.length);
    const entry = (await ctl("GET", "/journal?operation=" + encodeURIComponent("GET /_signed/files/{generation}/{workspace}/{batchId}/{seq}/{fileName}"))).json
      .entries[0];
    expect(entry.status).toBe(200);
    expect(entry.responseBody.size).toBe(BIG_TEXT.length);
    expect(entry.responseBody.complete).toBe(true);
    if (entry.responseBody.kind === "binary") expect(entry.responseBody.sha256).toBe(hash.digest("hex"));
    else expect(entry.responseBody.text.length).toBe(16 * 1024); // a text media type: the first 16 KiB only
    // The list answer is longer than 200 bytes: with bodyBytes 200 the kept text is cut and says so.
    expect((await ctl("PUT", "/journal/settings", { bodyBytes: 200 })).json.bodyBytes).toBe(200);
    await emu.call("GET", `${emu.staging("texts")}/list`);
    const last = (await ctl("GET", "/journal?order=desc&limit=1")).json.entries[0];
    expect(last.responseBody.text).toHaveLength(200);
    expect(last.responseBody.truncated).toBe(true);
    await ctl("PUT", "/journal/settings", { bodyBytes: 16384 });
  });
});

describe("matching and verification", () => {
  beforeEach(async () => {
    expect((await emu.call("POST", emu.jobs("j-csv"), { json: definition(emu.workspace, {}, { aggregationFormat: "csv" }) })).status).toBe(200);
    expect(
      (
        await emu.call("POST", emu.jobs("j-jsonl") + "?name=second", {
          json: definition(emu.workspace, {}, { aggregationFormat: "jsonl" }),
          headers: { "user-agent": "my-client/2.0" },
        })
      ).status,
    ).toBe(200);
    await emu.call("GET", `${emu.staging("pics")}/list?pageSize=1`);
  });

  it("GET filters on body fields, query parameters, headers and the operation", async () => {
    const count = async (q: string) => (await ctl("GET", `/journal/count?${q}`)).json.count;
    expect(await count("bodyPath=processingSpecification.aggregationFormat&bodyEquals=csv")).toBe(1);
    expect(await count("bodyPath=processingSpecification.aggregationFormat")).toBe(2);
    expect(await count("bodyPath=processingSpecification.aggregationFormat&bodyRegex=" + encodeURIComponent("^json"))).toBe(1);
    expect(await count("bodyPath=jobInput&bodyContains=batchId")).toBe(2);
    expect(await count("queryParam=pageSize&queryEquals=1")).toBe(1);
    expect(await count("queryParam=name&queryAbsent=true&method=POST")).toBe(1);
    expect(await count("header=User-Agent&headerContains=my-client")).toBe(1);
    expect(await count("operation=" + encodeURIComponent("POST /batch-processing/v1/external/{workspace}/jobs/{jobId}"))).toBe(2);
    expect((await ctl("GET", "/journal/count?bodyPath=a&bodyRegex=" + encodeURIComponent("("))).status).toBe(400);
    const found = await ctl("POST", "/journal/query", {
      match: { method: "POST", body: [{ path: "processingSpecification.aggregationFormat", equals: "jsonl" }], query: { name: "second" } },
    });
    expect(found.status, found.text).toBe(200);
    expect(found.json.count).toBe(1);
    expect(found.json.entries[0].path).toBe(emu.jobs("j-jsonl"));
  });

  it("verify: 200 when the count holds; 422 naming the closest request and the part it failed", async () => {
    const match = {
      method: "POST",
      pathPattern: "/batch-processing/v1/external/*/jobs/*",
      body: [{ path: "processingSpecification.aggregationFormat", equals: "csv" }],
    };
    const ok = await ctl("POST", "/journal/verify", { match, count: 1 });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toMatchObject({ status: "ok", matched: 1, expected: { count: 1 } });
    expect((await ctl("POST", "/journal/verify", { match, atLeast: 1, atMost: 3 })).status).toBe(200);

    const wanted = {
      method: "POST",
      pathPattern: "/batch-processing/v1/external/*/jobs/*",
      body: [{ path: "processingSpecification.aggregationFormat", equals: "parquet" }],
    };
    const bad = await ctl("POST", "/journal/verify", { match: wanted });
    expect(bad.status, bad.text).toBe(422);
    expect(bad.json.error.type).toBe("verification-failed");
    expect(bad.json.verification.matched).toBe(0);
    const [closest] = bad.json.verification.closest;
    expect(closest).toMatchObject({
      method: "POST",
      satisfied: 2,
      of: 3,
      failed: [{ part: 'body processingSpecification.aggregationFormat equals "parquet"' }],
    });
    expect(["csv", "jsonl"]).toContain(closest.failed[0].actual);
    expect(bad.json.message).toContain("Closest requests");
    expect(bad.json.message).toContain(closest.path);
    expect(bad.json.message).toMatch(/but got "(csv|jsonl)"/);

    const tooMany = await ctl("POST", "/journal/verify", { match: { method: "POST" }, count: 1 });
    expect(tooMany.status).toBe(422);
    expect(tooMany.json.verification.matched).toBe(2);
    expect(tooMany.json.verification.matchingSeqs).toHaveLength(2);
  });
});

describe("contract report", () => {
  it("lists a deprecated option, an unknown field, another workspace, injected answers, and the operations never touched; survives a reset", async () => {
    const legacy = definition(emu.workspace, { computeConfiguration: { type: "compute-configuration-v1", machineType: "gpu", machineSize: "xs" } });
    expect((await emu.call("POST", emu.jobs("legacy"), { json: legacy })).status).toBe(400);
    expect((await emu.call("POST", emu.jobs("typo"), { json: definition(emu.workspace, { notificationUrl: "http://127.0.0.1:9/x" }) })).status).toBe(400);
    expect((await emu.call("GET", "/data-staging/v1/external/team-b/batches")).status).toBe(403);
    await emu.controls.faults.add({ id: "busy", match: { path: "**/count" }, action: { type: "status", status: 503 }, times: 1 });
    expect((await emu.call("GET", `${emu.staging("pics")}/count`)).status).toBe(503);
    expect((await emu.call("GET", `${emu.staging("pics")}/count`)).status).toBe(200);
    // A reset (as a suite does before every test) keeps the run's report.
    await emu.controls.reset();

    const r = await ctl("GET", "/contract-report");
    expect(r.status, r.text).toBe(200);
    const rep = r.json;
    const kinds = rep.findings.map((f: { kind: string }) => f.kind);
    expect(kinds).toEqual(expect.arrayContaining(["deprecated-option", "unknown-field", "other-workspace", "injected-fault"]));
    const deprecated = rep.findings.find((f: { kind: string }) => f.kind === "deprecated-option");
    expect(deprecated).toMatchObject({ violation: true, method: "POST", path: emu.jobs("legacy"), status: 400 });
    expect(deprecated.fields).toEqual(["computeConfiguration.type", "computeConfiguration.machineSize"]);
    expect(deprecated.message).toMatch(/workersPerMachine/);
    const unknown = rep.findings.find((f: { kind: string; path: string }) => f.kind === "unknown-field" && f.path === emu.jobs("typo"));
    expect(unknown.fields).toEqual(["notificationUrl"]);
    const injected = rep.findings.find((f: { kind: string }) => f.kind === "injected-fault");
    expect(injected).toMatchObject({ injected: true, violation: false, ruleId: "busy", status: 503 });
    expect(rep.summary.violations).toBe(rep.findings.filter((f: { violation: boolean }) => f.violation).length);
    expect(rep.summary.requests).toBe(5);

    const untouched = rep.operations.untouched.map((o: { operation: string }) => o.operation);
    expect(untouched).toContain("GET /batch-processing/v1/external/{workspace}/jobs/{jobId}/logs");
    expect(untouched).toContain("PUT /_signed/uploads/{generation}/{workspace}/{batchId}/{token}");
    expect(untouched).not.toContain("GET /data-staging/v1/external/{workspace}/batches/{batchId}/count");
    expect(untouched.some((o: string) => o.includes("/_emulator") || o.includes("/health"))).toBe(false);
    const exercised = rep.operations.exercised.find(
      (o: { operation: string }) => o.operation === "GET /data-staging/v1/external/{workspace}/batches/{batchId}/count",
    );
    expect(exercised).toMatchObject({ count: 2, statuses: { "200": 1, "503": 1 } });
    // Every operation /openapi.json publishes outside /_emulator is one or the other.
    const doc = (await emu.call("GET", "/openapi.json", { apiKey: null })).json;
    const published = Object.entries(doc.paths as Record<string, object>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .filter((o) => !o.includes(" /_emulator") && !o.endsWith(" /health"));
    expect([...untouched, ...rep.operations.exercised.map((o: { operation: string }) => o.operation)].sort()).toEqual(published.sort());
    expect(rep.summary.operationsTotal).toBe(published.length);
    expect(rep.text).toContain("[deprecated-option]");
    expect(rep.text).toContain("Never exercised:");

    expect((await ctl("DELETE", "/contract-report")).status).toBe(200);
    expect((await ctl("GET", "/contract-report")).json.summary).toMatchObject({ requests: 0, violations: 0 });
  });

  it("lists a download through an expired URL and an unknown route", async () => {
    await emu.controls.clock.set("manual");
    try {
      const url = (await emu.call("GET", `${emu.staging("pics")}/list`)).json.filesMetadata[0].downloadURL;
      await emu.controls.clock.advance(2 * 3600_000);
      const res = await request(url);
      await res.body.text();
      expect(res.statusCode).toBe(403);
      expect((await emu.call("GET", `${emu.staging("pics")}/counts`)).status).toBe(404);
      const rep = (await ctl("GET", "/contract-report")).json;
      expect(rep.findings.find((f: { kind: string }) => f.kind === "expired-url")).toMatchObject({
        violation: true,
        status: 403,
        operation: "GET /_signed/files/{generation}/{workspace}/{batchId}/{seq}/{fileName}",
      });
      expect(rep.findings.find((f: { kind: string }) => f.kind === "unknown-route")).toMatchObject({ violation: true, status: 404, operation: null });
    } finally {
      await emu.controls.clock.set("max");
    }
  });

  it("lists webhook deliveries that failed, even after a reset deleted them", async () => {
    const receiver = `${emu.url}/_emulator/receiver/down?status=500`;
    expect((await emu.call("POST", emu.jobs("hooked"), { json: definition(emu.workspace, { notificationsURL: receiver }) })).status).toBe(200);
    await waitFor(async () => (await emu.controls.webhooks.list({ state: "failed" })).length > 0, 30_000, "a failed delivery");
    await emu.controls.reset();
    const rep = (await ctl("GET", "/contract-report")).json;
    expect(rep.webhooks.failed).toHaveLength(1);
    expect(rep.webhooks.failed[0]).toMatchObject({ category: "job", url: receiver, lastStatus: 500, violation: true, injected: false });
    expect(rep.summary.failedWebhooks).toBe(1);
    expect(rep.text).toContain("Webhook deliveries that failed");
  });
});

describe("stubs", () => {
  it("respond: replaces the answer to a request matched by body field, with status, headers and body", async () => {
    const rule = await ctl("POST", "/faults", {
      id: "no-gpu",
      match: { method: "POST", path: "/batch-processing/v1/external/*/jobs/*", body: [{ path: "computeConfiguration.machineType", equals: "gpu" }] },
      action: { type: "respond", status: 429, headers: { "retry-after": "7", "x-custom": "yes" }, body: { message: "GPU quota exhausted" } },
      times: 1,
    });
    expect(rule.status, rule.text).toBe(201);
    const stubbed = await emu.call("POST", emu.jobs("g1"), { json: definition(emu.workspace) });
    expect(stubbed.status).toBe(429);
    expect(stubbed.headers["retry-after"]).toBe("7");
    expect(stubbed.headers["x-custom"]).toBe("yes");
    expect(stubbed.json).toEqual({ message: "GPU quota exhausted" });
    // The route still reads the body the stub matched on: the next (unstubbed) call creates the job.
    const cpu = definition(emu.workspace, { computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu" } });
    expect((await emu.call("POST", emu.jobs("c1"), { json: cpu })).status).toBe(200);
    expect((await emu.call("POST", emu.jobs("g1"), { json: definition(emu.workspace) })).status).toBe(200);
    const entry = (await ctl("GET", "/journal?status=429")).json.entries[0];
    expect(entry.fault).toEqual({ ruleId: "no-gpu", type: "respond" });
    expect(entry.responseBody.text).toContain("GPU quota exhausted");
    const rep = (await ctl("GET", "/contract-report")).json;
    expect(rep.findings.find((f: { kind: string }) => f.kind === "stubbed-response")).toMatchObject({ ruleId: "no-gpu", injected: true, violation: false });
    expect((await ctl("POST", "/faults", { match: { body: [{ path: "a" }] }, action: { type: "fail-task" } })).status).toBe(400);
  });

  it("job-state: puts a running job into failed at an emulator time", async () => {
    await emu.controls.clock.set("manual");
    try {
      const script = { stageDurationsMs: { processing: 600_000, export: 1000 } };
      expect((await ctl("POST", `/jobs/${emu.workspace}/long`, { definition: definition(emu.workspace), script })).status).toBe(201);
      const rule = await ctl("POST", "/faults", {
        id: "fail-long",
        action: { type: "job-state", jobId: "long", state: "failed", afterMs: 60_000, message: "Out of capacity (stubbed)" },
      });
      expect(rule.status, rule.text).toBe(201);
      await emu.controls.clock.advance(30_000);
      expect((await emu.call("GET", emu.jobs("long"))).json.job.isTerminal).toBe(false);
      await emu.controls.clock.advance(31_000);
      const job = (await emu.call("GET", emu.jobs("long"))).json.job;
      expect(job).toMatchObject({ isTerminal: true, error: true });
      expect(JSON.stringify(job.lastNotification)).toContain("Out of capacity (stubbed)");
      const rules = await emu.controls.faults.list();
      expect(rules.find((r: { id: string }) => r.id === "fail-long")).toMatchObject({ fired: 1, evaluated: 1 });
      // Nothing left planned for it: idle is reached at once.
      expect((await emu.controls.clock.runUntilIdle()).idle).toBe(true);
      expect((await emu.call("GET", emu.jobs("long"))).json.job.isTerminal).toBe(true);

      expect((await ctl("POST", `/jobs/${emu.workspace}/other`, { definition: definition(emu.workspace), script })).status).toBe(201);
      await emu.controls.faults.add({ id: "ok-later", action: { type: "job-state", jobId: "other", state: "succeeded", afterMs: 10_000 } });
      await emu.controls.faults.remove("ok-later"); // deleting the rule disarms it
      await emu.controls.clock.advance(20_000);
      expect((await emu.call("GET", emu.jobs("other"))).json.job.isTerminal).toBe(false);
      await emu.controls.faults.add({ action: { type: "job-state", jobId: "other", state: "aborted" } });
      await emu.controls.clock.advance(1);
      expect((await emu.call("GET", emu.jobs("other"))).json.job.lastNotification.type).toBe("job-aborted");
      expect((await ctl("POST", "/faults", { match: { jobId: "x" }, action: { type: "job-state", jobId: "x", state: "failed" } })).status).toBe(400);
    } finally {
      await emu.controls.clock.set("max");
    }
  });
});

describe("control routes under the response self-check", () => {
  it("a text/plain reset is a 415 and a trailing slash a 404, each with the usual error body", async () => {
    const reset = await emu.call("POST", "/_emulator/reset", { apiKey: null, body: "everything", headers: { "content-type": "text/plain" } });
    expect(reset.status, reset.text).toBe(415);
    expect(reset.json.error.type).toBe("unsupported-media-type");
    const clock = await emu.call("GET", "/_emulator/clock/", { apiKey: null });
    expect(clock.status, clock.text).toBe(404);
    expect(clock.json.error.type).toBe("route-not-found");
    for (const p of ["/faults", "/seed", "/journal/verify", "/clock"]) {
      const r = await emu.call("POST", `/_emulator${p}`, { apiKey: null, body: "x", headers: { "content-type": "text/plain" } });
      expect(r.status, `${p}: ${r.text}`).toBe(415);
    }
    expect((await emu.call("GET", "/_emulator/contract-report/", { apiKey: null })).status).toBe(404);
  });
});
