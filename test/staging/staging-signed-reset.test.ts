// Signed URLs across a reset or a snapshot import: a URL names the workspace, batch, file and store
// generation it was issued for, so after the world is replaced it answers 404 saying why, and never
// serves a file that happens to get the same row number; a PUT racing a reset says the URL is gone.
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readResponse, startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { mp4, multipart, png } from "../helpers/fixtures.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const MP4 = mp4(3, 4024);

async function uploadPng(e: TestEmulator, ws: string, apiKey: string, batchId: string, fileName: string, bytes: Buffer) {
  const m = multipart([{ field: fileName, filename: fileName, contentType: "image/png", data: bytes }]);
  const r = await e.call("POST", `/data-staging/v1/external/${ws}/batches/${batchId}/upload/image?fileName=${fileName}`, {
    apiKey,
    body: m.body,
    headers: { "content-type": m.contentType },
  });
  expect(r.status, r.text).toBe(200);
}

async function downloadUrlOf(e: TestEmulator, ws: string, apiKey: string, batchId: string): Promise<string> {
  const r = await e.call("GET", `/data-staging/v1/external/${ws}/batches/${batchId}/list`, { apiKey });
  expect(r.status, r.text).toBe(200);
  return r.json.filesMetadata[0].downloadURL;
}

const get = async (url: string) => {
  const res = await request(url);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes, text: bytes.toString("utf8") };
};

const control = (e: TestEmulator, method: string, path: string, json?: unknown) => e.call(method, `/_emulator${path}`, { apiKey: null, json });

describe("signed download URLs across a reset", () => {
  it("a URL from before a full reset never serves the file that takes its row number afterwards (404 naming the reset)", async () => {
    const mine = png(101);
    await uploadPng(emu, emu.workspace, emu.apiKey, "before-reset", "same.png", mine);
    const old = await downloadUrlOf(emu, emu.workspace, emu.apiKey, "before-reset");
    const first = await get(old);
    expect(first.status).toBe(200);
    expect(first.bytes.equals(mine)).toBe(true);

    expect((await control(emu, "POST", "/reset", {})).status).toBe(200);
    expect((await control(emu, "POST", "/seed", { workspaces: [{ id: "ws-b", apiKeys: ["key-b"] }] })).status).toBe(200);
    const theirs = png(202);
    await uploadPng(emu, "ws-b", "key-b", "after-reset", "same.png", theirs);

    const res = await get(old);
    expect(res.bytes.equals(theirs), "the old URL served another workspace's file").toBe(false);
    expect(res.status, res.text.slice(0, 300)).toBe(404);
    expect(JSON.parse(res.text).message).toMatch(/issued before .*reset/i);
    // The file uploaded after the reset has its own URL, which works.
    const fresh = await get(await downloadUrlOf(emu, "ws-b", "key-b", "after-reset"));
    expect(fresh.status).toBe(200);
    expect(fresh.bytes.equals(theirs)).toBe(true);
  });

  it("a URL from before a snapshot import never serves a file of the imported world", async () => {
    const other = await startTestEmulator();
    try {
      await emu.controls.reset();
      await uploadPng(emu, emu.workspace, emu.apiKey, "snap", "same.png", png(303));
      const old = await downloadUrlOf(emu, emu.workspace, emu.apiKey, "snap");
      expect((await get(old)).status).toBe(200);

      await uploadPng(other, other.workspace, other.apiKey, "snap", "same.png", png(404));
      const snapshot = await control(other, "GET", "/snapshot");
      expect(snapshot.status).toBe(200);
      const imported = await control(emu, "POST", "/snapshot", snapshot.json);
      expect(imported.status, imported.text).toBe(200);

      const res = await get(old);
      expect(res.bytes.equals(png(404)), "the old URL served the imported world's file").toBe(false);
      expect(res.status, res.text.slice(0, 300)).toBe(404);
      expect(JSON.parse(res.text).message).toMatch(/issued before/i);
    } finally {
      await other.close();
    }
  });

  it("names workspace, batch and file: the path carries all of them", async () => {
    await emu.controls.reset();
    await uploadPng(emu, emu.workspace, emu.apiKey, "named-batch", "named.png", png(5));
    const url = new URL(await downloadUrlOf(emu, emu.workspace, emu.apiKey, "named-batch"));
    expect(url.pathname).toContain(`/${emu.workspace}/`);
    expect(url.pathname).toContain("/named-batch/");
    expect(url.pathname.endsWith("/named.png")).toBe(true);
  });
});

describe("signed upload URLs across a reset", () => {
  async function videoSlot(batchId: string) {
    const r = await emu.call("POST", `${emu.staging(batchId)}/upload/video?fileName=clip.mp4`);
    expect(r.status, r.text).toBe(200);
    return r.json.signedURLDetails as { uploadURL: string; extensionHeaders: Record<string, string> };
  }

  it("an upload URL from before a full reset answers 404 naming the reset", async () => {
    const d = await videoSlot("slot-before-reset");
    expect(new URL(d.uploadURL).pathname).toContain("/slot-before-reset/");
    await emu.controls.reset();
    const got = await readResponse(await request(d.uploadURL, { method: "PUT", body: MP4, headers: d.extensionHeaders }));
    expect(got.status, got.text).toBe(404);
    expect(got.json.message).toMatch(/reset/i);
  });

  for (const scope of ["full", "workspace"] as const) {
    it(`a PUT in progress when a ${scope} reset happens answers 404 naming the reset, never 409 "already used"`, async () => {
      const d = await videoSlot(`slot-race-${scope}`);
      const body = new Readable({ read() {} });
      body.push(MP4.subarray(0, 1000));
      const pending = request(d.uploadURL, { method: "PUT", body, headers: { ...d.extensionHeaders, "content-length": String(MP4.length) } });
      // The emulator has the first bytes (its temp file exists) when the reset comes.
      await new Promise((r) => setTimeout(r, 150));
      const reset = await control(emu, "POST", "/reset", scope === "full" ? {} : { workspace: emu.workspace });
      expect(reset.status, reset.text).toBe(200);
      body.push(MP4.subarray(1000));
      body.push(null);
      const got = await readResponse(await pending);
      expect(got.status, got.text).not.toBe(409);
      expect(got.status, got.text).toBe(404);
      expect(got.json.message).toMatch(/reset/i);
      expect(got.json.message).not.toMatch(/already used/i);
      // Trying again says the same, and nothing was stored.
      const again = await readResponse(await request(d.uploadURL, { method: "PUT", body: MP4, headers: d.extensionHeaders }));
      expect(again.status, again.text).toBe(404);
      expect(again.json.message).toMatch(/reset/i);
      expect((await emu.call("GET", `${emu.staging(`slot-race-${scope}`)}/count`)).status).toBe(404);
    });
  }
});
