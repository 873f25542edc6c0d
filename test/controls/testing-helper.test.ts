// The package's test helper (roboflow-batch-emulator/testing) used the way a user's vitest suite would:
// start in-process, drive the emulated API over HTTP, assert through the typed control client.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ControlApiError, startEmulatorForTests, type EmulatorForTests } from "../../src/testing.js";

let emu: EmulatorForTests;
const startStopMs: number[] = [];

beforeAll(async () => {
  // Cost of a fresh emulator per suite: start + stop, measured a few times.
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const e = await startEmulatorForTests();
    await e.close();
    startStopMs.push(performance.now() - t0);
  }
  startStopMs.sort((a, b) => a - b);
  console.log(`[measure] startEmulatorForTests + close: median ${startStopMs[2].toFixed(1)} ms, max ${startStopMs[4].toFixed(1)} ms`);
  emu = await startEmulatorForTests({ seed: { batches: [{ batchId: "inputs", images: { count: 3 } }] } });
});
afterAll(async () => emu?.close());
beforeEach(async () => {
  await emu.controls.faults.clear();
  await emu.controls.clearJournal();
});

const api = (path: string, init?: RequestInit) => fetch(`${emu.baseUrl}${path}${path.includes("?") ? "&" : "?"}api_key=${emu.apiKey}`, init);

describe("startEmulatorForTests", () => {
  it("starts on 127.0.0.1 with the default workspace and key, seeded, quickly", async () => {
    expect(emu.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ws = await (await api("/")).json();
    expect(ws).toEqual({ workspace: emu.workspace });
    const count = await (await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`)).json();
    expect(count.count).toBe(3);
    expect(startStopMs[2]).toBeLessThan(1000);
    expect((await emu.controls.clock.get()).mode).toBe("max");
  });

  it("journal: assert how many times the client polled", async () => {
    for (let i = 0; i < 4; i++) await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`);
    await api(`/data-staging/v1/external/${emu.workspace}/batches`);
    expect(await emu.controls.journalCount({ pathPattern: "/data-staging/v1/external/*/batches/*/count" })).toBe(4);
    const j = await emu.controls.journal({ method: "GET", order: "desc", limit: 1 });
    expect(j.count).toBe(5);
    expect(j.entries[0].path).toBe(`/data-staging/v1/external/${emu.workspace}/batches`);
  });

  it("faults: a 429 the next time, then normal service", async () => {
    const rule = await emu.controls.faults.add({ match: { path: "**/count" }, action: { type: "status", status: 429, retryAfter: 2 }, times: 1 });
    const first = await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`);
    expect(first.status).toBe(429);
    expect(first.headers.get("retry-after")).toBe("2");
    expect((await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`)).status).toBe(200);
    expect((await emu.controls.faults.list()).find((r) => r.id === rule.id)?.fired).toBe(1);
    expect(await emu.controls.journalCount({ fault: true })).toBe(1);
  });

  it("receiver and webhooks", async () => {
    const inbox = emu.controls.receiver("helper");
    const id = await emu.controls.webhooks.send({ url: inbox.url, payload: { hello: "world" } });
    const got = await inbox.waitFor(1);
    expect(got[0].json).toMatchObject({ hello: "world", event_id: id, delivery_attempt: 1 });
    const deliveries = await emu.controls.webhooks.list({ state: "delivered" });
    expect(deliveries.map((d) => d.id)).toContain(id);
  });

  it("clock, reset and snapshot", async () => {
    await emu.controls.clock.set("manual");
    const t0 = Date.parse((await emu.controls.clock.get()).now);
    const after = await emu.controls.clock.advance(5000);
    expect(Date.parse(after.now) - t0).toBe(5000);
    await emu.controls.clock.set("max");

    const snap = await emu.controls.snapshot();
    const r = await emu.controls.reset();
    expect(r.ms).toBeLessThan(500);
    expect((await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`)).status).toBe(404);
    await emu.controls.restore(snap);
    expect((await (await api(`/data-staging/v1/external/${emu.workspace}/batches/inputs/count`)).json()).count).toBe(3);
  });

  it("errors from the control API are typed", async () => {
    const err = await emu.controls.faults.remove("no-such-rule").catch((e) => e);
    expect(err).toBeInstanceOf(ControlApiError);
    expect(err.status).toBe(404);
  });

  it("honours an admin token and a manual clock at start", async () => {
    const secured = await startEmulatorForTests({ adminToken: "tok", clock: "manual", workspace: "helper-ws", apiKey: "helper-key" });
    try {
      expect(secured.workspace).toBe("helper-ws");
      expect((await secured.controls.clock.get()).mode).toBe("manual");
      const raw = await fetch(`${secured.baseUrl}/_emulator/clock`);
      expect(raw.status).toBe(401);
    } finally {
      await secured.close();
    }
  });
});

describe("back to the start seed", () => {
  const imageJob = (ws: string, batchId: string) => ({
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId },
    computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
    processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "wf" },
  });
  const count = async (e: EmulatorForTests, batchId: string) => {
    const r = await fetch(`${e.baseUrl}/data-staging/v1/external/${e.workspace}/batches/${batchId}/count?api_key=${e.apiKey}`);
    return r.status === 200 ? ((await r.json()) as { count: number }).count : r.status;
  };

  it("reset({ reseed: true }) restores the seed startEmulatorForTests started with", async () => {
    const e = await startEmulatorForTests({ seed: { batches: [{ batchId: "inputs", images: { count: 3 } }] } });
    try {
      await e.controls.seed({ batches: [{ batchId: "added", images: { count: 1 } }] });
      const raw = await fetch(`${e.baseUrl}/_emulator/reset`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reseed: true }),
      });
      expect(raw.status).toBe(200);
      expect(await count(e, "inputs")).toBe(3);
      expect(await count(e, "added")).toBe(404);
      await e.controls.seed({ batches: [{ batchId: "added", images: { count: 1 } }] });
      await e.controls.reset({ reseed: true });
      expect(await count(e, "inputs")).toBe(3);
      expect(await count(e, "added")).toBe(404);
      // A plain reset still empties everything.
      await e.controls.reset();
      expect(await count(e, "inputs")).toBe(404);
    } finally {
      await e.close();
    }
  });

  it("POST /_emulator/seed {asStartupSeed: true} makes a seed the one reset {reseed: true} restores, deterministic ids included", async () => {
    const e = await startEmulatorForTests();
    try {
      const seed = { deterministic: { seed: 11 }, batches: [{ batchId: "later", images: { count: 2 } }] };
      const r = await fetch(`${e.baseUrl}/_emulator/seed`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...seed, asStartupSeed: true }),
      });
      expect(r.status, await r.text()).toBe(200);
      const inbox = e.controls.receiver("ids");
      const first = await e.controls.webhooks.send({ url: inbox.url });
      await e.controls.reset({ reseed: true });
      expect(await count(e, "later")).toBe(2);
      // The id sequence restarts with the reset, as it does for a --seed file with a deterministic block.
      expect(await e.controls.webhooks.send({ url: inbox.url })).toBe(first);
      await e.controls.seed({ batches: [{ batchId: "other", images: { count: 1 } }] }, { asStartupSeed: true });
      await e.controls.reset({ reseed: true });
      expect(await count(e, "later")).toBe(404);
      expect(await count(e, "other")).toBe(1);
    } finally {
      await e.close();
    }
  });

  it("waitForJob polls a job to its end, advancing a manual clock", async () => {
    const e = await startEmulatorForTests({ clock: "manual", seed: { batches: [{ batchId: "pics", images: { count: 3 } }] } });
    try {
      const created = await fetch(`${e.baseUrl}/batch-processing/v1/external/${e.workspace}/jobs/helper-job?api_key=${e.apiKey}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(imageJob(e.workspace, "pics")),
      });
      expect(created.status, await created.text()).toBe(200);
      const job = await e.waitForJob("helper-job", { timeoutMs: 20_000 });
      expect(job).toMatchObject({ isTerminal: true, error: false });
      const missing = await e.waitForJob("no-such-job", { timeoutMs: 1000 }).catch((err) => err);
      expect(missing).toBeInstanceOf(ControlApiError);
      expect(missing.status).toBe(404);
    } finally {
      await e.close();
    }
  });
});
