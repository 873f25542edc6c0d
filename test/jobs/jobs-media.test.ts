// What the simulated Workflow accepts as an image or a video: real headers decode (with their
// dimensions), truncated or broken ones fail with a reason, and predictions depend only on the hash.
import { describe, expect, it } from "vitest";
import { inspectImage, inspectVideo, predictionsFor, type FileBytes } from "../../src/simulator/job-media.js";
import { mp4, png } from "../helpers/fixtures.js";

const bytesOf = (b: Buffer): FileBytes => ({ head: b.subarray(0, 65536), tail: b.subarray(Math.max(0, b.length - 32)), size: b.length });

function jpeg(width: number, height: number, withEoi = true): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  const sos = Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, 0x12, 0x34]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, sos, withEoi ? Buffer.from([0xff, 0xd9]) : Buffer.alloc(0)]);
}

describe("inspectImage", () => {
  it("reads the dimensions of real PNG, JPEG, GIF and BMP headers", () => {
    expect(inspectImage(bytesOf(png(1, 12)))).toEqual({ ok: true, format: "png", width: 12, height: 12 });
    expect(inspectImage(bytesOf(jpeg(640, 480)))).toEqual({ ok: true, format: "jpeg", width: 640, height: 480 });
    const gif = Buffer.concat([Buffer.from("GIF89a"), Buffer.from([0x20, 0x00, 0x10, 0x00]), Buffer.alloc(10), Buffer.from([0x3b])]);
    expect(inspectImage(bytesOf(gif))).toEqual({ ok: true, format: "gif", width: 32, height: 16 });
    const bmp = Buffer.alloc(60);
    bmp.write("BM", 0, "ascii");
    bmp.writeUInt32LE(60, 2);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(7, 18);
    bmp.writeInt32LE(-5, 22);
    expect(inspectImage(bytesOf(bmp))).toEqual({ ok: true, format: "bmp", width: 7, height: 5 });
  });

  it("fails truncated and broken images with a reason, and non-images as unsupported", () => {
    const truncated = inspectImage(bytesOf(png(1, 12).subarray(0, 40)));
    expect(truncated).toMatchObject({ ok: false, reason: "corrupted-image" });
    const badCrc = png(1, 12);
    badCrc[20] ^= 0xff;
    expect(inspectImage(bytesOf(badCrc))).toMatchObject({ ok: false, reason: "corrupted-image", message: expect.stringContaining("CRC") });
    expect(inspectImage(bytesOf(jpeg(10, 10, false)))).toMatchObject({
      ok: false,
      reason: "corrupted-image",
      message: expect.stringContaining("end-of-image"),
    });
    expect(inspectImage(bytesOf(Buffer.from("hello, I am text")))).toMatchObject({
      ok: false,
      reason: "unsupported-format",
      message: expect.stringContaining("text"),
    });
    expect(inspectImage(bytesOf(Buffer.alloc(0)))).toMatchObject({ ok: false, reason: "empty-file" });
  });
});

describe("inspectVideo and predictions", () => {
  it("accepts container magic and refuses other bytes", () => {
    expect(inspectVideo(bytesOf(mp4(1)))).toMatchObject({ ok: true, format: "mp4" });
    expect(inspectVideo(bytesOf(png(1)))).toMatchObject({ ok: false, reason: "unsupported-format" });
  });

  it("derives predictions from the hash alone, inside the image", () => {
    const a = predictionsFor("ab".repeat(32), 640, 480);
    expect(predictionsFor("ab".repeat(32), 640, 480)).toEqual(a);
    const many = Array.from({ length: 50 }, (_, i) => predictionsFor(i.toString(16).padStart(64, "0"), 640, 480)).flat();
    expect(many.length).toBeGreaterThan(20);
    for (const p of many) {
      expect(p.x - p.width / 2).toBeGreaterThanOrEqual(-0.1);
      expect(p.x + p.width / 2).toBeLessThanOrEqual(640.1);
      expect(p.y + p.height / 2).toBeLessThanOrEqual(480.1);
      expect(p.confidence).toBeGreaterThanOrEqual(0.3);
      expect(p.confidence).toBeLessThan(1);
    }
    expect(predictionsFor("cd".repeat(32), 640, 480)).not.toEqual(a);
  });
});
