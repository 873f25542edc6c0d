// "Advance to idle" means idle: one POST /_emulator/clock/advance {"to": "idle"} on a manual clock
// returns only once no follow-up work remains (no timer planned and no background step still
// running), so a job or a tar shard is in its terminal state when the call answers.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { getJob, imageJob } from "../helpers/jobs.js";
import { png, tar } from "../helpers/fixtures.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

beforeAll(async () => {
  emu = await startTestEmulator();
  const s = await ctl("POST", "/seed", { batches: [{ batchId: "three", images: { count: 3, width: 8, height: 8 } }] });
  expect(s.status, s.text).toBe(200);
  expect((await ctl("POST", "/clock", { mode: "manual" })).status).toBe(200);
});
afterAll(async () => emu?.close());

async function advanceToIdle() {
  const r = await ctl("POST", "/clock/advance", { to: "idle" });
  expect(r.status, r.text).toBe(200);
  return r.json;
}

describe("advance to idle", () => {
  it("runs a 3-image job to its end in one call", async () => {
    const created = await emu.call("POST", emu.jobs("idle-job"), { json: imageJob(emu.workspace, "three") });
    expect(created.status, created.text).toBe(200);
    const adv = await advanceToIdle();
    const job = await getJob(emu, "idle-job");
    expect({ isTerminal: job.isTerminal, error: job.error, stage: job.currentStage }).toMatchObject({ isTerminal: true, error: false });
    expect(adv).toMatchObject({ idle: true, clock: { pendingTimers: 0 } });
    // Nothing left to do: a second call fires nothing.
    expect(await advanceToIdle()).toMatchObject({ fired: 0, idle: true });
  });

  it("indexes a tar shard to its end in one call", async () => {
    const slot = await emu.call("POST", `${emu.staging("shards")}/bulk-upload/image-files`);
    expect(slot.status, slot.text).toBe(200);
    const d = slot.json.signedURLDetails;
    const archive = tar(Array.from({ length: 5 }, (_, i) => ({ name: `img-${i}.png`, data: png(100 + i) })));
    const put = await request(d.uploadURL, { method: "PUT", body: archive, headers: d.extensionHeaders });
    expect(put.statusCode, await put.body.text()).toBe(200);
    const adv = await advanceToIdle();
    const shards = (await emu.call("GET", `${emu.staging("shards")}/shards`)).json.shards;
    const shard = shards.find((s: any) => s.shardId === d.shardId);
    expect(shard.statusType).not.toBe("info");
    expect((await emu.call("GET", `${emu.staging("shards")}/count`)).json.count).toBe(5);
    expect(adv).toMatchObject({ idle: true, clock: { pendingTimers: 0 } });
  });
});
