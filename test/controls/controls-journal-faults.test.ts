// Request journal (filters, counts, masking, bounds) and request fault rules (status + Retry-After,
// latency, dropped connection, times / probability under a seed, matching by workspace and job).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

beforeAll(async () => {
  emu = await startTestEmulator();
  await emu.controls.seed({ workspaces: [{ id: "team-b", apiKeys: ["key-b"] }], batches: [{ batchId: "pics", images: { count: 2 } }] });
});
afterAll(async () => emu?.close());
beforeEach(async () => {
  await emu.controls.faults.clear();
  await emu.controls.clearJournal();
});

describe("journal", () => {
  it("records method, path, masked query, headers, status, latency and workspace; not its own control calls", async () => {
    await emu.call("GET", emu.staging("pics") + "/count", { headers: { "user-agent": "journal-test/1.0" } });
    await emu.call("GET", emu.staging("missing") + "/count");
    await emu.call("GET", emu.staging(), { apiKey: "wrong-key" });
    await ctl("GET", "/clock");
    const j = (await ctl("GET", "/journal")).json;
    expect(j.count).toBe(3);
    const [ok, missing, unauth] = j.entries;
    expect(ok).toMatchObject({
      method: "GET",
      path: `/data-staging/v1/external/${emu.workspace}/batches/pics/count`,
      query: "api_key=***",
      status: 200,
      workspace: emu.workspace,
      fault: null,
    });
    expect(ok.headers["user-agent"]).toBe("journal-test/1.0");
    expect(ok.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(ok.at)).not.toBeNaN();
    expect(missing.status).toBe(404);
    expect(unauth).toMatchObject({ status: 401, query: "api_key=***" });
    expect(JSON.stringify(j)).not.toContain(emu.apiKey);
    expect(JSON.stringify(j)).not.toContain("wrong-key");
  });

  it("filters by method, path prefix, glob, regex, workspace, status, since, after and fault; counts without limit", async () => {
    for (let i = 0; i < 3; i++) await emu.call("GET", emu.staging("pics") + "/count");
    await emu.call("GET", emu.staging());
    await emu.call("GET", "/data-staging/v1/external/team-b/batches", { apiKey: "key-b" });
    await emu.call("POST", emu.staging("pics") + "/count");
    const mid = (await ctl("GET", "/clock")).json.now;
    const lastSeq = (await ctl("GET", "/journal?order=desc&limit=1")).json.entries[0].seq;
    await new Promise((r) => setTimeout(r, 5));
    await emu.call("GET", emu.staging("nope"));

    const count = async (q: string) => (await ctl("GET", `/journal/count?${q}`)).json.count;
    expect(await count("")).toBe(7);
    expect(await count("method=post")).toBe(1);
    expect(await count(`path=${encodeURIComponent(emu.staging("pics"))}`)).toBe(4);
    expect(await count(`pathPattern=${encodeURIComponent("/data-staging/v1/external/*/batches/*/count")}`)).toBe(4);
    expect(await count(`pathRegex=${encodeURIComponent("/batches$")}`)).toBe(2);
    expect(await count("workspace=team-b")).toBe(1);
    expect(await count("status=404")).toBe(2); // POST to a GET-only path and the unknown batch
    expect(await count("status=4xx")).toBe(2);
    expect(await count("status=2xx")).toBe(5);
    expect(await count(`since=${encodeURIComponent(mid)}`)).toBeGreaterThanOrEqual(1);
    expect(await count(`after=${lastSeq}`)).toBe(1);
    expect(await count("fault=true")).toBe(0);
    const limited = (await ctl("GET", "/journal?limit=2&order=desc")).json;
    expect(limited.count).toBe(7);
    expect(limited.entries).toHaveLength(2);
    expect(limited.entries[0].path).toContain("/nope");

    const bad = await ctl("GET", "/journal?status=teapot");
    expect(bad.status).toBe(400);
    const badRe = await ctl("GET", `/journal?pathRegex=${encodeURIComponent("(")}`);
    expect(badRe.status).toBe(400);
  });

  it("DELETE clears; control calls are journaled only when asked; the table stays bounded", async () => {
    await emu.call("GET", emu.staging());
    expect((await ctl("DELETE", "/journal")).json.deleted).toBe(1);
    expect((await ctl("GET", "/journal/count")).json.count).toBe(0);

    await ctl("PUT", "/journal/settings", { includeControls: true });
    await ctl("GET", "/clock");
    expect((await ctl("GET", "/journal/count?includeControl=true&path=/_emulator/clock")).json.count).toBe(1);
    await ctl("PUT", "/journal/settings", { includeControls: false, limit: 50 });
    for (let i = 0; i < 120; i++) await emu.call("GET", "/no/such/route");
    const n = (await ctl("GET", "/journal/count")).json.count;
    expect(n).toBeGreaterThanOrEqual(50);
    expect(n).toBeLessThanOrEqual(60);
    await ctl("PUT", "/journal/settings", { limit: 10000 });
  });
});

describe("request faults", () => {
  it("429 with Retry-After the next N times, marked in the journal, counted on the rule", async () => {
    const rule = await ctl("POST", "/faults", {
      id: "rate-limit",
      match: { method: "GET", path: "/data-staging/v1/external/*/batches" },
      action: { type: "status", status: 429, retryAfter: 7 },
      times: 2,
    });
    expect(rule.status, rule.text).toBe(201);
    const a = await emu.call("GET", emu.staging());
    const b = await emu.call("GET", emu.staging());
    const c = await emu.call("GET", emu.staging());
    expect([a.status, b.status, c.status]).toEqual([429, 429, 200]);
    expect(a.headers["retry-after"]).toBe("7");
    expect(a.json.message).toBe("Too many requests");
    expect(a.json.error.type).toBe("injected-fault");
    // Other paths are untouched.
    expect((await emu.call("GET", emu.staging("pics") + "/count")).status).toBe(200);
    const rules = await emu.controls.faults.list();
    expect(rules[0]).toMatchObject({ id: "rate-limit", fired: 2, remaining: 0, times: 2 });
    const faulted = await emu.controls.journal({ fault: true });
    expect(faulted.count).toBe(2);
    expect(faulted.entries[0]).toMatchObject({ status: 429, fault: { ruleId: "rate-limit", type: "status" } });
  });

  it("500 and 503 by regex, method list and workspace; 503 gets Retry-After 1 by default", async () => {
    await emu.controls.faults.add({ match: { pathRegex: "/count$", method: ["GET"], workspace: "team-b" }, action: { type: "status", status: 503 } });
    await emu.controls.faults.add({ match: { path: "/data-staging/**/parts" }, action: { type: "status", status: 500, message: "boom" } });
    const mine = await emu.call("GET", emu.staging("pics") + "/count");
    expect(mine.status).toBe(200);
    await emu.controls.seed({ batches: [{ workspace: "team-b", batchId: "theirs", images: { count: 1 } }] });
    const theirs = await emu.call("GET", "/data-staging/v1/external/team-b/batches/theirs/count", { apiKey: "key-b" });
    expect(theirs.status).toBe(503);
    expect(theirs.headers["retry-after"]).toBe("1");
    const parts = await emu.call("GET", emu.staging("pics") + "/parts");
    expect(parts.status).toBe(500);
    expect(parts.json.message).toBe("boom");
  });

  it("adds latency (wall-clock)", async () => {
    await emu.controls.faults.add({ match: { path: "**/count" }, action: { type: "latency", ms: 300 }, times: 1 });
    const t0 = performance.now();
    const slow = await emu.call("GET", emu.staging("pics") + "/count");
    const slowMs = performance.now() - t0;
    expect(slow.status).toBe(200);
    expect(slowMs).toBeGreaterThanOrEqual(290);
    const t1 = performance.now();
    await emu.call("GET", emu.staging("pics") + "/count");
    expect(performance.now() - t1).toBeLessThan(250);
    const entry: any = (await emu.controls.journal({ fault: true })).entries[0];
    expect(entry.latencyMs).toBeGreaterThanOrEqual(290);
    expect(entry.fault.type).toBe("latency");
  });

  it("drops the connection (the client sees a socket error), journaled as dropped", async () => {
    await emu.controls.faults.add({ match: { path: "**/batches" }, action: { type: "drop-connection" }, times: 1 });
    const err = await emu.call("GET", emu.staging()).then(
      () => null,
      (e: any) => e,
    );
    expect(err).not.toBeNull();
    expect(String(err.code ?? err.message)).toMatch(/SOCKET|ECONNRESET|closed|hang up/i);
    expect((await emu.call("GET", emu.staging())).status).toBe(200);
    const dropped = await emu.controls.journal({ status: "dropped" });
    expect(dropped.count).toBe(1);
    expect(dropped.entries[0]).toMatchObject({ status: null, fault: { type: "drop-connection" } });
  });

  it("matches a job id from the path", async () => {
    await emu.controls.faults.add({ match: { jobId: "job-a" }, action: { type: "status", status: 502 } });
    expect((await emu.call("GET", emu.jobs("job-a"))).status).toBe(502);
    expect((await emu.call("GET", emu.jobs("job-b"))).status).toBe(404);
  });

  it("fires with a probability from a seeded generator: the same seed gives the same sequence", async () => {
    const run = async () => {
      await emu.controls.faults.clear();
      await emu.controls.faults.add({ id: "flaky", match: { path: "**/count" }, action: { type: "status", status: 500 }, probability: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 24; i++) out.push((await emu.call("GET", emu.staging("pics") + "/count")).status);
      return out;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    const failures = first.filter((s) => s === 500).length;
    expect(failures).toBeGreaterThan(3);
    expect(failures).toBeLessThan(21);
    const rule = (await emu.controls.faults.list())[0];
    expect(rule).toMatchObject({ id: "flaky", evaluated: 24, fired: failures, probability: 0.5, seed: 42 });
  });

  it("never faults the control API; DELETE removes one rule or all; bad rules are readable 400s", async () => {
    await emu.controls.faults.add({ id: "everything", match: { path: "**" }, action: { type: "status", status: 500 } });
    expect((await ctl("GET", "/clock")).status).toBe(200);
    expect((await emu.call("GET", "/health", { apiKey: null })).status).toBe(200);
    expect((await emu.call("GET", emu.staging())).status).toBe(500);
    expect((await ctl("POST", "/faults", { id: "everything", action: { type: "latency", ms: 1 } })).status).toBe(409);
    expect((await ctl("DELETE", "/faults/everything")).status).toBe(200);
    expect((await ctl("DELETE", "/faults/everything")).status).toBe(404);
    expect((await emu.call("GET", emu.staging())).status).toBe(200);

    const typo = await ctl("POST", "/faults", { match: { pth: "/x" }, action: { type: "status", status: 429 } });
    expect(typo.status).toBe(400);
    expect(typo.json.error.issues[0]).toMatchObject({ field: "match.pth", didYouMean: "path" });
    const kind = await ctl("POST", "/faults", { action: { type: "explode" } });
    expect(kind.status).toBe(400);
    expect(kind.json.error.issues[0].allowed).toContain("drop-connection");
    const regex = await ctl("POST", "/faults", { match: { pathRegex: "(" }, action: { type: "status", status: 500 } });
    expect(regex.status).toBe(400);
  });
});
