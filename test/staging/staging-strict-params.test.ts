// Strict where the reference is strict (seed 001): upload/image's `fileName` is a required query
// parameter, and upload/video's `fileName` names a video file. The official client always sends
// both (the file's basename; videos selected by its VIDEOS_EXTENSIONS), so refusing what it never
// sends costs it nothing and tells a hand-written client what the real service requires.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

/** The official client's VIDEOS_EXTENSIONS (inference_cli/lib/utils.py), lower case. */
const CLIENT_VIDEO_EXTENSIONS = ["mp4", "m4a", "m4p", "m4b", "m4r", "m4v", "avi", "mov", "mkv", "flv", "wmv", "mpeg", "mpg", "3gp", "webm", "ogg"];

const uploadImage = (batchId: string, query: string, filename?: string) => {
  const m = multipart([{ field: "file", filename, data: png(1) }]);
  return emu.call("POST", `${emu.staging(batchId)}/upload/image${query}`, { body: m.body, headers: { "content-type": m.contentType } });
};

describe("upload/image: fileName is required (reference: required query parameter)", () => {
  it("without fileName → 400 naming the parameter, even when the part has a filename; nothing is stored", async () => {
    const r = await uploadImage("strict-img", "", "from-part.png");
    expect(r.status, r.text).toBe(400);
    expect(r.json.message).toMatch(/fileName/);
    expect(r.json.message).toMatch(/required/);
    expect(r.json.error.issues[0]).toMatchObject({ field: "fileName", received: "(missing)" });
    expect((await emu.call("GET", `${emu.staging("strict-img")}/count`)).status).toBe(404);
  });

  it("an empty fileName → 400", async () => {
    const r = await uploadImage("strict-img", "?fileName=", "a.png");
    expect(r.status, r.text).toBe(400);
    expect(r.json.error.issues[0].field).toBe("fileName");
  });

  it("with fileName (as the official client sends it) → 200, stored under that name whatever the part is called", async () => {
    const r = await uploadImage("strict-img-ok", "?fileName=chosen.png", "part-name.png");
    expect(r.status, r.text).toBe(200);
    const list = await emu.call("GET", `${emu.staging("strict-img-ok")}/list`);
    expect(list.json.filesMetadata.map((f: { fileName: string }) => f.fileName)).toEqual(["chosen.png"]);
  });
});

describe("upload/video: fileName must name a video file", () => {
  it("a non-video or extension-less name → 400 saying which extensions are taken; no batch is created", async () => {
    for (const name of ["notes.txt", "photo.png", "clip", "archive.tar", "clip.mp4.exe"]) {
      const r = await emu.call("POST", `${emu.staging("strict-vid")}/upload/video?fileName=${encodeURIComponent(name)}`);
      expect(r.status, `${name}: ${r.text}`).toBe(400);
      expect(r.json.message).toContain(JSON.stringify(name));
      expect(r.json.message).toMatch(/mp4/);
      expect(r.json.error.issues[0]).toMatchObject({ field: "fileName", received: name });
    }
    expect((await emu.call("GET", emu.staging("strict-vid"))).status).toBe(404);
  });

  it("every extension the official client selects is taken, in either case", async () => {
    for (const ext of CLIENT_VIDEO_EXTENSIONS) {
      for (const name of [`clip.${ext}`, `CLIP.${ext.toUpperCase()}`]) {
        const r = await emu.call("POST", `${emu.staging("strict-vid-ok")}/upload/video?fileName=${encodeURIComponent(name)}`);
        expect(r.status, `${name}: ${r.text}`).toBe(200);
      }
    }
    // The URL works as before.
    const r = await emu.call("POST", `${emu.staging("strict-vid-ok")}/upload/video?fileName=final.mov`);
    const d = r.json.signedURLDetails;
    const put = await request(d.uploadURL, {
      method: "PUT",
      body: Buffer.concat([Buffer.from([0, 0, 0, 0x14]), Buffer.from("ftypqt  "), Buffer.alloc(64, 1)]),
      headers: d.extensionHeaders,
    });
    expect(put.statusCode).toBe(200);
    await put.body.text();
  });
});
