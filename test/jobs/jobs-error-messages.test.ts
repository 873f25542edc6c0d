// Errors a user meets while driving jobs by hand: a restart body without its `type` says the field is
// missing (not "not one of the allowed values", which reads as if a wrong value had been sent), the
// same for any missing fixed-value field, and a start-job body without Content-Type: application/json
// gets a 415 that names application/json.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { imageJob } from "../helpers/jobs.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

describe("missing fixed-value fields say 'missing'", () => {
  it("restart with a body lacking `type`", async () => {
    const r = await emu.call("POST", `${emu.jobs("any-job")}/restart`, { json: { maxParallelTasks: 2 } });
    expect(r.status, r.text).toBe(400);
    const issue = r.json.error.issues.find((i: { field: string }) => i.field === "type");
    expect(issue).toMatchObject({ received: "(missing)", allowed: ["parameters-override-v1"] });
    expect(issue.problem).toMatch(/missing/);
    expect(issue.problem).not.toMatch(/not one of the allowed values/);
    expect(r.json.message).toMatch(/type: required field is missing/);
    expect(r.json.message).toContain('"parameters-override-v1"');
  });

  it("a wrong `type` on restart still says it is not an allowed value, naming the closest", async () => {
    const r = await emu.call("POST", `${emu.jobs("any-job")}/restart`, { json: { type: "parameters-override-v2" } });
    expect(r.status).toBe(400);
    expect(r.json.error.issues[0]).toMatchObject({ field: "type", problem: "not one of the allowed values", didYouMean: "parameters-override-v1" });
  });

  it("start job with a nested `type` left out (jobInput.type, computeConfiguration.type)", async () => {
    const def = imageJob(emu.workspace, "some-batch");
    const body = { ...def, jobInput: { batchId: "some-batch" }, computeConfiguration: { machineType: "cpu" } };
    const r = await emu.call("POST", emu.jobs("nested-missing"), { json: body });
    expect(r.status, r.text).toBe(400);
    for (const field of ["jobInput.type", "computeConfiguration.type"]) {
      const issue = r.json.error.issues.find((i: { field: string }) => i.field === field);
      expect(issue, field).toMatchObject({ received: "(missing)" });
      expect(issue.problem, field).toMatch(/missing/);
    }
  });
});

describe("a start-job body without Content-Type: application/json", () => {
  for (const [label, headers] of [
    ["text/plain", { "content-type": "text/plain" }],
    ["no Content-Type", {}],
  ] as const) {
    it(`${label} → 415 naming application/json`, async () => {
      const r = await emu.call("POST", emu.jobs("ct-job"), { body: JSON.stringify(imageJob(emu.workspace, "some-batch")), headers: { ...headers } });
      expect(r.status).toBe(415);
      expect(r.json.error.type).toBe("unsupported-media-type");
      expect(r.json.message).toContain("application/json");
    });
  }
});
