// Webhook deliveries through the control API: the built-in receiver, the deliveries list with every
// attempt, redelivery, a failing receiver, and delivery faults (drop, delay, duplicate, out of order).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });
const receiverUrl = (name: string, query = "") => `${emu.url}/_emulator/receiver/${name}${query}`;
const received = async (name: string) => (await emu.controls.receiver(name).list()) as any[];
const deliveries = async () => (await emu.controls.webhooks.list()) as any[];
/** waitFor with a non-null result type. */
const until = async <T>(fn: () => Promise<T | null | undefined | false>, ms: number, what: string): Promise<T> => (await waitFor(fn, ms, what)) as T;

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());
beforeEach(async () => {
  await emu.controls.reset();
  await emu.controls.receiver("hooks").clear();
});

async function send(subject: string, url = receiverUrl("hooks"), payload: Record<string, unknown> = { type: "test-notification", subject }) {
  const r = await ctl("POST", "/webhooks", { url, subject, category: "job", payload });
  expect(r.status, r.text).toBe(202);
  return r.json.id as string;
}

describe("receiver and deliveries", () => {
  it("stores deliveries with headers; lists deliveries with their attempts; redelivers as a new attempt", async () => {
    const id = await send("job-1");
    const got = await until(async () => ((await received("hooks")).length === 1 ? received("hooks") : null), 5000, "first delivery");
    expect(got[0].headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
    expect(got[0].headers["content-type"]).toBe("application/json");
    expect(got[0].json).toMatchObject({ type: "test-notification", subject: "job-1", event_id: id, delivery_attempt: 1 });

    const list = await until(async () => ((await deliveries())[0]?.state === "delivered" ? deliveries() : null), 5000, "delivered state");
    expect(list[0]).toMatchObject({ id, workspace: emu.workspace, category: "job", subject: "job-1", state: "delivered", attemptCount: 1 });
    expect(list[0].attempts).toEqual([expect.objectContaining({ attempt: 1, status: 200, error: null, url: receiverUrl("hooks") })]);
    expect(list[0].attempts[0].body).toMatchObject({ event_id: id, delivery_attempt: 1 });

    expect((await ctl("POST", `/webhooks/${id}/redeliver`)).status).toBe(202);
    const again = await until(async () => ((await received("hooks")).length === 2 ? received("hooks") : null), 5000, "redelivery");
    expect(again[1].json).toMatchObject({ event_id: id, delivery_attempt: 2 });
    expect((await ctl("POST", "/webhooks/nope/redeliver")).status).toBe(404);
  });

  it("a receiver answering 500 makes the sender retry with backoff until it gives up", async () => {
    const id = await send("job-2", receiverUrl("hooks", "?status=500"));
    const d = await until(async () => (await deliveries()).find((x) => x.id === id && x.state === "failed"), 10_000, "failed state");
    expect(d.attempts.map((a: any) => a.status)).toEqual([500, 500, 500, 500, 500]);
    expect(d.attempts[0].error).toMatch(/500/);
    expect((await received("hooks")).map((r) => r.status)).toEqual([500, 500, 500, 500, 500]);
    // Backoff runs on the emulator clock: attempts are spaced 1 s, 2 s, 4 s, 8 s apart in emulated time.
    const at = d.attempts.map((a: any) => Date.parse(a.at));
    expect(at[4] - at[0]).toBeGreaterThanOrEqual(15_000 - 50);
  });
});

describe("delivery faults", () => {
  it("drop: the attempt is lost (recorded as an error) and the retry delivers", async () => {
    await emu.controls.faults.add({ match: { category: "job" }, action: { type: "webhook-drop" }, times: 1 });
    const id = await send("job-3");
    const d = await until(async () => (await deliveries()).find((x) => x.id === id && x.state === "delivered"), 5000, "delivered after drop");
    expect(d.attempts.map((a: any) => [a.attempt, a.status])).toEqual([
      [1, null],
      [2, 200],
    ]);
    expect(d.attempts[0].error).toMatch(/dropped/);
    const got = await received("hooks");
    expect(got.map((r) => r.json.delivery_attempt)).toEqual([2]);
  });

  it("duplicate: the receiver gets the same event twice", async () => {
    await emu.controls.faults.add({ match: { url: "**/receiver/hooks" }, action: { type: "webhook-duplicate" }, times: 1 });
    const id = await send("job-4");
    const got = await until(async () => ((await received("hooks")).length >= 2 ? received("hooks") : null), 5000, "two copies");
    expect(got.map((r) => [r.json.event_id, r.json.delivery_attempt])).toEqual([
      [id, 1],
      [id, 1],
    ]);
  });

  it("delay: the delivery arrives late and the attempt's latency shows it", async () => {
    await emu.controls.faults.add({ match: { jobId: "job-5" }, action: { type: "webhook-delay", ms: 400 } });
    const t0 = Date.now();
    const id = await send("job-5");
    await waitFor(async () => (await received("hooks")).length === 1, 5000, "delayed delivery");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    const d = await until(async () => (await deliveries()).find((x) => x.id === id && x.state === "delivered"), 5000, "delivered");
    expect(d.attempts[0].latencyMs).toBeGreaterThanOrEqual(390);
  });

  it("out of order: a held-back delivery arrives after one sent later", async () => {
    await emu.controls.faults.add({ match: { jobId: "first" }, action: { type: "webhook-out-of-order", ms: 300 } });
    await send("first");
    await send("second");
    const got = await until(async () => ((await received("hooks")).length === 2 ? received("hooks") : null), 5000, "both deliveries");
    expect(got.map((r) => r.json.subject)).toEqual(["second", "first"]);
    const rule = (await emu.controls.faults.list())[0];
    expect(rule.fired).toBe(1);
  });
});
