// Bad inputs on every jobs endpoint: readable 400s (did-you-mean, allowed values), 404s naming
// what is missing, 409s for used job ids and wrong states, and no job created by a rejection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { png } from "../helpers/fixtures.js";
import { imageJob, uploadImage, waitForJob } from "../helpers/jobs.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
  await uploadImage(emu, "val-batch", "a.png", png(1));
});
afterAll(async () => emu?.close());

const jobCount = async () => (await emu.call("GET", `${emu.jobs()}?pageSize=1000`)).json.jobs.length;

/** The exact body from the forum thread (with the workspace swapped for ours). */
const forumBody = () => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId: "val-batch" },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu", workersPerMachine: 4 },
  processingTimeoutSeconds: 3600,
  processingSpecification: {
    type: "workflows-processing-specification-v1",
    workspace: emu.workspace,
    workflowId: "missing-product-detection-2",
    aggregationFormat: "jsonl",
  },
  notificationsUrl: "",
});

describe("POST /jobs/{jobId}: the job definition", () => {
  it("rejects the forum body (notificationsUrl) with a message naming the field and suggesting notificationsURL", async () => {
    const before = await jobCount();
    const r = await emu.call("POST", emu.jobs("testjob-11"), { json: forumBody() });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain("notificationsUrl");
    expect(r.json.message).toContain('did you mean "notificationsURL"');
    expect(r.json.error.issues[0]).toMatchObject({ field: "notificationsUrl", problem: "unknown field", didYouMean: "notificationsURL" });
    expect(await jobCount()).toBe(before);
  });

  it("rejects notificationUrl (the docs' old spelling) the same way", async () => {
    const { notificationsUrl: _drop, ...body } = forumBody();
    const r = await emu.call("POST", emu.jobs("testjob-12"), { json: { ...body, notificationUrl: "https://example.com/hook" } });
    expect(r.status).toBe(400);
    expect(r.json.error.issues[0]).toMatchObject({ field: "notificationUrl", didYouMean: "notificationsURL" });
  });

  it("accepts the forum body once the key is notificationsURL", async () => {
    const { notificationsUrl: _drop, ...body } = forumBody();
    const r = await emu.call("POST", emu.jobs("testjob-13"), { json: { ...body, notificationsURL: "http://127.0.0.1:9/hook" } });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: "ok" });
  });

  it("names allowed values for a wrong enum and suggests the closest job type", async () => {
    const { notificationsUrl: _drop, ...body } = forumBody();
    const agg = await emu.call("POST", emu.jobs("bad-enum"), {
      json: { ...body, processingSpecification: { ...body.processingSpecification, aggregationFormat: "xml" } },
    });
    expect(agg.status).toBe(400);
    expect(agg.json.error.issues[0]).toMatchObject({ field: "processingSpecification.aggregationFormat", allowed: ["jsonl", "csv"] });
    expect(agg.json.message).toContain("processingSpecification.aggregationFormat");
    const machine = await emu.call("POST", emu.jobs("bad-enum"), {
      json: { ...body, computeConfiguration: { type: "compute-configuration-v2", machineType: "tpu" } },
    });
    expect(machine.status).toBe(400);
    expect(machine.json.error.issues[0].allowed).toEqual(["cpu", "gpu"]);
    const type = await emu.call("POST", emu.jobs("bad-enum"), { json: { ...body, type: "simple-image-processing-v2" } });
    expect(type.status).toBe(400);
    expect(type.json.error.issues[0]).toMatchObject({ field: "type", didYouMean: "simple-image-processing-v1" });
    expect(type.json.error.issues[0].allowed).toEqual(["simple-image-processing-v1", "simple-video-processing-v1", "trt-compilation-v1"]);
    const trt = await emu.call("POST", emu.jobs("bad-trt"), { json: { type: "trt-compilation-v1", modelId: "proj/1", compilationDevices: ["nvidia-a100"] } });
    expect(trt.status).toBe(400);
    expect(trt.json.error.issues[0].allowed).toEqual(["nvidia-l4", "nvidia-t4", "nvidia-l40s"]);
  });

  it("rejects out-of-range numbers, image-only fields on video jobs, an empty webhook URL and another workspace", async () => {
    const { notificationsUrl: _drop, ...body } = forumBody();
    const rate = await emu.call("POST", emu.jobs("bad-rate"), { json: { ...body, maxImageFailureRate: 1.5 } });
    expect(rate.status).toBe(400);
    expect(rate.json.error.issues[0].field).toBe("maxImageFailureRate");
    const video = await emu.call("POST", emu.jobs("bad-video"), { json: { ...body, type: "simple-video-processing-v1", maxImageFailureRate: 0.1 } });
    expect(video.status).toBe(400);
    expect(video.json.error.issues[0]).toMatchObject({ field: "maxImageFailureRate", problem: "unknown field" });
    const url = await emu.call("POST", emu.jobs("bad-url"), { json: { ...body, notificationsURL: "" } });
    expect(url.status).toBe(400);
    expect(url.json.error.issues[0].field).toBe("notificationsURL");
    const ws = await emu.call("POST", emu.jobs("bad-ws"), {
      json: { ...body, processingSpecification: { ...body.processingSpecification, workspace: "hostview" } },
    });
    expect(ws.status).toBe(400);
    expect(ws.json.message).toContain("hostview");
  });

  it("rejects a malformed body, a missing body and a non-JSON content type", async () => {
    const malformed = await emu.call("POST", emu.jobs("bad-json"), { body: "{not json", headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(malformed.json.message).toBeTruthy();
    const missing = await emu.call("POST", emu.jobs("no-body"));
    expect([400, 415]).toContain(missing.status);
    expect(missing.json.message).toBeTruthy();
    const text = await emu.call("POST", emu.jobs("text-body"), { body: "hello", headers: { "content-type": "text/plain" } });
    expect([400, 415]).toContain(text.status);
  });
});

describe("POST /jobs/{jobId}: job id and input batch", () => {
  it("rejects job ids that are too long or use other characters", async () => {
    const { notificationsUrl: _drop, ...body } = forumBody();
    const long = await emu.call("POST", emu.jobs("a".repeat(21)), { json: body });
    expect(long.status).toBe(400);
    expect(long.json.error.issues[0].field).toBe("jobId");
    expect(long.json.message).toMatch(/20 characters/);
    const upper = await emu.call("POST", emu.jobs("My.Job"), { json: body });
    expect(upper.status).toBe(400);
    expect(upper.json.error.issues[0].field).toBe("jobId");
    expect((await emu.call("POST", emu.jobs("a".repeat(20)), { json: body })).status).toBe(200);
  });

  it("404s a missing input batch, naming it", async () => {
    const r = await emu.call("POST", emu.jobs("no-batch"), { json: imageJob(emu.workspace, "no-such-batch") });
    expect(r.status).toBe(404);
    expect(r.json.message).toContain('"no-such-batch"');
    expect((await emu.call("GET", emu.jobs("no-batch"))).status).toBe(404);
  });

  it("409s a used job id with another definition; the identical request is an idempotent retry", async () => {
    const def = imageJob(emu.workspace, "val-batch");
    expect((await emu.call("POST", emu.jobs("dup-job"), { json: def })).status).toBe(200);
    const before = await jobCount();
    const again = await emu.call("POST", emu.jobs("dup-job"), { json: def });
    expect(again.status).toBe(200);
    const other = await emu.call("POST", emu.jobs("dup-job"), { json: imageJob(emu.workspace, "val-batch", {}, { workflowId: "another" }) });
    expect(other.status).toBe(409);
    expect(other.json.message).toContain('"dup-job"');
    expect(await jobCount()).toBe(before);
  });

  it("needs partName for a multipart input batch and the right kind of files in it", async () => {
    const done = await waitForJob(emu, "dup-job");
    expect(done.error).toBe(false);
    const noPart = await emu.call("POST", emu.jobs("from-output"), { json: imageJob(emu.workspace, "dup-job-processing") });
    expect(noPart.status).toBe(400);
    expect(noPart.json.message).toContain('"dup-job-processing"');
    expect(noPart.json.error.issues[0]).toMatchObject({ field: "jobInput.partName", allowed: ["results"] });
    const wrongKind = await emu.call("POST", emu.jobs("from-output"), {
      json: {
        ...imageJob(emu.workspace, "dup-job-processing"),
        jobInput: { type: "staging-batch-input-v1", batchId: "dup-job-processing", partName: "results" },
      },
    });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.json.message).toMatch(/holds metadata/);
    const partOnSimple = await emu.call("POST", emu.jobs("part-simple"), {
      json: { ...imageJob(emu.workspace, "val-batch"), jobInput: { type: "staging-batch-input-v1", batchId: "val-batch", partName: "x" } },
    });
    expect(partOnSimple.status).toBe(400);
    expect(partOnSimple.json.error.issues[0].field).toBe("jobInput.partName");
  });
});

describe("reads and actions on jobs", () => {
  it("404s unknown jobs and stages, 400s bad severities and page tokens", async () => {
    for (const suffix of ["", "/stages", "/logs", "/stages/processing/tasks"]) {
      const r = await emu.call("GET", `${emu.jobs("ghost-job")}${suffix}`);
      expect(r.status).toBe(404);
      expect(r.json.message).toContain('"ghost-job"');
    }
    const stage = await emu.call("GET", `${emu.jobs("dup-job")}/stages/nope/tasks`);
    expect(stage.status).toBe(404);
    expect(stage.json.error.hint).toContain('"processing"');
    const sev = await emu.call("GET", `${emu.jobs("dup-job")}/logs?severity=fatal`);
    expect(sev.status).toBe(400);
    expect(sev.json.error.issues[0].allowed).toEqual(["info", "warning", "error"]);
    const tok = await emu.call("GET", `${emu.jobs()}?nextPageToken=garbage`);
    expect(tok.status).toBe(400);
    const size = await emu.call("GET", `${emu.jobs("dup-job")}/logs?pageSize=0`);
    expect(size.status).toBe(400);
  });

  it("404s abort/restart of unknown jobs and 409s them in the wrong state", async () => {
    expect((await emu.call("POST", `${emu.jobs("ghost-job")}/abort`)).status).toBe(404);
    expect((await emu.call("POST", `${emu.jobs("ghost-job")}/restart`)).status).toBe(404);
    const abortDone = await emu.call("POST", `${emu.jobs("dup-job")}/abort`);
    expect(abortDone.status).toBe(409);
    expect(abortDone.json.message).toContain("already finished");
    const restartDone = await emu.call("POST", `${emu.jobs("dup-job")}/restart`);
    expect(restartDone.status).toBe(409);
    expect(restartDone.json.message).toContain("already succeeded");
  });

  it("validates the restart override body strictly", async () => {
    const r = await emu.call("POST", `${emu.jobs("dup-job")}/restart`, { json: { type: "parameters-override-v1", maxRuntimeSeconds: 10 } });
    expect(r.status).toBe(400);
    expect(r.json.error.issues[0]).toMatchObject({ field: "maxRuntimeSeconds", problem: "unknown field" });
    const t = await emu.call("POST", `${emu.jobs("dup-job")}/restart`, { json: { type: "parameters-override-v2" } });
    expect(t.status).toBe(400);
    expect(t.json.error.issues[0].field).toBe("type");
  });
});
