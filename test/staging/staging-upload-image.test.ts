// POST .../upload/image: multipart streaming, content checks, limits, batch rules, durability.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { bigPng, mp4, multipart, png } from "../helpers/fixtures.js";
import { insertBatch } from "../../src/state/batches.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

function upload(batchId: string, parts: Parameters<typeof multipart>[0], query = "", opts: { close?: boolean } = {}) {
  const { body, contentType } = multipart(parts, opts);
  return emu.call("POST", `${emu.staging(batchId)}/upload/image${query}`, { body, headers: { "content-type": contentType } });
}

async function listFiles(batchId: string) {
  const r = await emu.call("GET", `${emu.staging(batchId)}/list`);
  expect(r.status).toBe(200);
  return r.json.filesMetadata as { fileName: string; downloadURL: string; contentType: string; shardId: string | null }[];
}

async function count(batchId: string): Promise<number> {
  const r = await emu.call("GET", `${emu.staging(batchId)}/count`);
  return r.status === 404 ? -1 : r.json.count;
}

describe("upload/image", () => {
  it("stores an image the way the official client sends it, creating a simple-batch of images", async () => {
    const img = png(1);
    const r = await upload("img-basic", [{ field: "a.png", filename: "a.png", data: img }], "?fileName=a.png&displayName=My%20images");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: "ok" });
    const batch = await emu.call("GET", emu.staging("img-basic"));
    expect(batch.json.batch).toMatchObject({ batchId: "img-basic", displayName: "My images", batchType: "simple-batch", batchContentType: "images" });
    const files = await listFiles("img-basic");
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ fileName: "a.png", contentType: "image", shardId: null });
    const dl = await request(files[0].downloadURL);
    expect(dl.statusCode).toBe(200);
    expect(dl.headers["content-type"]).toBe("image/png");
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(img)).toBe(true);
  });

  it("accepts any field name, needs fileName (the part filename is not a fallback), defaults displayName to the batch id", async () => {
    const without = await upload("img-fallback", [{ field: "file", filename: "from-part.png", contentType: "image/png", data: png(2) }]);
    expect(without.status).toBe(400);
    expect(without.json.error.issues[0]).toMatchObject({ field: "fileName", received: "(missing)" });
    const r = await upload("img-fallback", [{ field: "file", filename: "from-part.png", contentType: "image/png", data: png(2) }], "?fileName=named.png");
    expect(r.status).toBe(200);
    const files = await listFiles("img-fallback");
    expect(files.map((f) => f.fileName)).toEqual(["named.png"]);
    const batch = await emu.call("GET", emu.staging("img-fallback"));
    expect(batch.json.batch.displayName).toBe("img-fallback");
  });

  it("re-uploading the same fileName replaces the file (count does not double); displayName only applies at creation", async () => {
    const first = await upload("img-replace", [{ field: "x", filename: "x.png", data: png(3) }], "?fileName=same.png&displayName=first");
    expect(first.status).toBe(200);
    const second = await upload("img-replace", [{ field: "x", filename: "x.png", data: png(4) }], "?fileName=same.png&displayName=second");
    expect(second.status).toBe(200);
    expect(await count("img-replace")).toBe(1);
    const files = await listFiles("img-replace");
    const dl = await request(files[0].downloadURL);
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(png(4))).toBe(true);
    const batch = await emu.call("GET", emu.staging("img-replace"));
    expect(batch.json.batch.displayName).toBe("first");
  });

  it("accepts JPEG, GIF, BMP, WEBP and TIFF by their bytes", async () => {
    const bmp = Buffer.alloc(64);
    bmp.write("BM", 0, "latin1");
    bmp.writeUInt32LE(40, 14);
    const samples: Record<string, Buffer> = {
      "a.jpg": Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]),
      "a.gif": Buffer.from("GIF89a\x01\x00\x01\x00", "latin1"),
      "a.bmp": bmp,
      "a.webp": Buffer.concat([Buffer.from("RIFF"), Buffer.from([0x1a, 0, 0, 0]), Buffer.from("WEBPVP8 ")]),
      "a.tif": Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]),
    };
    for (const [name, data] of Object.entries(samples)) {
      const r = await upload("img-formats", [{ field: name, filename: name, data }], `?fileName=${name}`);
      expect(r.status, name).toBe(200);
    }
    expect(await count("img-formats")).toBe(5);
  });

  it("refuses non-image content, naming what was detected, and stores nothing", async () => {
    const cases: [string, Buffer, RegExp][] = [
      ["doc.pdf", Buffer.from("%PDF-1.7\n..."), /PDF document/],
      ["notes.png", Buffer.from("just some text pretending to be a png"), /text data/],
      ["clip.mp4", mp4(0), /MP4 video/],
      ["empty.png", Buffer.alloc(0), /empty file/],
    ];
    for (const [name, data, detected] of cases) {
      const r = await upload("img-not-image", [{ field: name, filename: name, data }], `?fileName=${name}`);
      expect(r.status, name).toBe(400);
      expect(r.json.message).toMatch(detected);
      expect(r.json.message).toMatch(/JPEG, JPEG 2000, PNG, GIF, BMP\/DIB, WEBP or TIFF/);
    }
    expect(await count("img-not-image")).toBe(-1);
  });

  it("refuses bad file names with 400", async () => {
    for (const bad of ["../evil.png", "a/b.png", "a\\b.png", "tab\there.png", "x".repeat(256) + ".png", ".."]) {
      const r = await upload("img-names", [{ field: "f", filename: "f.png", data: png(5) }], `?fileName=${encodeURIComponent(bad)}`);
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.json.error.issues?.[0]?.field).toBe("fileName");
    }
    expect(await count("img-names")).toBe(-1);
  });

  it("answers clear 4xx for a missing body, a wrong content type, no file part, two file parts and a truncated body", async () => {
    const path = `${emu.staging("img-bad")}/upload/image?fileName=a.png`;
    const noBody = await emu.call("POST", path);
    expect(noBody.status).toBe(415);
    expect(noBody.json.message).toMatch(/multipart\/form-data/);

    const json = await emu.call("POST", path, { json: { file: "a.png" } });
    expect(json.status).toBe(415);
    expect(json.json.error.hint).toMatch(/curl -F/);

    const noBoundary = await emu.call("POST", path, { body: "x", headers: { "content-type": "multipart/form-data" } });
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.json.message).toMatch(/[Bb]oundary/);

    const onlyField = await upload("img-bad", [{ field: "file", data: "not a file" }], "?fileName=a.png");
    expect(onlyField.status).toBe(400);
    expect(onlyField.json.message).toMatch(/no file part.*"file"/);

    const empty = await upload("img-bad", [], "?fileName=a.png");
    expect(empty.status).toBe(400);

    const two = await upload(
      "img-bad",
      [
        { field: "a", filename: "a.png", data: png(6) },
        { field: "b", filename: "b.png", data: png(7) },
      ],
      "?fileName=a.png",
    );
    expect(two.status).toBe(400);
    expect(two.json.message).toMatch(/more than one file part/);

    const truncated = await upload("img-bad", [{ field: "a", filename: "a.png", data: png(8) }], "?fileName=a.png", { close: false });
    expect(truncated.status).toBe(400);
    expect(truncated.json.message).toMatch(/[Mm]alformed multipart|Unexpected end/);

    expect(await count("img-bad")).toBe(-1);
  });

  it("accepts an image of exactly 20,971,520 bytes and refuses one byte more with 413", async () => {
    const ok = await upload("img-limit", [{ field: "big", filename: "big.png", data: bigPng(20_971_520) }], "?fileName=big.png");
    expect(ok.status).toBe(200);
    const tooBig = await upload("img-limit", [{ field: "big", filename: "big2.png", data: bigPng(20_971_521) }], "?fileName=big2.png");
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.message).toMatch(/20971520 bytes/);
    const files = await listFiles("img-limit");
    expect(files.map((f) => f.fileName)).toEqual(["big.png"]);
  });

  it("keeps single-image and bulk batches apart, and refuses job output batches", async () => {
    const slot = await emu.call("POST", `${emu.staging("img-bulk")}/bulk-upload/image-files`);
    expect(slot.status).toBe(200);
    const mixed = await upload("img-bulk", [{ field: "a", filename: "a.png", data: png(9) }], "?fileName=a.png");
    expect(mixed.status).toBe(409);
    expect(mixed.json.message).toMatch(/sharded-batch/);

    const videoSlot = await emu.call("POST", `${emu.staging("img-videos")}/upload/video?fileName=v.mp4`);
    expect(videoSlot.status).toBe(200);
    const intoVideos = await upload("img-videos", [{ field: "a", filename: "a.png", data: png(10) }], "?fileName=a.png");
    expect(intoVideos.status).toBe(409);
    expect(intoVideos.json.message).toMatch(/videos/);

    const now = Date.now();
    insertBatch(emu.emulator.db, {
      workspace_id: emu.workspace,
      batch_id: "img-job-output",
      display_name: "out",
      batch_type: "multipart-batch",
      content_type: "mixed",
      origin: "job-output",
      created_at: now,
      expires_at: now + 1e9,
    });
    const intoOutput = await upload("img-job-output", [{ field: "a", filename: "a.png", data: png(11) }], "?fileName=a.png");
    expect(intoOutput.status).toBe(409);
    expect(intoOutput.json.message).toMatch(/output of a job/);
    expect(await count("img-job-output")).toBe(0);

    // And the other way round: bulk into a single-image batch.
    await upload("img-single", [{ field: "a", filename: "a.png", data: png(12) }], "?fileName=a.png");
    const bulkIntoSingle = await emu.call("POST", `${emu.staging("img-single")}/bulk-upload/image-files`);
    expect(bulkIntoSingle.status).toBe(409);
    expect(bulkIntoSingle.json.message).toMatch(/simple-batch of images/);
  });

  it("validates the batch id and needs an api key", async () => {
    const bad = await emu.call("POST", `${emu.staging("Bad.Id")}/upload/image?fileName=a.png`, {
      body: "x",
      headers: { "content-type": "multipart/form-data; boundary=x" },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues[0].field).toBe("batchId");
    const noKey = await emu.call("POST", `${emu.staging("img-key")}/upload/image?fileName=a.png`, { apiKey: null });
    expect(noKey.status).toBe(401);
  });

  it("is listed in the OpenAPI document with its multipart body", async () => {
    const r = await emu.call("GET", "/openapi.json", { apiKey: null });
    const op = r.json.paths["/data-staging/v1/external/{workspace}/batches/{batchId}/upload/image"].post;
    expect(op.requestBody.content["multipart/form-data"].schema.properties.file.format).toBe("binary");
  });
});
