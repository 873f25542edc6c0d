// A 415 says which content type the endpoint wants: the multipart upload names multipart/form-data,
// a JSON endpoint sent text/plain (or no Content-Type) says "send Content-Type: application/json".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

describe("415 names the content type the endpoint wants", () => {
  it("upload/image sent as JSON: expected multipart/form-data", async () => {
    const r = await emu.call("POST", `${emu.staging("mt-image")}/upload/image?fileName=a.png`, { json: { a: 1 } });
    expect(r.status).toBe(415);
    expect(r.json.error.type).toBe("unsupported-media-type");
    expect(r.json.message).toMatch(/expected a multipart\/form-data body/i);
    expect(r.json.message).toContain('"application/json"');
  });

  for (const [what, path] of [
    ["image-references", "/bulk-upload/image-references"],
    ["video-references", "/bulk-upload/video-references"],
    ["roboql-ingest", "/roboql-ingest"],
  ] as const) {
    it(`${what} sent as text/plain, or without a Content-Type: send Content-Type: application/json`, async () => {
      const text = await emu.call("POST", `${emu.staging("mt-json")}${path}`, { body: '{"imageReferences": []}', headers: { "content-type": "text/plain" } });
      expect(text.status).toBe(415);
      expect(text.json.error.type).toBe("unsupported-media-type");
      expect(text.json.message).toContain("send Content-Type: application/json");
      expect(text.json.message).toContain('"text/plain"');
      const none = await emu.call("POST", `${emu.staging("mt-json")}${path}`, { body: "{}" });
      expect(none.status).toBe(415);
      expect(none.json.message).toContain("send Content-Type: application/json");
      expect(none.json.message).toMatch(/no Content-Type/i);
    });
  }

  it("a job start sent as text/plain says the same (every JSON endpoint goes through one answer)", async () => {
    const r = await emu.call("POST", emu.jobs("mt-job"), { body: "{}", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(415);
    expect(r.json.message).toContain("send Content-Type: application/json");
  });
});
