// Webhook identity: the real service authorises its webhooks with `Authorization: Bearer rf_{workspace_id}`,
// where the id is the workspace's internal id (not the URL name). Each workspace has one: given by a seed
// (`internalId`), else derived from its name (stable: 20 characters, the same on every start). The sender
// also names itself in `User-Agent: roboflow-batch-emulator/<version>`.
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

const VERSION = (JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const ctl = (e: TestEmulator, method: string, path: string, json?: unknown) => e.call(method, `/_emulator${path}`, { apiKey: null, json });

async function hookHeaders(e: TestEmulator, workspace: string | undefined, receiver: string): Promise<Record<string, string>> {
  const url = `${e.url}/_emulator/receiver/${receiver}`;
  const sent = await ctl(e, "POST", "/webhooks", { url, ...(workspace ? { workspace } : {}), subject: receiver, payload: { type: "identity-test" } });
  expect(sent.status, sent.text).toBe(202);
  const got = await waitFor(
    async () => {
      const deliveries: any = await e.controls.receiver(receiver).list();
      return deliveries.length ? deliveries : undefined;
    },
    10_000,
    `a delivery to ${receiver}`,
  );
  return got[0].headers as Record<string, string>;
}

const internalIdOf = async (e: TestEmulator, ws: string): Promise<string> =>
  ((await ctl(e, "GET", "/overview")).json.workspaces as { id: string; internalId: string }[]).find((w) => w.id === ws)!.internalId;

describe("webhook Authorization carries the workspace's internal id", () => {
  it("default workspace: Bearer rf_<20-character id derived from its name>, not the name; the overview shows the id", async () => {
    const headers = await hookHeaders(emu, undefined, "default-ws");
    const id = await internalIdOf(emu, emu.workspace);
    expect(id).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(headers.authorization).toBe(`Bearer rf_${id}`);
    expect(headers.authorization).not.toBe(`Bearer rf_${emu.workspace}`);
  });

  it("the derived id is stable: another emulator (another data folder) derives the same id for the same name", async () => {
    const other = await startTestEmulator();
    try {
      expect(await internalIdOf(other, other.workspace)).toBe(await internalIdOf(emu, emu.workspace));
      await other.controls.seed({ workspaces: [{ id: "team-x" }] });
      await emu.controls.seed({ workspaces: [{ id: "team-x" }] });
      expect(await internalIdOf(other, "team-x")).toBe(await internalIdOf(emu, "team-x"));
      expect(await internalIdOf(emu, "team-x")).not.toBe(await internalIdOf(emu, emu.workspace));
    } finally {
      await other.close();
    }
  });

  it("a seed gives a workspace its internal id, and its webhooks carry it", async () => {
    const seeded = await ctl(emu, "POST", "/seed", { workspaces: [{ id: "acme", apiKeys: ["acme-key"], internalId: "Xq3Lr9TzVb2N8sKp4WdE" }] });
    expect(seeded.status, seeded.text).toBe(200);
    expect(await internalIdOf(emu, "acme")).toBe("Xq3Lr9TzVb2N8sKp4WdE");
    const headers = await hookHeaders(emu, "acme", "acme-hooks");
    expect(headers.authorization).toBe("Bearer rf_Xq3Lr9TzVb2N8sKp4WdE");
  });

  it("refuses an internal id that is malformed or already another workspace's, naming the field", async () => {
    const bad = await ctl(emu, "POST", "/seed", { workspaces: [{ id: "bad-id", internalId: "has spaces/and slashes" }] });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/internalId/);
    const taken = await ctl(emu, "POST", "/seed", { workspaces: [{ id: "copycat", internalId: "Xq3Lr9TzVb2N8sKp4WdE" }] });
    expect(taken.status, taken.text).toBe(400);
    expect(taken.json.message).toMatch(/acme/);
  });

  it("sends User-Agent: roboflow-batch-emulator/<package version>", async () => {
    const headers = await hookHeaders(emu, undefined, "agent");
    expect(headers["user-agent"]).toBe(`roboflow-batch-emulator/${VERSION}`);
  });
});
