// A job-state stub is a stored rule, so it outlives a restart like the job it aims at: the restarted
// emulator arms it again for the emulator time it was set for (creation + afterMs, or `at`), and a
// stub that already fired is not armed again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-stubs-"));
// Both runs start with a stopped clock (the restarted one where the first left it), so only the
// test's own advances move time and the stubs cannot fire between the start and the first check.
const seedFile = path.join(dataDir, "manual-clock.seed.json");
fs.writeFileSync(seedFile, JSON.stringify({ deterministic: { seed: 1, clock: "manual" } }));
let emu: TestEmulator | undefined;
afterAll(async () => {
  await emu?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const definition = (ws: string) => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId: "pics" },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
  processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "wf" },
});
// Ten emulated minutes of processing: far longer than the stubs' delays.
const script = { stageDurationsMs: { processing: 600_000, export: 1000 } };

describe("job-state stubs across a restart", () => {
  it("fire after the restart at the time they were set for; a fired one stays fired", async () => {
    emu = await startTestEmulator({ dataDir, seedFile });
    await emu.controls.seed({ batches: [{ batchId: "pics", images: { count: 2 } }] });
    for (const jobId of ["long", "done"]) {
      const started = await emu.call("POST", `/_emulator/jobs/${emu.workspace}/${jobId}`, {
        apiKey: null,
        json: { definition: definition(emu.workspace), script },
      });
      expect(started.status, started.text).toBe(201);
    }
    await emu.controls.faults.add({
      id: "fail-long",
      action: { type: "job-state", jobId: "long", state: "failed", afterMs: 60_000, message: "Stubbed before the restart" },
    });
    await emu.controls.faults.add({ id: "abort-done", action: { type: "job-state", jobId: "done", state: "aborted", afterMs: 1000 } });
    await emu.controls.clock.advance(2000);
    expect((await emu.call("GET", emu.jobs("done"))).json.job.lastNotification.type).toBe("job-aborted");
    // The fired stub's job is restarted: a stub armed again would abort it a second time.
    expect((await emu.call("POST", `${emu.jobs("done")}/restart`)).status).toBe(200);
    expect((await emu.call("GET", emu.jobs("long"))).json.job.isTerminal).toBe(false);
    await emu.close();

    emu = await startTestEmulator({ dataDir, seedFile });
    await emu.controls.clock.advance(30_000);
    expect((await emu.call("GET", emu.jobs("long"))).json.job.isTerminal).toBe(false);
    await emu.controls.clock.advance(30_000);
    const long = (await emu.call("GET", emu.jobs("long"))).json.job;
    expect(long).toMatchObject({ isTerminal: true, error: true });
    expect(JSON.stringify(long.lastNotification)).toContain("Stubbed before the restart");
    const done = (await emu.call("GET", emu.jobs("done"))).json.job;
    expect(done.isTerminal).toBe(false);
    const rules = await emu.controls.faults.list();
    expect(rules.find((r: { id: string }) => r.id === "fail-long")).toMatchObject({ fired: 1 });
    expect(rules.find((r: { id: string }) => r.id === "abort-done")).toMatchObject({ fired: 1 });
  }, 60_000);
});
