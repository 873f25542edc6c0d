// Batches expire at their expiryDate on the emulator clock: from then on an uploaded batch or a job's
// output batch is not listed, read, counted, downloaded (even through a URL handed out before) nor
// used as job input, each refusal a 404 that says when it expired; the sweep removes its blobs from
// the data folder; an upload to the expired id starts a new batch; fresh batches are untouched.
// The retention is shortened to one hour (--batch-retention-ms) and time is moved by hand.
import fs from "node:fs";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig, ConfigError } from "../../src/config.js";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { imageJob, stagesOf, uploadImage } from "../helpers/jobs.js";
import { png, tar } from "../helpers/fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

beforeAll(async () => {
  emu = await startTestEmulator({ batchRetentionMs: HOUR });
  expect((await ctl("POST", "/clock", { mode: "manual" })).status).toBe(200);
});
afterAll(async () => emu?.close());

async function now(): Promise<number> {
  return Date.parse((await emu.controls.clock.get()).now);
}

async function advance(ms: number) {
  const r = await ctl("POST", "/clock/advance", { ms });
  expect(r.status, r.text).toBe(200);
  return r.json;
}

/** Moves the clock to `at` (epoch ms on the emulator clock). */
async function advanceTo(at: number) {
  return advance(Math.max(0, at - (await now())));
}

/** Every blob file in the data folder, relative to the blob root. */
function blobsOnDisk(): Set<string> {
  const root = path.join(emu.dataDir, "blobs");
  return new Set(
    fs
      .readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(root, path.join(e.parentPath, e.name))),
  );
}

/** What a step adds to the data folder. */
async function blobsAddedBy(step: () => Promise<void>): Promise<string[]> {
  const before = blobsOnDisk();
  await step();
  return [...blobsOnDisk()].filter((b) => !before.has(b));
}

const exists = (rel: string) => fs.existsSync(path.join(emu.dataDir, "blobs", rel));

async function upload(batchId: string, name: string, seed: number) {
  const r = await uploadImage(emu, batchId, name, png(seed));
  expect(r.status, r.text).toBe(200);
}

async function get(url: string) {
  const res = await request(url);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, bytes, json: res.statusCode === 200 ? undefined : JSON.parse(bytes.toString("utf8")) };
}

async function batch(batchId: string) {
  const r = await emu.call("GET", emu.staging(batchId));
  expect(r.status, r.text).toBe(200);
  return r.json.batch;
}

async function listedBatchIds(pageSize = 1000): Promise<string[]> {
  const ids: string[] = [];
  let token: string | null = null;
  do {
    const r = await emu.call("GET", `${emu.staging()}?pageSize=${pageSize}${token ? `&nextPageToken=${encodeURIComponent(token)}` : ""}`);
    expect(r.status, r.text).toBe(200);
    ids.push(...r.json.batches.map((b: any) => b.batchId));
    token = r.json.nextPageToken;
  } while (token);
  return ids;
}

/** The expired answer: 404, the emulator's error block, `message` naming the batch and when it expired. */
function expectExpired(r: { status: number; json: any }, batchId: string, expiryDate: string) {
  expect(r.status, JSON.stringify(r.json)).toBe(404);
  expect(r.json.error).toMatchObject({ status: 404, type: "batch-expired" });
  expect(r.json.message).toContain(`"${batchId}"`);
  expect(r.json.message).toContain(`expired at ${expiryDate}`);
}

/** Every read path of a batch by id. */
const READS = ["", "/count", "/list", "/parts", "/shards"];

describe("retention setting", () => {
  it("is 7 days by default and set by --batch-retention-ms / EMULATOR_BATCH_RETENTION_MS", async () => {
    expect(resolveConfig({}).batchRetentionMs).toBe(7 * DAY);
    expect(resolveConfig({ EMULATOR_BATCH_RETENTION_MS: "60000" }).batchRetentionMs).toBe(60_000);
    expect(resolveConfig({ EMULATOR_BATCH_RETENTION_MS: "60000" }, ["--batch-retention-ms", "5000"]).batchRetentionMs).toBe(5000);
    for (const bad of ["0", "-1", "1.5", "7d", String(200 * 365 * DAY)]) expect(() => resolveConfig({ EMULATOR_BATCH_RETENTION_MS: bad })).toThrow(ConfigError);

    const plain = await startTestEmulator();
    try {
      const r = await uploadImage(plain, "default-retention", "a.png", png(1));
      expect(r.status, r.text).toBe(200);
      const b = (await plain.call("GET", plain.staging("default-retention"))).json.batch;
      expect(Date.parse(b.expiryDate) - Date.parse(b.createdDate)).toBe(7 * DAY);
    } finally {
      await plain.close();
    }
  });
});

describe("an expired batch", () => {
  it("is refused by every read path, its URLs and job starts, and its blobs leave the data folder; a fresh batch is untouched", async () => {
    const t0 = await now();
    const oldBlobs = await blobsAddedBy(async () => {
      await upload("old", "a.png", 1);
      await upload("old", "b.png", 2);
      // A sharded batch too: its shards listing is one of the read paths.
      const slot = await emu.call("POST", `${emu.staging("old-shards")}/bulk-upload/image-files`);
      expect(slot.status, slot.text).toBe(200);
      const d = slot.json.signedURLDetails;
      const put = await request(d.uploadURL, {
        method: "PUT",
        body: tar([
          { name: "s1.png", data: png(3) },
          { name: "s2.png", data: png(4) },
        ]),
        headers: d.extensionHeaders,
      });
      expect(put.statusCode, await put.body.text()).toBe(200);
      // A RoboQL ingest (de-duplicated by its data while the batch lives).
      const rq = await emu.call("POST", `${emu.staging("old-rq")}/roboql-ingest`, { json: { query: "project:cats" } });
      expect(rq.json.duplicated, rq.text).toBe(false);
      await advance(5000); // indexed
    });
    expect(oldBlobs.length).toBeGreaterThanOrEqual(4);
    expect((await emu.call("GET", `${emu.staging("old-shards")}/count`)).json.count).toBe(2);

    const old = await batch("old");
    expect(Date.parse(old.expiryDate) - Date.parse(old.createdDate)).toBe(HOUR);
    const shardsBatch = await batch("old-shards");

    await advanceTo(t0 + 30 * 60_000);
    const freshBlobs = await blobsAddedBy(() => upload("fresh", "f.png", 5));
    expect(freshBlobs).toHaveLength(1);

    // Download URLs handed out before the expiry (valid for an hour of emulator time).
    await advanceTo(t0 + 45 * 60_000);
    const oldUrl = (await emu.call("GET", `${emu.staging("old")}/list`)).json.filesMetadata[0].downloadURL;
    const shardUrl = (await emu.call("GET", `${emu.staging("old-shards")}/list`)).json.filesMetadata[0].downloadURL;
    expect((await get(oldUrl)).status).toBe(200);
    const lateSlot = (await emu.call("POST", `${emu.staging("old-shards")}/bulk-upload/image-files`)).json.signedURLDetails;
    expect((await emu.call("POST", `${emu.staging("old-rq")}/roboql-ingest`, { json: { query: "project:cats" } })).json.duplicated).toBe(true);

    // One millisecond before the expiry everything still answers; at expiryDate it does not.
    await advanceTo(Date.parse(old.expiryDate) - 1);
    expect((await emu.call("GET", `${emu.staging("old")}/count`)).json.count).toBe(2);
    await advance(1);

    for (const [id, b] of [
      ["old", old],
      ["old-shards", shardsBatch],
    ] as const) {
      for (const read of READS) expectExpired(await emu.call("GET", `${emu.staging(id)}${read}`), id, b.expiryDate);
    }
    expectExpired(await get(oldUrl), "old", old.expiryDate);
    expectExpired(await get(shardUrl), "old-shards", shardsBatch.expiryDate);
    const ids = await listedBatchIds();
    expect(ids).not.toContain("old");
    expect(ids).not.toContain("old-shards");
    expect(ids).toContain("fresh");
    expect(await listedBatchIds(1)).toEqual(ids);

    // An upload URL handed out before the expiry (valid for a day) no longer takes a body.
    const latePut = await request(lateSlot.uploadURL, { method: "PUT", body: tar([{ name: "late.png", data: png(6) }]), headers: lateSlot.extensionHeaders });
    expect(latePut.statusCode).toBe(404);
    expect(((await latePut.body.json()) as any).message).toMatch(/no longer exists .*batch expired/);
    // The same ingest again is a new ingest into a new batch, not a duplicate of the expired one.
    const rqAgain = await emu.call("POST", `${emu.staging("old-rq")}/roboql-ingest`, { json: { query: "project:cats" } });
    expect(rqAgain.json.duplicated, rqAgain.text).toBe(false);

    const job = await emu.call("POST", emu.jobs("on-expired"), { json: imageJob(emu.workspace, "old") });
    expectExpired(job, "old", old.expiryDate);
    expect(job.json.message).toMatch(/^Input batch "old"/);
    expect((await emu.call("GET", emu.jobs("on-expired"))).status).toBe(404);

    // The advance returned only once the sweep was done: the files are gone from disk.
    for (const rel of oldBlobs) expect(exists(rel), rel).toBe(false);
    for (const rel of freshBlobs) expect(exists(rel), rel).toBe(true);

    // The fresh batch answers as before.
    expect((await emu.call("GET", `${emu.staging("fresh")}/count`)).json.count).toBe(1);
    const fresh = await get((await emu.call("GET", `${emu.staging("fresh")}/list`)).json.filesMetadata[0].downloadURL);
    expect(fresh.status).toBe(200);
    expect(fresh.bytes.equals(png(5))).toBe(true);

    // Days later: still expired (the sweep keeps a tombstone that says when), and the fresh batch has expired in its turn.
    const freshMeta = await batch("fresh");
    await advance(8 * DAY);
    expectExpired(await emu.call("GET", emu.staging("old")), "old", old.expiryDate);
    expectExpired(await emu.call("POST", emu.jobs("on-expired"), { json: imageJob(emu.workspace, "old") }), "old", old.expiryDate);
    expectExpired(await emu.call("GET", `${emu.staging("fresh")}/count`), "fresh", freshMeta.expiryDate);
    for (const rel of freshBlobs) expect(exists(rel), rel).toBe(false);
  });

  it("an upload to an expired batch id starts a new, empty batch of any kind", async () => {
    const before = await now();
    await upload("old", "new.png", 10);
    const b = await batch("old");
    expect(Date.parse(b.createdDate)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(b.expiryDate) - Date.parse(b.createdDate)).toBe(HOUR);
    const files = (await emu.call("GET", `${emu.staging("old")}/list`)).json.filesMetadata;
    expect(files.map((f: any) => f.fileName)).toEqual(["new.png"]);
    expect((await get(files[0].downloadURL)).bytes.equals(png(10))).toBe(true);
    expect(await listedBatchIds()).toContain("old");

    // "old-shards" was a sharded batch; single images may now go there (a new simple batch).
    await upload("old-shards", "single.png", 11);
    expect(await batch("old-shards")).toMatchObject({ batchType: "simple-batch", batchContentType: "images" });
    expect((await emu.call("GET", `${emu.staging("old-shards")}/shards`)).json.shards).toEqual([]);
  });
});

describe("job output batches", () => {
  it("expire too: metadata, parts, count, list and export URLs answer the expired 404, their blobs are removed, the stages still name them", async () => {
    await upload("job-in", "j1.png", 20);
    await upload("job-in", "j2.png", 21);
    const outputBlobs = await blobsAddedBy(async () => {
      const r = await emu.call("POST", emu.jobs("exp-job"), { json: imageJob(emu.workspace, "job-in") });
      expect(r.status, r.text).toBe(200);
      expect((await emu.controls.clock.runUntilIdle()).idle).toBe(true);
    });
    expect(outputBlobs.length).toBeGreaterThanOrEqual(2);
    const outputs: string[] = (await stagesOf(emu, "exp-job")).flatMap((s) => s.outputBatches);
    expect(outputs).toEqual(["exp-job-processing", "exp-job-export"]);
    const meta = await Promise.all(outputs.map((id) => batch(id)));
    const lastExpiry = Math.max(...meta.map((m) => Date.parse(m.expiryDate)));

    await advanceTo(lastExpiry - 60_000);
    const exportUrl = (await emu.call("GET", `${emu.staging("exp-job-export")}/list?partName=archives`)).json.filesMetadata[0].downloadURL;
    expect((await get(exportUrl)).status).toBe(200);
    await advanceTo(lastExpiry);

    for (const [i, id] of outputs.entries()) {
      for (const read of READS) expectExpired(await emu.call("GET", `${emu.staging(id)}${read}`), id, meta[i].expiryDate);
    }
    expectExpired(await get(exportUrl), "exp-job-export", meta[1].expiryDate);
    expect(await listedBatchIds()).not.toContain("exp-job-export");
    for (const rel of outputBlobs) expect(exists(rel), rel).toBe(false);
    expect((await stagesOf(emu, "exp-job")).flatMap((s) => s.outputBatches)).toEqual(outputs);
    // A succeeded job is not restarted anyway; an aborted one whose input expired is refused below.
  });

  it("a job whose input expired cannot be restarted", async () => {
    await upload("abort-in", "x.png", 30);
    const input = await batch("abort-in");
    expect((await emu.call("POST", emu.jobs("abort-job"), { json: imageJob(emu.workspace, "abort-in") })).status).toBe(200);
    expect((await emu.call("POST", `${emu.jobs("abort-job")}/abort`)).status).toBe(200);
    await advanceTo(Date.parse(input.expiryDate));
    const r = await emu.call("POST", `${emu.jobs("abort-job")}/restart`);
    expect(r.status, r.text).toBe(409);
    expect(r.json.error.type).toBe("batch-expired");
    expect(r.json.message).toContain(`input batch "abort-in" expired at ${input.expiryDate}`);
  });

  it("a batch an unfinished job still reads is refused to readers but kept until the job ends, then swept", async () => {
    const inputBlobs = await blobsAddedBy(async () => {
      await upload("held", "h1.png", 40);
      await upload("held", "h2.png", 41);
    });
    const held = await batch("held");
    // A job whose processing stage takes two hours of emulator time: it outlives its input's hour.
    const started = await ctl("POST", `/jobs/${emu.workspace}/held-job`, {
      definition: imageJob(emu.workspace, "held"),
      script: { stageDurationsMs: { processing: 2 * HOUR } },
    });
    expect(started.status, started.text).toBe(201);
    await advanceTo(Date.parse(held.expiryDate) + 60_000);
    expect((await emu.call("GET", emu.jobs("held-job"))).json.job.isTerminal).toBe(false);
    expectExpired(await emu.call("GET", `${emu.staging("held")}/count`), "held", held.expiryDate);
    for (const rel of inputBlobs) expect(exists(rel), rel).toBe(true);
    // The id cannot be taken by a new batch while the job uses the old one.
    const up = await uploadImage(emu, "held", "again.png", png(42));
    expect(up.status, up.text).toBe(409);
    expect(JSON.parse(up.text)).toMatchObject({ error: { type: "batch-expired" } });
    expect(JSON.parse(up.text).message).toContain('job "held-job" still uses it');

    expect((await emu.controls.clock.runUntilIdle()).idle).toBe(true);
    const job = (await emu.call("GET", emu.jobs("held-job"))).json.job;
    expect({ isTerminal: job.isTerminal, error: job.error }).toEqual({ isTerminal: true, error: false });
    for (const rel of inputBlobs) expect(exists(rel), rel).toBe(false);
    await upload("held", "again.png", 42);
    expect((await emu.call("GET", `${emu.staging("held")}/count`)).json.count).toBe(1);
  });
});
