// Time controls with the jobs simulator: a job stepped stage by stage on a manual clock, a signed
// download URL expiring after an advance, scripted and fault-injected failures, seeded job states,
// and deterministic ids + start time from a seed file.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

const definition = (ws: string, batchId = "pics") => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu" },
  processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "wf", persistImagesOutputs: false },
});

async function job(id: string) {
  const r = await emu.call("GET", emu.jobs(id));
  expect(r.status, r.text).toBe(200);
  return r.json.job;
}

beforeAll(async () => {
  emu = await startTestEmulator();
  const s = await ctl("POST", "/seed", { batches: [{ batchId: "pics", images: { count: 6, width: 16, height: 12 } }] });
  expect(s.status, s.text).toBe(200);
});
afterAll(async () => emu?.close());

describe("clock", () => {
  it("reads, switches mode, and refuses to advance unless manual", async () => {
    const c = (await ctl("GET", "/clock")).json;
    expect(c.mode).toBe("max");
    expect(c.scale).toBeNull();
    expect((await ctl("POST", "/clock/advance", { ms: 10 })).status).toBe(409);
    expect((await ctl("POST", "/clock", { mode: "scaled" })).status).toBe(400);
    const scaled = (await ctl("POST", "/clock", { mode: "scaled", scale: 60 })).json;
    expect(scaled).toMatchObject({ mode: "scaled", scale: 60 });
    const manual = (await ctl("POST", "/clock", { mode: "manual" })).json;
    expect(manual.mode).toBe("manual");
    const before = Date.parse(manual.now);
    const adv = (await ctl("POST", "/clock/advance", { ms: 90_000 })).json;
    expect(Date.parse(adv.clock.now) - before).toBe(90_000);
    expect((await ctl("POST", "/clock/advance", { ms: 1, to: "next" })).status).toBe(400);
    await ctl("POST", "/clock", { mode: "max" });
  });

  it("steps a job stage by stage on a manual clock", async () => {
    await emu.controls.clock.set("manual");
    const start = Date.parse((await emu.controls.clock.get()).now);
    const created = await emu.call("POST", emu.jobs("stepped"), { json: definition(emu.workspace) });
    expect(created.status, created.text).toBe(200);
    // Nothing moves while the clock stands still.
    await new Promise((r) => setTimeout(r, 100));
    expect((await job("stepped")).currentStage).toBeNull();
    expect((await emu.controls.clock.get()).pendingTimers).toBeGreaterThan(0);

    const seen: string[] = [];
    let steps = 0;
    for (; steps < 500; steps++) {
      const j = await job("stepped");
      const where = j.isTerminal ? "done" : (j.currentStage ?? "queued");
      if (seen[seen.length - 1] !== where) seen.push(where);
      if (j.isTerminal) break;
      const adv = (await ctl("POST", "/clock/advance", { to: "next" })).json;
      if (adv.fired === 0) await new Promise((r) => setTimeout(r, 10)); // a step still writing its output
    }
    expect(seen).toEqual(["queued", "processing", "export", "done"]);
    const done = await job("stepped");
    expect(done.error).toBe(false);
    expect(steps).toBeGreaterThan(3);
    // Emulated time passed (the stages' durations), none of it waited for in real time.
    expect(Date.parse((await emu.controls.clock.get()).now) - start).toBeGreaterThanOrEqual(2000);
    const stages = (await emu.call("GET", emu.jobs("stepped") + "/stages")).json.stages;
    expect(stages.map((s: any) => s.processingStageName)).toEqual(["processing", "export"]);
    expect(stages.every((s: any) => String(s.statusType).includes("success"))).toBe(true);
    await emu.controls.clock.set("max");
  });

  it("a signed download URL expires after the clock is advanced past its lifetime", async () => {
    await emu.controls.clock.set("manual");
    const list = await emu.call("GET", emu.staging("pics") + "/list?pageSize=1");
    const url = list.json.filesMetadata[0].downloadURL;
    expect((await request(url)).statusCode).toBe(200);
    await emu.controls.clock.advance(59 * 60 * 1000);
    expect((await request(url)).statusCode).toBe(200);
    await emu.controls.clock.advance(2 * 60 * 1000);
    const expired = await request(url);
    expect(expired.statusCode).toBe(403);
    expect(((await expired.body.json()) as any).message).toMatch(/expired/);
    await emu.controls.clock.runUntilIdle();
    await emu.controls.clock.set("max");
  });
});

describe("scripted and injected job failures", () => {
  it("a scripted job fails as its timeline says", async () => {
    const r = await ctl("POST", `/jobs/${emu.workspace}/scripted-fail`, {
      definition: definition(emu.workspace),
      script: { stageDurationsMs: { processing: 30_000 }, failTasks: { processing: [0] }, finalState: "fail" },
    });
    expect(r.status, r.text).toBe(201);
    const j = await waitFor(
      async () => {
        const x = await job("scripted-fail");
        return x.isTerminal ? x : null;
      },
      15_000,
      "scripted job to end",
    );
    expect(j.error).toBe(true);
    const logs = (await emu.call("GET", emu.jobs("scripted-fail") + "/logs?pageSize=100")).json.logs;
    expect(JSON.stringify(logs)).toMatch(/scripted/);
    // Same request again is a replay; a different one under the same id is a conflict.
    expect(
      (await ctl("POST", `/jobs/${emu.workspace}/scripted-fail`, { definition: definition(emu.workspace), script: { finalState: "success" } })).status,
    ).toBe(409);
    const badDef = await ctl("POST", `/jobs/${emu.workspace}/scripted-bad`, { definition: { type: "nope" } });
    expect(badDef.status).toBe(400);
    expect((await ctl("POST", `/jobs/nobody/x`, { definition: definition("nobody") })).status).toBe(404);
  });

  it("fail-task and fail-stage fault rules reach the simulator and count their fires", async () => {
    await emu.controls.faults.add({
      id: "task-fault",
      match: { jobId: "faulted-task", stage: "processing", taskIndex: 0 },
      action: { type: "fail-task" },
      times: 1,
    });
    await emu.controls.faults.add({ id: "stage-fault", match: { jobId: "faulted-stage", stage: "export" }, action: { type: "fail-stage" } });
    expect((await emu.call("POST", emu.jobs("faulted-task"), { json: definition(emu.workspace) })).status).toBe(200);
    expect((await emu.call("POST", emu.jobs("faulted-stage"), { json: definition(emu.workspace) })).status).toBe(200);
    const stageJob = await waitFor(
      async () => {
        const x = await job("faulted-stage");
        return x.isTerminal ? x : null;
      },
      15_000,
      "faulted-stage job to end",
    );
    expect(stageJob.error).toBe(true);
    await waitFor(async () => (await job("faulted-task")).isTerminal, 15_000, "faulted-task job to end");
    const rules: any[] = await emu.controls.faults.list();
    expect(rules.find((r: any) => r.id === "task-fault").fired).toBe(1);
    expect(rules.find((r: any) => r.id === "stage-fault").fired).toBeGreaterThanOrEqual(1);
    const tasks = (await emu.call("GET", emu.jobs("faulted-task") + "/logs?pageSize=500")).json.logs;
    expect(JSON.stringify(tasks)).toMatch(/fault injected|injected-fault/);
    await emu.controls.faults.clear();
  });

  it("seeds jobs in a given state", async () => {
    const r = await ctl("POST", "/seed", {
      jobs: [
        { jobId: "seeded-ok", definition: definition(emu.workspace), state: "succeeded" },
        { jobId: "seeded-bad", definition: definition(emu.workspace), state: "failed" },
      ],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json.jobs).toBe(2);
    await waitFor(async () => (await job("seeded-ok")).isTerminal && (await job("seeded-bad")).isTerminal, 15_000, "seeded jobs to end");
    expect((await job("seeded-ok")).error).toBe(false);
    expect((await job("seeded-bad")).error).toBe(true);

    // "running" holds on any clock that waits: here a manual one, stepped into the processing stage.
    await emu.controls.clock.set("manual");
    expect((await ctl("POST", "/seed", { jobs: [{ jobId: "seeded-run", definition: definition(emu.workspace), state: "running" }] })).status).toBe(200);
    for (let i = 0; i < 20 && (await job("seeded-run")).currentStage !== "processing"; i++) await emu.controls.clock.next();
    await emu.controls.clock.advance(24 * 3600 * 1000);
    const running = await job("seeded-run");
    expect(running.isTerminal).toBe(false);
    expect(running.currentStage).toBe("processing");
    // A reset stops it and forgets every job.
    expect((await ctl("POST", "/reset")).status).toBe(200);
    expect((await emu.call("GET", emu.jobs("seeded-run"))).status).toBe(404);
    expect((await emu.controls.clock.get()).pendingTimers).toBe(0);
    await emu.controls.clock.set("max");
  });
});

describe("deterministic seed", () => {
  it("starts the clock at startTime and gives the same event ids for the same seed (again after a reset)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-det-"));
    const seedFile = path.join(dir, "seed.json");
    fs.writeFileSync(
      seedFile,
      JSON.stringify({ deterministic: { seed: 42, startTime: "2026-01-01T00:00:00Z", clock: "manual" }, batches: [{ batchId: "det", images: { count: 1 } }] }),
    );
    const ids: string[][] = [];
    try {
      for (let run = 0; run < 2; run++) {
        const e = await startTestEmulator({ seedFile });
        try {
          const clock = await e.controls.clock.get();
          expect(clock).toMatchObject({ mode: "manual", now: "2026-01-01T00:00:00.000Z" });
          const batch = (await e.call("GET", e.staging("det"))).json.batch;
          expect(batch.createdDate).toBe("2026-01-01T00:00:00.000Z");
          const send = () => e.controls.webhooks.send({ url: e.controls.receiver("det").url });
          const mine = [await send(), await send()];
          await e.controls.reset();
          mine.push(await send());
          ids.push(mine);
        } finally {
          await e.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(ids[0]).toEqual(ids[1]);
    expect(ids[0][0]).not.toBe(ids[0][1]);
    expect(ids[0][2]).toBe(ids[0][0]); // the sequence restarts with the reset
    expect(ids[0][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
