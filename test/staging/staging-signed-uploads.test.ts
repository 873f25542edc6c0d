// upload/video and the signed PUT: extension headers, signature and expiry on the emulator clock,
// repeatable PUTs, streaming size limits, durability of the stored video.
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

async function videoSlot(batchId: string, fileName = "clip.mp4", extra = "") {
  const r = await emu.call("POST", `${emu.staging(batchId)}/upload/video?fileName=${encodeURIComponent(fileName)}${extra}`);
  expect(r.status, r.text).toBe(200);
  return r.json.signedURLDetails as { uploadURL: string; method: string; extensionHeaders: Record<string, string>; maxFileSize: number };
}

const put = async (url: string, body: Buffer | Readable | undefined, headers: Record<string, string>) =>
  readResponse(await request(url, { method: "PUT", body, headers }));

const tokenOf = (uploadURL: string) => new URL(uploadURL).pathname.split("/").pop()!;

describe("upload/video + signed PUT", () => {
  it("answers the signed URL details and stores the PUT body as a video of a simple-batch of videos", async () => {
    const d = await videoSlot("vid-basic", "clip.mp4", "&displayName=Videos");
    expect(d.method).toBe("PUT");
    expect(d.extensionHeaders).toEqual({ "X-Goog-Content-Length-Range": `0,${d.maxFileSize}` });
    expect(d.uploadURL.startsWith(emu.url + "/_signed/uploads/")).toBe(true);
    expect(new URL(d.uploadURL).searchParams.has("api_key")).toBe(false);

    const r = await put(d.uploadURL, MP4, d.extensionHeaders);
    expect(r.status, r.text).toBe(200);
    const batch = await emu.call("GET", emu.staging("vid-basic"));
    expect(batch.json.batch).toMatchObject({ displayName: "Videos", batchType: "simple-batch", batchContentType: "videos" });
    const list = await emu.call("GET", `${emu.staging("vid-basic")}/list`);
    expect(list.json.filesMetadata).toHaveLength(1);
    expect(list.json.filesMetadata[0]).toMatchObject({ fileName: "clip.mp4", contentType: "video" });
    const dl = await request(list.json.filesMetadata[0].downloadURL);
    expect(dl.headers["content-type"]).toBe("video/mp4");
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(MP4)).toBe(true);
  });

  it("needs fileName, and a valid one", async () => {
    const missing = await emu.call("POST", `${emu.staging("vid-names")}/upload/video`);
    expect(missing.status).toBe(400);
    expect(missing.json.message).toMatch(/fileName/);
    const bad = await emu.call("POST", `${emu.staging("vid-names")}/upload/video?fileName=..%2Fx.mp4`);
    expect(bad.status).toBe(400);
  });

  it("refuses a PUT without the extension headers, or with other values, saying what was expected", async () => {
    const d = await videoSlot("vid-headers");
    const none = await put(d.uploadURL, MP4, {});
    expect(none.status).toBe(400);
    expect(none.json.message).toContain(`X-Goog-Content-Length-Range: "0,${d.maxFileSize}"`);
    expect(none.json.message).toContain('(got "(missing)")');
    const other = await put(d.uploadURL, MP4, { "X-Goog-Content-Length-Range": "0,1" });
    expect(other.status).toBe(400);
    expect(other.json.error.issues[0]).toMatchObject({ field: "X-Goog-Content-Length-Range", received: "0,1" });
    const empty = await put(d.uploadURL, Buffer.alloc(0), d.extensionHeaders);
    expect(empty.status).toBe(400);
    expect(empty.json.message).toMatch(/empty/);
    const ok = await put(d.uploadURL, MP4, d.extensionHeaders);
    expect(ok.status).toBe(200);
  });

  it("takes another PUT until it expires, like a cloud-storage URL: the second body replaces the first", async () => {
    const d = await videoSlot("vid-once");
    expect((await put(d.uploadURL, MP4, d.extensionHeaders)).status).toBe(200);
    const other = Buffer.concat([MP4.subarray(0, 12), Buffer.from("other bytes")]);
    const again = await put(d.uploadURL, other, d.extensionHeaders);
    expect(again.status, again.text).toBe(200);
    const list = await emu.call("GET", `${emu.staging("vid-once")}/list`);
    expect(list.json.filesMetadata).toHaveLength(1);
    const dl = await request(list.json.filesMetadata[0].downloadURL);
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(other)).toBe(true);
  });

  it("refuses tampered, missing and expired signatures with 403 (expiry on the emulator clock)", async () => {
    const d = await videoSlot("vid-sig");
    const u = new URL(d.uploadURL);
    const sig = u.searchParams.get("X-Emulator-Signature")!;
    const tampered = new URL(u);
    tampered.searchParams.set("X-Emulator-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    expect((await put(tampered.href, MP4, d.extensionHeaders)).status).toBe(403);
    const longer = new URL(u);
    longer.searchParams.set("X-Emulator-Expires", String(Number(u.searchParams.get("X-Emulator-Expires")) + 1000));
    expect((await put(longer.href, MP4, d.extensionHeaders)).status).toBe(403);
    const otherToken = new URL(u);
    otherToken.pathname = otherToken.pathname.replace(/.$/, (ch) => (ch === "0" ? "1" : "0"));
    expect((await put(otherToken.href, MP4, d.extensionHeaders)).status).toBe(403);
    const bare = await put(`${u.origin}${u.pathname}`, MP4, d.extensionHeaders);
    expect(bare.status).toBe(403);
    expect(bare.json.message).toMatch(/no signature/);

    const clock = emu.emulator.clock;
    clock.setMode("manual");
    try {
      clock.advance(24 * 3600 * 1000 + 1000);
      const expired = await put(d.uploadURL, MP4, d.extensionHeaders);
      expect(expired.status).toBe(403);
      expect(expired.json.message).toMatch(/expired/);
    } finally {
      clock.setMode("max");
    }
    const count = await emu.call("GET", `${emu.staging("vid-sig")}/count`);
    expect(count.json.count).toBe(0);
  });

  it("refuses bodies over the slot's limit with 413 (declared or streamed), keeps nothing, and the URL stays usable", async () => {
    const d = await videoSlot("vid-limit");
    // Shrink this slot's limit so the streaming counter can be exercised with a small body.
    emu.emulator.db.prepare("UPDATE upload_slots SET max_size = 1000 WHERE token = ?").run(tokenOf(d.uploadURL));
    const headers = { "X-Goog-Content-Length-Range": "0,1000" };
    const declared = await put(d.uploadURL, Buffer.alloc(1001, 1), headers);
    expect(declared.status).toBe(413);
    const chunked = await put(d.uploadURL, Readable.from([Buffer.alloc(600, 1), Buffer.alloc(600, 2)]), headers);
    expect(chunked.status).toBe(413);
    expect(chunked.json.message).toMatch(/nothing was stored/);
    expect((await emu.call("GET", `${emu.staging("vid-limit")}/count`)).json.count).toBe(0);
    const ok = await put(d.uploadURL, Readable.from([MP4.subarray(0, 500), MP4.subarray(500, 1000)]), headers);
    expect(ok.status).toBe(200);
    expect((await emu.call("GET", `${emu.staging("vid-limit")}/count`)).json.count).toBe(1);
  });

  it("re-uploading a video name replaces it; videos and images do not mix", async () => {
    for (const bytes of [MP4, Buffer.concat([MP4, Buffer.from("v2")])]) {
      const d = await videoSlot("vid-mix", "same.mp4");
      expect((await put(d.uploadURL, bytes, d.extensionHeaders)).status).toBe(200);
    }
    expect((await emu.call("GET", `${emu.staging("vid-mix")}/count`)).json.count).toBe(1);

    const { body, contentType } = multipart([{ field: "a.png", filename: "a.png", data: png(1) }]);
    const img = await emu.call("POST", `${emu.staging("vid-mix")}/upload/image?fileName=a.png`, { body, headers: { "content-type": contentType } });
    expect(img.status).toBe(409);
    const shard = await emu.call("POST", `${emu.staging("vid-mix")}/bulk-upload/image-files`);
    expect(shard.status).toBe(409);

    await emu.call("POST", `${emu.staging("vid-into-images")}/upload/image?fileName=a.png`, { body, headers: { "content-type": contentType } });
    const vid = await emu.call("POST", `${emu.staging("vid-into-images")}/upload/video?fileName=v.mp4`);
    expect(vid.status).toBe(409);
    expect(vid.json.message).toMatch(/simple-batch of images/);
  });

  it("answers 404 for a signed URL whose slot is gone", async () => {
    const d = await videoSlot("vid-gone");
    emu.emulator.db.prepare("DELETE FROM upload_slots WHERE token = ?").run(tokenOf(d.uploadURL));
    const r = await put(d.uploadURL, MP4, d.extensionHeaders);
    expect(r.status).toBe(404);
  });
});
