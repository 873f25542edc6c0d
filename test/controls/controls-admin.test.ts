// The admin token: with --admin-token every /_emulator call needs `Authorization: Bearer <token>`,
// except the webhook receiver (senders cannot add it) and the dashboard's static files.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

const TOKEN = "s3cret-admin";
let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator({ adminToken: TOKEN });
});
afterAll(async () => emu?.close());

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("admin token", () => {
  it("401 without it or with a wrong one, on known and unknown control paths", async () => {
    for (const [method, p] of [
      ["GET", "/_emulator/clock"],
      ["POST", "/_emulator/reset"],
      ["GET", "/_emulator/journal"],
      ["DELETE", "/_emulator/faults"],
      ["GET", "/_emulator/nothing-here"],
    ] as const) {
      const none = await emu.call(method, p, { apiKey: null });
      expect(none.status, `${method} ${p}`).toBe(401);
      expect(none.json.error.type).toBe("admin-token-required");
      expect(none.json.error.hint).toMatch(/Authorization: Bearer/);
      const wrong = await emu.call(method, p, { apiKey: null, headers: bearer("nope") });
      expect(wrong.status).toBe(401);
    }
  });

  it("works with it", async () => {
    expect((await emu.call("GET", "/_emulator/clock", { apiKey: null, headers: bearer(TOKEN) })).status).toBe(200);
    expect((await emu.call("POST", "/_emulator/reset", { apiKey: null, headers: bearer(TOKEN), json: {} })).status).toBe(200);
  });

  it("does not touch the emulated API, the receiver or the dashboard page", async () => {
    expect((await emu.call("GET", emu.staging())).status).toBe(200);
    expect((await emu.call("GET", "/_emulator/dashboard", { apiKey: null })).status).toBe(200);
    // A webhook sent by the emulator (Authorization: Bearer rf_<internal id>) still reaches the receiver.
    const sent = await emu.call("POST", "/_emulator/webhooks", {
      apiKey: null,
      headers: bearer(TOKEN),
      json: { url: `${emu.url}/_emulator/receiver/secured` },
    });
    expect(sent.status).toBe(202);
    const got = await waitFor(
      async () => {
        const r = await emu.call("GET", "/_emulator/receiver/secured", { apiKey: null, headers: bearer(TOKEN) });
        return r.json.count === 1 ? r.json : null;
      },
      5000,
      "delivery",
    );
    expect(got.deliveries[0].headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
    // Reading the receiver needs the token.
    expect((await emu.call("GET", "/_emulator/receiver/secured", { apiKey: null })).status).toBe(401);
  });
});
