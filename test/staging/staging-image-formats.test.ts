// Every image type the official client selects (inference_cli/lib/utils.py IMAGES_EXTENSIONS: bmp, dib,
// jpeg, jpg, jpe, jp2, png, webp) is accepted, decided from the bytes: JPEG 2000 as a JP2 file and as a
// raw codestream, a DIB with and without the "BM" file header, WebP, JPEG under .jpe, and TIFF. Through
// upload/image, through a tar shard, and through the official client's create-batch-of-images.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { dib, j2k, jp2, jpeg, multipart, png, tar as tarOf, tiff, webp } from "../helpers/fixtures.js";
import { allPages, download, imageJob, parseJsonl, waitForJob } from "../helpers/jobs.js";
import { assertRealClientAvailable, expectClientOk, runClient } from "../helpers/real-client.js";

let emu: TestEmulator;
let root: string;
beforeAll(async () => {
  emu = await startTestEmulator();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-formats-"));
});
afterAll(async () => {
  await emu?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

/** [file name, bytes, media type served on download] */
const FORMATS: [string, Buffer, string][] = [
  ["box.jp2", jp2(1), "image/jp2"],
  ["codestream.jp2", j2k(2), "image/j2c"],
  ["UPPER.JP2", jp2(3), "image/jp2"],
  ["plain.dib", dib(4), "image/bmp"],
  ["with-header.dib", dib(5, true), "image/bmp"],
  ["pic.bmp", dib(6, true), "image/bmp"],
  ["pic.webp", webp(), "image/webp"],
  ["pic.jpe", jpeg(), "image/jpeg"],
  ["pic.tif", tiff(7), "image/tiff"],
];

async function files(batchId: string) {
  const r = await emu.call("GET", `${emu.staging(batchId)}/list?pageSize=100`);
  expect(r.status, r.text).toBe(200);
  return r.json.filesMetadata as { fileName: string; downloadURL: string }[];
}

async function expectStored(batchId: string) {
  const listed = await files(batchId);
  expect(listed.map((f) => f.fileName).sort()).toEqual(FORMATS.map(([n]) => n).sort());
  for (const [name, data, mediaType] of FORMATS) {
    const dl = await request(listed.find((f) => f.fileName === name)!.downloadURL);
    expect(dl.headers["content-type"], name).toBe(mediaType);
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(data), name).toBe(true);
  }
}

describe("image formats of the official client's extension list", () => {
  it("upload/image accepts each of them", async () => {
    for (const [name, data] of FORMATS) {
      const m = multipart([{ field: name, filename: name, data }]);
      const r = await emu.call("POST", `${emu.staging("fmt-single")}/upload/image?fileName=${encodeURIComponent(name)}`, {
        body: m.body,
        headers: { "content-type": m.contentType },
      });
      expect(r.status, `${name}: ${r.text}`).toBe(200);
    }
    await expectStored("fmt-single");
  });

  it("a tar shard ingests each of them, with no failed file", async () => {
    const slot = await emu.call("POST", `${emu.staging("fmt-shard")}/bulk-upload/image-files`);
    const d = slot.json.signedURLDetails;
    const put = await request(d.uploadURL, { method: "PUT", body: tarOf(FORMATS.map(([name, data]) => ({ name, data }))), headers: d.extensionHeaders });
    expect(put.statusCode, await put.body.text()).toBe(200);
    const shard = await waitFor(
      async () => {
        const s = (await emu.call("GET", `${emu.staging("fmt-shard")}/shards`)).json.shards?.[0];
        return s && s.statusType !== "info" ? s : undefined;
      },
      15_000,
      "the shard indexed",
    );
    expect(shard.statusMetadata.failedFiles).toEqual([]);
    expect(shard).toMatchObject({ statusName: "ingested", shardObjectsCount: FORMATS.length });
    await expectStored("fmt-shard");
  });

  it("a job over them processes every one (no unsupported-format record)", async () => {
    const started = await emu.call("POST", emu.jobs("fmt-job"), { json: imageJob(emu.workspace, "fmt-single") });
    expect(started.status, started.text).toBe(200);
    const job = await waitForJob(emu, "fmt-job", 30_000);
    expect(job.error, JSON.stringify(job)).toBe(false);
    const results = await allPages(emu, `${emu.staging("fmt-job-processing")}/list?partName=results`, "filesMetadata");
    const records = (await Promise.all(results.map(async (f: { downloadURL: string }) => parseJsonl((await download(f.downloadURL)).toString("utf8"))))).flat();
    expect(records.map((r) => r.image_name).sort()).toEqual(FORMATS.map(([n]) => n).sort());
    for (const r of records) expect(r.error, `${r.image_name}: ${JSON.stringify(r.error)}`).toBeUndefined();
  });

  it("look-alikes are still refused: a text file starting with 40, a RIFF that is not WebP, a truncated JP2 signature", async () => {
    const cases: [string, Buffer][] = [
      ["fake.dib", Buffer.concat([Buffer.from([40, 0, 0, 0]), Buffer.from("not really a bitmap info header at all........")])],
      ["fake.webp", Buffer.concat([Buffer.from("RIFF"), Buffer.alloc(4), Buffer.from("WAVEfmt ")])],
      ["fake.jp2", Buffer.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0, 0, 0, 0])],
    ];
    for (const [name, data] of cases) {
      const m = multipart([{ field: name, filename: name, data }]);
      const r = await emu.call("POST", `${emu.staging("fmt-fake")}/upload/image?fileName=${name}`, {
        body: m.body,
        headers: { "content-type": m.contentType },
      });
      expect(r.status, name).toBe(400);
      expect(r.json.error.type).toBe("unsupported-file-type");
    }
  });
});

describe("the official client's create-batch-of-images on folders with every selected extension", () => {
  beforeAll(() => assertRealClientAvailable());

  const folder = (name: string, pngs: number) => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    for (const [file, data] of FORMATS) fs.writeFileSync(path.join(dir, file), data);
    for (let i = 0; i < pngs; i++) fs.writeFileSync(path.join(dir, `img-${i}.png`), png(i));
    return dir;
  };
  const ds = async (...args: string[]) =>
    expectClientOk(await runClient(emu.url, ["data-staging", ...args, "--api-key", emu.apiKey, "--debug-mode"], { cwd: root }));
  const count = async (batchId: string) => (await emu.call("GET", `${emu.staging(batchId)}/count`)).json.count as number;

  it("a small folder (one upload/image per file) including .jp2: every file the client selects is stored", async () => {
    // The client selects by extension: .tif is not in its list, so it is not sent.
    const dir = folder("small", 2);
    await ds("create-batch-of-images", "--images-dir", dir, "--batch-id", "fmt-client-small");
    const selected = FORMATS.filter(([n]) => !n.endsWith(".tif")).length + 2;
    expect(await count("fmt-client-small")).toBe(selected);
  }, 60_000);

  it("a folder large enough for tar shards, including .jp2: every file the client selects is indexed", async () => {
    const dir = folder("large", 30);
    await ds("create-batch-of-images", "--images-dir", dir, "--batch-id", "fmt-client-large");
    const selected = FORMATS.filter(([n]) => !n.endsWith(".tif")).length + 30;
    await waitFor(async () => ((await count("fmt-client-large")) === selected ? true : undefined), 20_000, `${selected} files indexed`);
    const shards = (await emu.call("GET", `${emu.staging("fmt-client-large")}/shards`)).json.shards as { statusMetadata: { failedFilesCount: number } }[];
    expect(shards.every((s) => s.statusMetadata.failedFilesCount === 0)).toBe(true);
  }, 60_000);
});
