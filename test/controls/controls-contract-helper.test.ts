// The TS test helper's contract oracle: verify() (a VerificationError naming the closest request),
// contractReport(), searchJournal(), and startEmulatorForTests({ failOnContractViolations }) whose
// close() throws a readable summary when the run sent what the real service would refuse.
import { describe, expect, it } from "vitest";
import { ContractViolationError, startEmulatorForTests, VerificationError, type EmulatorForTests } from "../../src/testing.js";

const jobDefinition = (ws: string, compute: Record<string, unknown>) => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId: "inputs" },
  computeConfiguration: compute,
  processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "wf", aggregationFormat: "csv" },
});

async function createJob(emu: EmulatorForTests, jobId: string, compute: Record<string, unknown>) {
  const res = await fetch(`${emu.baseUrl}/batch-processing/v1/external/${emu.workspace}/jobs/${jobId}?api_key=${emu.apiKey}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(jobDefinition(emu.workspace, compute)),
  });
  await res.text();
  return res.status;
}

describe("startEmulatorForTests: contract oracle", () => {
  it("verify, searchJournal and contractReport through the typed client", async () => {
    const emu = await startEmulatorForTests({ seed: { batches: [{ batchId: "inputs", images: { count: 2 } }] } });
    try {
      expect(await createJob(emu, "j1", { type: "compute-configuration-v2", workersPerMachine: 2 })).toBe(200);
      expect(await emu.controls.verify({ method: "POST", body: [{ path: "computeConfiguration.workersPerMachine", equals: 2 }] }, { count: 1 })).toBe(1);
      const err = await emu.controls.verify({ method: "POST", body: [{ path: "computeConfiguration.workersPerMachine", equals: 8 }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).message).toContain(`/jobs/j1`);
      expect((err as VerificationError).message).toContain("but got 2");
      const page = await emu.controls.searchJournal({ operation: "POST /batch-processing/v1/external/{workspace}/jobs/{jobId}" });
      expect(page.count).toBe(1);
      expect(page.entries[0].requestBody?.kind).toBe("json");
      expect(await emu.controls.journalCount({ bodyPath: "processingSpecification.aggregationFormat", bodyEquals: "csv" })).toBe(1);
      const report = await emu.controls.contractReport();
      expect(report.summary.violations).toBe(0);
      expect(report.operations.exercised.map((o) => o.operation)).toEqual(["POST /batch-processing/v1/external/{workspace}/jobs/{jobId}"]);
      await emu.assertContract();
    } finally {
      await emu.close();
    }
  });

  it("failOnContractViolations: close() throws a readable summary, after stopping the emulator; reset between tests does not hide it", async () => {
    const emu = await startEmulatorForTests({ seed: { batches: [{ batchId: "inputs", images: { count: 2 } }] }, failOnContractViolations: true });
    expect(await createJob(emu, "old", { type: "compute-configuration-v1", machineSize: "xs" })).toBe(400);
    await emu.controls.reset({ reseed: true }); // what a beforeEach does
    expect(await createJob(emu, "new", { type: "compute-configuration-v2", workersPerMachine: 8 })).toBe(200);
    const failure = await emu.assertContract().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ContractViolationError);
    // A kind the suite provokes on purpose can be left out.
    await expect(emu.assertContract({ ignore: ["deprecated-option", "unknown-field", "invalid-request"] })).resolves.toBeTruthy();
    const closed = await emu.close().catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(ContractViolationError);
    const message = (closed as Error).message;
    expect(message).toContain(
      "[deprecated-option] POST /batch-processing/v1/external/emulator-workspace/jobs/old → 400 (computeConfiguration.type, computeConfiguration.machineSize)",
    );
    expect(message).toContain("[unknown-field]");
    expect((closed as ContractViolationError).report.summary.requests).toBe(2);
    // The emulator is stopped all the same.
    await expect(fetch(`${emu.baseUrl}/health`)).rejects.toThrow();
  });

  it("failOnContractViolations with { ignore } and a clean run: close() resolves", async () => {
    const emu = await startEmulatorForTests({ failOnContractViolations: { ignore: ["unauthorized"] } });
    const res = await fetch(`${emu.baseUrl}/data-staging/v1/external/${emu.workspace}/batches?api_key=wrong`);
    expect(res.status).toBe(401);
    await res.text();
    await expect(emu.close()).resolves.toBeUndefined();
  });
});
