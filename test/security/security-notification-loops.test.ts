// Notification URLs never point at the emulator's own control API (a webhook that calls /_emulator/...
// could reset the world or trigger more webhooks without end). Reference and RoboQL ingests refuse such
// a notificationsURL with a readable 400; a tar shard's notification_config.json naming one fails that
// shard's notification setup with a clear error. The built-in receiver stays usable.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { notificationConfig, png, tar as tarOf } from "../helpers/fixtures.js";

let emu: TestEmulator;
let port: string;
beforeAll(async () => {
  emu = await startTestEmulator();
  port = new URL(emu.url).port;
});
afterAll(async () => emu?.close());

const refs = (notificationsURL: string, ingestId?: string) => ({
  imageReferences: [{ name: "a.png", url: "http://127.0.0.1:9/a.png" }],
  notificationsURL,
  ingestId,
});

describe("notificationsURL of reference and RoboQL ingests", () => {
  const looping = () => [
    `${emu.url}/_emulator/reset`,
    `http://localhost:${port}/_emulator/webhooks/x/redeliver`,
    `http://[::1]:${port}/_emulator/seed`,
    `http://0.0.0.0:${port}/_emulator/reset`,
    `http://127.0.0.1:${port}/%5Femulator/reset`,
    `http://127.0.0.1:${port}/_emulator/receiver/../reset`,
  ];

  it("refuses every URL that reaches the control API, naming the field, what was received and why", async () => {
    for (const [i, url] of looping().entries()) {
      const r = await emu.call("POST", `${emu.staging("loop-refs")}/bulk-upload/image-references`, { json: refs(url, `loop-${i}`) });
      expect(r.status, `${url}: ${r.text}`).toBe(400);
      expect(r.json.message).toMatch(/control API/);
      expect(r.json.error.issues[0]).toMatchObject({ field: "notificationsURL", received: url });
      expect(r.json.error.issues[0].problem).toMatch(/control API/);
    }
    // Nothing was created by the refused requests.
    expect((await emu.call("GET", `${emu.staging("loop-refs")}/count`)).status).toBe(404);
  });

  it("video-references and roboql-ingest refuse it too", async () => {
    const url = `${emu.url}/_emulator/reset`;
    const v = await emu.call("POST", `${emu.staging("loop-videos")}/bulk-upload/video-references`, {
      json: { videoReferences: [{ name: "a.mp4", url: "http://127.0.0.1:9/a.mp4" }], notificationsURL: url },
    });
    expect(v.status, v.text).toBe(400);
    expect(v.json.error.issues[0]).toMatchObject({ field: "notificationsURL", received: url });
    const q = await emu.call("POST", `${emu.staging("loop-roboql")}/roboql-ingest`, { json: { query: "x", notificationsURL: url } });
    expect(q.status, q.text).toBe(400);
    expect(q.json.error.issues[0]).toMatchObject({ field: "notificationsURL", received: url });
  });

  it("accepts the built-in receiver, other ports, and other paths of the emulator", async () => {
    for (const [i, url] of [`${emu.url}/_emulator/receiver/mine`, `http://127.0.0.1:1/_emulator/reset`, `${emu.url}/hooks/mine`].entries()) {
      const r = await emu.call("POST", `${emu.staging("loop-ok")}/bulk-upload/image-references`, { json: refs(url, `ok-${i}`) });
      expect(r.status, `${url}: ${r.text}`).toBe(200);
    }
  });
});

describe("with a public URL configured", () => {
  it("its origin counts as the emulator's own", async () => {
    const pub = await startTestEmulator({ publicUrl: "http://emulator.test:9999" });
    try {
      const url = "http://emulator.test:9999/_emulator/reset";
      const r = await pub.call("POST", `${pub.staging("loop-pub")}/bulk-upload/image-references`, { json: refs(url, "pub") });
      expect(r.status, r.text).toBe(400);
      expect(r.json.error.issues[0]).toMatchObject({ field: "notificationsURL", received: url });
    } finally {
      await pub.close();
    }
  });
});

describe("notification_config.json of a tar shard", () => {
  it("pointing at the control API: the shard's files go in, its notification setup fails with a clear error, and nothing is sent there", async () => {
    const slot = await emu.call("POST", `${emu.staging("loop-shard")}/bulk-upload/image-files`);
    const d = slot.json.signedURLDetails;
    const archive = tarOf([{ name: "ok.png", data: png(7) }, notificationConfig("loop-ingest", `${emu.url}/_emulator/reset`)]);
    const put = await request(d.uploadURL, { method: "PUT", body: archive, headers: d.extensionHeaders });
    expect(put.statusCode, await put.body.text()).toBe(200);
    const shard = (await waitFor(
      async () => {
        const s = (await emu.call("GET", `${emu.staging("loop-shard")}/shards`)).json.shards.find((x: any) => x.shardId === d.shardId);
        return s && s.statusType !== "info" ? s : undefined;
      },
      15_000,
      "the shard to finish",
    ))!;
    expect((await emu.call("GET", `${emu.staging("loop-shard")}/count`)).json.count).toBe(1);
    const failure = shard.statusMetadata.failedFiles.find((f: any) => f.type === "invalid-notification-config");
    expect(failure, JSON.stringify(shard.statusMetadata)).toBeDefined();
    expect(failure.reason).toMatch(/control API/);
    expect(failure.reason).toContain(`${emu.url}/_emulator/reset`);
    const hooks = await emu.call("GET", "/_emulator/webhooks", { apiKey: null });
    expect(JSON.stringify(hooks.json)).not.toContain(`${emu.url}/_emulator/reset`);
  });
});
