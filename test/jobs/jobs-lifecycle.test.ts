// A job's life beyond the happy path: manual clock stepping stage by stage, abort, restart with
// overrides, the processing timeout, per-file failures and maxImageFailureRate, webhook retries,
// and a scripted job from the control API.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { png, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { allPages, download, getJob, imageJob, parseJsonl, stagesOf, untarGz, uploadImage, waitForJob } from "../helpers/jobs.js";

let emu: TestEmulator;
const receivers: LoopbackServer[] = [];
beforeAll(async () => {
  emu = await startTestEmulator();
  for (let i = 0; i < 5; i++) expect((await uploadImage(emu, "life-batch", `img-${i}.png`, png(100 + i, 16))).status).toBe(200);
});
afterEach(() => {
  const clock = emu.emulator.clock;
  if (clock.state().mode !== "max") clock.setMode("max");
});
afterAll(async () => {
  await emu?.close();
  for (const r of receivers) await r.close();
});

async function receiver(statuses: number[] = []) {
  const r = await startLoopbackServer();
  r.failNext(...statuses);
  receivers.push(r);
  return r;
}

/** A PNG that passes the upload's magic-byte check but cannot be decoded: the file stops after its header. */
const truncatedPng = () => Buffer.concat([png(7, 16).subarray(0, 40), Buffer.from("this is where the pixels should be")]);

async function resultLines(jobId: string): Promise<any[]> {
  const files = await allPages(emu, `${emu.staging(`${jobId}-processing`)}/list?partName=results`, "filesMetadata");
  const out: any[] = [];
  for (const f of files) out.push(...parseJsonl((await download(f.downloadURL)).toString("utf8")));
  return out;
}

/** Manual clock: fires the next timer, then waits until the job's next step is planned (or the job ended). */
async function step(jobId: string): Promise<any> {
  const clock = emu.emulator.clock;
  expect(clock.advanceToNext()).toBeGreaterThan(0);
  return waitFor(
    async () => {
      const job = await getJob(emu, jobId);
      return job.isTerminal || clock.state().pendingTimers > 0 ? job : null;
    },
    10_000,
    `next step of ${jobId}`,
  );
}

describe("manual clock", () => {
  it("steps a job stage by stage; nothing moves until the clock does", async () => {
    const clock = emu.emulator.clock;
    clock.setMode("manual");
    expect((await emu.call("POST", emu.jobs("manual-job"), { json: imageJob(emu.workspace, "life-batch") })).status).toBe(200);
    // Queued: no stage yet, and it stays that way while the clock stands still.
    await new Promise((r) => setTimeout(r, 100));
    let job = await getJob(emu, "manual-job");
    expect(job).toMatchObject({ currentStage: null, isTerminal: false });
    expect(await stagesOf(emu, "manual-job")).toEqual([]);

    const seen: string[] = [];
    const t0 = clock.now();
    for (let i = 0; i < 50 && !job.isTerminal; i++) {
      job = await step("manual-job");
      const stages = await stagesOf(emu, "manual-job");
      seen.push(stages.map((s) => `${s.processingStageName}:${s.statusType}`).join(","));
      if (job.currentStage === "processing" && stages[0].statusType === "info") {
        const tasks = await allPages(emu, `${emu.jobs("manual-job")}/stages/processing/tasks`, "tasks");
        for (const t of tasks) expect(t.progress === null || (t.progress >= 0 && t.progress <= 1)).toBe(true);
      }
    }
    expect(job).toMatchObject({ isTerminal: true, error: false, currentStage: "export" });
    expect(seen).toContain("processing:info");
    expect(seen).toContain("processing:success,export:info");
    expect(seen[seen.length - 1]).toBe("processing:success,export:success");
    // Emulated time passed only through the clock: the default timings (seconds per stage).
    expect(clock.now() - t0).toBeGreaterThanOrEqual(3000);
    const stages = await stagesOf(emu, "manual-job");
    expect(Date.parse(stages[1].startTimestamp)).toBeGreaterThan(Date.parse(stages[0].startTimestamp));
  });
});

describe("abort and restart", () => {
  it("aborts mid-processing (terminal, error, webhook fail), then restarts with overrides and completes once", async () => {
    const clock = emu.emulator.clock;
    const hook = await receiver();
    clock.setMode("manual");
    const def = imageJob(emu.workspace, "life-batch", { notificationsURL: hook.url, maxParallelTasks: 1 });
    expect((await emu.call("POST", emu.jobs("abort-job"), { json: def })).status).toBe(200);
    await step("abort-job"); // the processing stage starts
    const running = await getJob(emu, "abort-job");
    expect(running.currentStage).toBe("processing");

    const aborted = await emu.call("POST", `${emu.jobs("abort-job")}/abort`);
    expect(aborted.status).toBe(200);
    expect(aborted.json).toMatchObject({ status: "ok", jobId: "abort-job" });
    let job = await getJob(emu, "abort-job");
    expect(job).toMatchObject({ isTerminal: true, error: true });
    expect(job.lastNotification.type).toBe("job-aborted");
    const stages = await stagesOf(emu, "abort-job");
    expect(stages[0].statusType).toContain("error");
    await expect.poll(() => hook.requests.length, { timeout: 5000 }).toBe(1);
    expect(hook.requests[0].body).toMatchObject({ job_id: "abort-job", job_state: "fail" });
    // The clock moving on changes nothing for an aborted job.
    clock.advance(60_000);
    expect((await getJob(emu, "abort-job")).lastUpdate).toBe(job.lastUpdate);
    expect((await emu.call("POST", `${emu.jobs("abort-job")}/abort`)).status).toBe(409);

    const override = {
      type: "parameters-override-v1",
      computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 2 },
      maxParallelTasks: 2,
      processingTimeoutSeconds: 7200,
    };
    const restarted = await emu.call("POST", `${emu.jobs("abort-job")}/restart`, { json: override });
    expect(restarted.status).toBe(200);
    job = await getJob(emu, "abort-job");
    expect(job).toMatchObject({ isTerminal: false, error: false, restartParametersOverride: [override] });
    clock.setMode("max");
    job = await waitForJob(emu, "abort-job");
    expect(job).toMatchObject({ isTerminal: true, error: false, restartParametersOverride: [override] });
    const lines = await resultLines("abort-job");
    expect(lines.map((l) => l.image_name).sort()).toEqual(["img-0.png", "img-1.png", "img-2.png", "img-3.png", "img-4.png"]);
    await expect.poll(() => hook.requests.length, { timeout: 5000 }).toBe(2);
    expect(hook.requests[1].body).toMatchObject({ job_id: "abort-job", job_state: "success" });
    const logs = await allPages(emu, `${emu.jobs("abort-job")}/logs`, "logs");
    expect(logs.map((l) => l.logType)).toEqual(expect.arrayContaining(["job-aborted", "job-restarted", "job-completed"]));
  });

  it("restarts with no body (the official client without options) without adding an override", async () => {
    const clock = emu.emulator.clock;
    clock.setMode("manual");
    await emu.call("POST", emu.jobs("plain-restart"), { json: imageJob(emu.workspace, "life-batch") });
    await step("plain-restart");
    expect((await emu.call("POST", `${emu.jobs("plain-restart")}/abort`)).status).toBe(200);
    const r = await emu.call("POST", `${emu.jobs("plain-restart")}/restart`);
    expect(r.status).toBe(200);
    clock.setMode("max");
    const job = await waitForJob(emu, "plain-restart");
    expect(job).toMatchObject({ error: false, restartParametersOverride: [] });
  });
});

describe("failures the real service has", () => {
  it("fails on processingTimeoutSeconds (simulated machine time), explains it, and a restart with more time succeeds", async () => {
    const hook = await receiver();
    const def = imageJob(emu.workspace, "life-batch", {
      processingTimeoutSeconds: 1,
      notificationsURL: hook.url,
      computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 1 },
    });
    expect((await emu.call("POST", emu.jobs("timeout-job"), { json: def })).status).toBe(200);
    let job = await waitForJob(emu, "timeout-job");
    expect(job).toMatchObject({ isTerminal: true, error: true, currentStage: "processing" });
    expect(job.lastNotification.reason).toBe("processing-timeout");
    expect(job.lastNotification.message).toContain("processingTimeoutSeconds=1");
    const stages = await stagesOf(emu, "timeout-job");
    expect(stages).toHaveLength(1);
    expect(stages[0].statusType).toBe("error");
    const errors = await allPages(emu, `${emu.jobs("timeout-job")}/logs?severity=error`, "logs");
    expect(errors.length).toBeGreaterThan(0);
    for (const l of errors) expect(l.severity).toBe("error");
    expect(errors.some((l) => l.payload.reason === "processing-timeout")).toBe(true);
    await expect.poll(() => hook.requests.map((r) => r.body.job_state), { timeout: 5000 }).toEqual(["fail"]);

    expect(
      (await emu.call("POST", `${emu.jobs("timeout-job")}/restart`, { json: { type: "parameters-override-v1", processingTimeoutSeconds: 600 } })).status,
    ).toBe(200);
    job = await waitForJob(emu, "timeout-job");
    expect(job.error).toBe(false);
    expect((await resultLines("timeout-job")).length).toBe(5);
  });

  it("records an undecodable image per file and still exports the rest (default tolerance)", async () => {
    for (let i = 0; i < 3; i++) await uploadImage(emu, "mixed-batch", `good-${i}.png`, png(200 + i, 8));
    const up = await uploadImage(emu, "mixed-batch", "broken.png", truncatedPng());
    expect(up.status).toBe(200);
    expect((await emu.call("POST", emu.jobs("mixed-job"), { json: imageJob(emu.workspace, "mixed-batch") })).status).toBe(200);
    const job = await waitForJob(emu, "mixed-job");
    expect(job.error).toBe(false);
    const lines = await resultLines("mixed-job");
    expect(lines).toHaveLength(4);
    const broken = lines.find((l) => l.image_name === "broken.png");
    expect(broken.error.type).toBe("corrupted-image");
    expect(broken.error.message).toMatch(/truncated/);
    expect(broken).not.toHaveProperty("predictions");
    const warnings = await allPages(emu, `${emu.jobs("mixed-job")}/logs?severity=warning`, "logs");
    expect(warnings.some((l) => l.logType === "image-processing-error" && l.payload.fileName === "broken.png")).toBe(true);
    const archive = (await allPages(emu, `${emu.staging("mixed-job-export")}/list?partName=archives`, "filesMetadata"))[0];
    const unpacked = await untarGz(await download(archive.downloadURL));
    expect(parseJsonl(unpacked.get("results-00000.jsonl")!.toString("utf8"))).toHaveLength(4);
  });

  it("fails the task past maxImageFailureRate, keeps no partial output, and a restart with a higher rate completes", async () => {
    const def = imageJob(emu.workspace, "mixed-batch", { maxImageFailureRate: 0 });
    expect((await emu.call("POST", emu.jobs("strict-job"), { json: def })).status).toBe(200);
    let job = await waitForJob(emu, "strict-job");
    expect(job).toMatchObject({ error: true, isTerminal: true });
    expect(job.lastNotification.message).toMatch(/task\(s\) of stage processing failed/);
    const tasks = await allPages(emu, `${emu.jobs("strict-job")}/stages/processing/tasks`, "tasks");
    expect(tasks[0].statusType).toBe("error");
    expect(tasks[0].notification.reason).toBe("too-many-failed-images");
    expect(tasks[0].notification.message).toContain("--max-image-failure-rate");
    expect((await emu.call("GET", `${emu.staging("strict-job-processing")}/count?partName=results`)).json.count).toBe(0);

    expect((await emu.call("POST", `${emu.jobs("strict-job")}/restart`, { json: { type: "parameters-override-v1", maxImageFailureRate: 0.5 } })).status).toBe(
      200,
    );
    job = await waitForJob(emu, "strict-job");
    expect(job.error).toBe(false);
    expect(await resultLines("strict-job")).toHaveLength(4);
  });
});

describe("webhooks and scripted jobs", () => {
  it("retries the job notification after a 500 and records every attempt", async () => {
    const hook = await receiver([500]);
    await emu.call("POST", emu.jobs("retry-job"), { json: imageJob(emu.workspace, "life-batch", { notificationsURL: hook.url }) });
    await waitForJob(emu, "retry-job");
    await expect.poll(() => hook.requests.length, { timeout: 10_000 }).toBe(2);
    const [a, b] = hook.requests;
    expect(a.status).toBe(500);
    expect(b.status).toBe(200);
    expect(a.body.delivery_attempt).toBe(1);
    expect(b.body.delivery_attempt).toBe(2);
    expect(b.body.event_id).toBe(a.body.event_id);
    expect(b.body).toMatchObject({ type: "roboflow-batch-job-notification-v1", job_id: "retry-job", job_state: "success" });
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.requests).toHaveLength(2);
  });

  it("runs a scripted job from the control API: a failing task, then a restart that succeeds", async () => {
    const r = await emu.call("POST", `/_emulator/jobs/${emu.workspace}/scripted-job`, {
      json: {
        definition: imageJob(emu.workspace, "life-batch"),
        script: { failTasks: { processing: [0] }, stageDurationsMs: { processing: 5000, export: 1000 } },
      },
    });
    expect(r.status).toBe(201);
    let job = await waitForJob(emu, "scripted-job");
    expect(job.error).toBe(true);
    const tasks = await allPages(emu, `${emu.jobs("scripted-job")}/stages/processing/tasks`, "tasks");
    expect(tasks[0].notification.reason).toBe("scripted-failure");
    expect((await emu.call("POST", `${emu.jobs("scripted-job")}/restart`)).status).toBe(200);
    job = await waitForJob(emu, "scripted-job");
    expect(job.error).toBe(false);
  });
});
