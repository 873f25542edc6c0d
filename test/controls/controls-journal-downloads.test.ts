// A download is in the journal by the time its client has the last byte: a test that downloads a
// file and then reads the journal (or verifies it) must always find the entry, complete. The entry
// used to be written when the server ended the response, which for a file streamed from disk can
// come after one more read of the file on the thread pool, so the client could ask first.
import crypto from "node:crypto";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
const ROUNDS = 40;
// Several read chunks of the file stream, so the end of the body is its own read.
const BIG = crypto.randomBytes(3 * 64 * 1024 + 123);

beforeAll(async () => {
  emu = await startTestEmulator();
  await emu.controls.seed({ batches: [{ batchId: "big", files: [{ name: "big.bin", base64: BIG.toString("base64") }] }] });
});
afterAll(async () => emu?.close());

const DOWNLOAD_OP = "GET /_signed/files/{generation}/{workspace}/{batchId}/{seq}/{fileName}";

describe("journal entries of downloads", () => {
  it(`are there, complete, as soon as the client has read the body (${ROUNDS} rounds)`, async () => {
    const list = await emu.call("GET", `${emu.staging("big")}/list`);
    expect(list.status, list.text).toBe(200);
    const url = list.json.filesMetadata[0].downloadURL as string;
    const sha = crypto.createHash("sha256").update(BIG).digest("hex");
    const missing: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      await emu.controls.clearJournal();
      const res = await request(url);
      const body = Buffer.from(await res.body.arrayBuffer());
      expect(body.equals(BIG)).toBe(true);
      const { entries } = await emu.controls.journal({ operation: DOWNLOAD_OP });
      if (entries.length !== 1) {
        missing.push(i);
        continue;
      }
      expect(entries[0]).toMatchObject({ status: 200, responseBody: { kind: "binary", size: BIG.length, sha256: sha, complete: true } });
    }
    expect(missing, `rounds whose download was not journaled yet when the client asked: ${missing.join(", ")}`).toEqual([]);
  });
});
