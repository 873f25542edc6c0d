// Webhooks survive the process: a notification being sent when the emulator is killed (-9) or
// stopped (SIGTERM) is sent again after the restart, with the same event_id and the next attempt
// number. And a notification URL that points at the emulator's own control API is refused, so
// webhooks cannot trigger each other without end.
// Before the fix the claimed attempt cleared the row's due time, so after either stop the row
// stayed "pending" forever and nothing was ever sent again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { readResponse, startTestEmulator, waitFor } from "../helpers/emulator.js";
import { startLoopbackServer } from "../helpers/fixtures.js";
import { controlClient } from "../../src/testing.js";

/** A receiver that never answers the first request (it stays in flight) and answers 200 after that. */
async function hangingReceiver() {
  const receiver = await startLoopbackServer();
  receiver.holdNext();
  return { url: receiver.url, hits: receiver.requests, close: () => receiver.close() };
}

async function control(base: string, method: string, p: string, json?: unknown) {
  return readResponse(
    await request(base + p, {
      method: method as "POST",
      body: json === undefined ? undefined : JSON.stringify(json),
      headers: json === undefined ? {} : { "content-type": "application/json" },
    }),
  );
}

const dirs: string[] = [];
const children: ChildEmulator[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await c.stop();
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe.each([
  ["kill -9", (c: ChildEmulator) => c.kill9()],
  ["SIGTERM", (c: ChildEmulator) => c.stop()],
])("a notification in flight at %s", (_name, stop) => {
  it("is sent again after the restart with the same event_id and is then delivered", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-hooks-"));
    dirs.push(dataDir);
    const receiver = await hangingReceiver();
    try {
      const first = await startChildEmulator(dataDir);
      children.push(first);
      const sent = await control(first.url, "POST", "/_emulator/webhooks", { url: receiver.url, payload: { type: "restart-test" } });
      expect(sent.status).toBe(202);
      await waitFor(() => receiver.hits.length === 1, 10_000, "the first attempt to arrive");
      await stop(first);

      const second = await startChildEmulator(dataDir);
      children.push(second);
      await waitFor(() => receiver.hits.length >= 2, 10_000, "the notification to be sent again after the restart");
      expect(receiver.hits[1].body.event_id).toBe(receiver.hits[0].body.event_id);
      expect(receiver.hits[1].body.delivery_attempt).toBe(2);
      const delivered = await waitFor(
        async () => {
          const deliveries = await controlClient(second.url).webhooks.list();
          const d: any = deliveries.find((x) => x.id === sent.json.id);
          return d?.state === "delivered" ? d : null;
        },
        10_000,
        "the delivery to be recorded",
      );
      expect(delivered.attempts.at(-1).status).toBe(200);
    } finally {
      await receiver.close();
    }
  });
});

describe("webhook loops", () => {
  it("refuses notification URLs that point at the emulator's own control API, but not its receiver", async () => {
    const emu = await startTestEmulator();
    try {
      const loop = await control(emu.url, "POST", "/_emulator/webhooks", { url: `${emu.url}/_emulator/webhooks/abc/redeliver` });
      expect(loop.status).toBe(400);
      expect(loop.json.error.issues[0].field).toBe("url");
      expect(loop.json.message).toMatch(/control API/);
      const alias = await control(emu.url, "POST", "/_emulator/webhooks", { url: `http://localhost:${emu.port}/_emulator/reset` });
      expect(alias.status).toBe(400);
      const job = await emu.call("POST", emu.jobs("loop-job"), {
        json: {
          type: "simple-image-processing-v1",
          jobInput: { type: "staging-batch-input-v1", batchId: "none" },
          computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
          processingSpecification: { type: "workflows-processing-specification-v1", workspace: emu.workspace, workflowId: "wf" },
          notificationsURL: `${emu.url}/_emulator/clock/advance`,
        },
      });
      expect(job.status).toBe(400);
      expect(job.json.error.issues[0].field).toBe("notificationsURL");
      const receiver = await control(emu.url, "POST", "/_emulator/webhooks", { url: `${emu.url}/_emulator/receiver/mine` });
      expect(receiver.status).toBe(202);
      await waitFor(async () => (await emu.controls.receiver("mine").list()).length === 1, 10_000, "the receiver to get it");
    } finally {
      await emu.close();
    }
  });
});
