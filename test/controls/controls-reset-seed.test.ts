// Reset (all, one workspace), seeds (workspaces, keys, batches with inline and generated files),
// snapshot export/import round trip — all over HTTP.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { request } from "undici";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
const ctl = (method: string, p: string, json?: unknown) => emu.call(method, `/_emulator${p}`, { apiKey: null, json });

beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

function blobCount(): number {
  const walk = (d: string): number => fs.readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? walk(path.join(d, e.name)) : 1), 0);
  return walk(emu.emulator.blobs.root);
}

async function seedTwoWorkspaces() {
  const r = await ctl("POST", "/seed", {
    workspaces: [{ id: "team-b", apiKeys: ["key-b"] }],
    batches: [
      {
        batchId: "photos",
        displayName: "Photos",
        files: [
          { name: "pixel.png", base64: PIXEL_PNG },
          { name: "notes.txt", text: "hello" },
        ],
      },
      { batchId: "generated", images: { count: 5, width: 8, height: 6 } },
      { workspace: "team-b", batchId: "theirs", images: { count: 2 } },
      { batchId: "multi", parts: [{ name: "predictions", contentType: "metadata" }], files: [{ name: "a.jsonl", text: "{}\n", partName: "predictions" }] },
    ],
  });
  expect(r.status, r.text).toBe(200);
  return r.json;
}

describe("seed", () => {
  it("creates workspaces, keys, batches with inline and generated files that list and download", async () => {
    const summary = await seedTwoWorkspaces();
    expect(summary).toMatchObject({ workspaces: 1, batches: 4, files: 10, jobs: 0 });

    const count = await emu.call("GET", emu.staging("generated") + "/count");
    expect(count.json.count).toBe(5);
    const batch = await emu.call("GET", emu.staging("photos"));
    expect(batch.json.batch).toMatchObject({ batchId: "photos", displayName: "Photos", batchType: "simple-batch", batchContentType: "mixed" });

    const list = await emu.call("GET", emu.staging("photos") + "/list");
    const pixel = list.json.filesMetadata.find((f: any) => f.fileName === "pixel.png");
    expect(pixel.contentType).toBe("image");
    const dl = await request(pixel.downloadURL);
    expect(dl.statusCode).toBe(200);
    expect(dl.headers["content-type"]).toBe("image/png");
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(Buffer.from(PIXEL_PNG, "base64"))).toBe(true);

    // Generated images are real, distinct PNGs.
    const gen = await emu.call("GET", emu.staging("generated") + "/list");
    const bodies = await Promise.all(gen.json.filesMetadata.map(async (f: any) => Buffer.from(await (await request(f.downloadURL)).body.arrayBuffer())));
    for (const b of bodies) expect(b.subarray(1, 4).toString()).toBe("PNG");
    expect(new Set(bodies.map((b) => crypto.createHash("sha256").update(b).digest("hex"))).size).toBe(5);

    // The seeded key works for its own workspace only.
    const theirs = await emu.call("GET", "/data-staging/v1/external/team-b/batches/theirs/count", { apiKey: "key-b" });
    expect(theirs.json.count).toBe(2);
    const parts = await emu.call("GET", emu.staging("multi") + "/parts");
    expect(parts.json.batchParts).toEqual([expect.objectContaining({ partName: "predictions", contentType: "metadata" })]);
    const multi = await emu.call("GET", emu.staging("multi"));
    expect(multi.json.batch.batchType).toBe("multipart-batch");
  });

  it("rejects a bad seed with a readable 400 (did-you-mean on misspelt keys) and changes nothing", async () => {
    const before = (await ctl("GET", "/overview")).json.workspaces;
    const r = await ctl("POST", "/seed", { batches: [{ batchId: "x", files: [{ name: "a.png", base64: PIXEL_PNG }] }], workspace: [] });
    expect(r.status).toBe(400);
    expect(r.json.error.issues[0]).toMatchObject({ field: "workspace", didYouMean: "workspaces" });
    const missingWs = await ctl("POST", "/seed", { batches: [{ workspace: "nobody", batchId: "x", images: { count: 1 } }] });
    expect(missingWs.status).toBe(400);
    expect(missingWs.json.message).toMatch(/nobody/);
    expect((await ctl("GET", "/overview")).json.workspaces).toEqual(before);
  });
});

describe("reset", () => {
  it("one workspace: deletes its batches and blobs, keeps the workspace, its keys and other workspaces", async () => {
    await emu.controls.reset();
    await seedTwoWorkspaces();
    const blobsBefore = blobCount();
    const r = await ctl("POST", "/reset", { workspace: "team-b" });
    expect(r.status, r.text).toBe(200);
    expect(r.json.deletedRows.batches).toBe(1);
    expect(r.json.blobsRemoved).toBe(2);
    // Blob files of deleted rows are unlinked in the background, off the request path.
    await waitFor(() => blobCount() === blobsBefore - 2, 5000, "blobs of team-b to be unlinked");
    const theirs = await emu.call("GET", "/data-staging/v1/external/team-b/batches", { apiKey: "key-b" });
    expect(theirs.status).toBe(200);
    expect(theirs.json.batches).toEqual([]);
    const mine = await emu.call("GET", emu.staging());
    expect(mine.json.batches.map((b: any) => b.batchId).sort()).toEqual(["generated", "multi", "photos"]);
  });

  it("everything: deletes all rows and blobs, keeps the default workspace and key, and is fast", async () => {
    await seedTwoWorkspaces();
    await emu.call("GET", emu.staging());
    const r = await ctl("POST", "/reset");
    expect(r.status, r.text).toBe(200);
    expect(r.json.workspace).toBeNull();
    expect(blobCount()).toBe(0);
    const mine = await emu.call("GET", emu.staging());
    expect(mine.status).toBe(200);
    expect(mine.json.batches).toEqual([]);
    expect((await emu.call("GET", "/data-staging/v1/external/team-b/batches", { apiKey: "key-b" })).status).toBe(401);
    // The journal restarted too: only the two calls made since are in it.
    const journal = await emu.controls.journal();
    expect(journal.entries.map((e: any) => e.status)).toEqual([200, 401]);

    // Cost of a reset before every test: seed a little, reset, many times.
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      await emu.controls.seed({ batches: [{ batchId: `b${i}`, images: { count: 3, width: 4, height: 4 } }] });
      const t0 = performance.now();
      const rr = await ctl("POST", "/reset");
      times.push(performance.now() - t0);
      expect(rr.status).toBe(200);
    }
    times.sort((a, b) => a - b);
    console.log(`[measure] reset over HTTP (file-backed store, 3 files each): median ${times[10].toFixed(1)} ms, max ${times[19].toFixed(1)} ms`);
    expect(times[10]).toBeLessThan(250);
  });

  it("answers 404 for an unknown workspace and 400 for a misspelt key", async () => {
    expect((await ctl("POST", "/reset", { workspace: "nobody" })).status).toBe(404);
    const bad = await ctl("POST", "/reset", { workspce: "x" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues[0].didYouMean).toBe("workspace");
  });
});

describe("snapshot", () => {
  it("exports rows and blobs and imports them back into a changed world", async () => {
    await emu.controls.reset();
    await seedTwoWorkspaces();
    const snap = await ctl("GET", "/snapshot");
    expect(snap.status).toBe(200);
    expect(snap.json.format).toBe("roboflow-batch-emulator-snapshot");
    expect(snap.json.tables.batches).toHaveLength(4);
    expect(Object.keys(snap.json.blobs)).toHaveLength(10);

    const listBefore = (await emu.call("GET", emu.staging("photos") + "/list")).json.filesMetadata.map((f: any) => f.fileName);
    await emu.controls.reset();
    await emu.controls.seed({ batches: [{ batchId: "unrelated", images: { count: 1 } }] });

    const imp = await ctl("POST", "/snapshot", snap.json);
    expect(imp.status, imp.text).toBe(200);
    expect(imp.json.blobs).toBe(10);
    const batches = (await emu.call("GET", emu.staging())).json.batches.map((b: any) => b.batchId).sort();
    expect(batches).toEqual(["generated", "multi", "photos"]);
    const list = (await emu.call("GET", emu.staging("photos") + "/list")).json.filesMetadata;
    expect(list.map((f: any) => f.fileName)).toEqual(listBefore);
    const dl = await request(list.find((f: any) => f.fileName === "pixel.png").downloadURL);
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(Buffer.from(PIXEL_PNG, "base64"))).toBe(true);
    expect((await emu.call("GET", "/data-staging/v1/external/team-b/batches/theirs/count", { apiKey: "key-b" })).json.count).toBe(2);
    // Export → import → export is stable.
    const again = await ctl("GET", "/snapshot");
    expect(again.json.tables).toEqual(snap.json.tables);
    expect(again.json.blobs).toEqual(snap.json.blobs);
  });

  it("refuses a snapshot whose blob paths escape the blob folder", async () => {
    const snap = await emu.controls.snapshot();
    const evil = { ...snap, blobs: { "../../evil.txt": Buffer.from("x").toString("base64") } };
    const r = await ctl("POST", "/snapshot", evil);
    expect(r.status).toBe(400);
    expect(fs.existsSync(path.join(emu.emulator.blobs.root, "../../evil.txt"))).toBe(false);
  });
});

describe("start-up seed file", () => {
  it("is applied at start (--seed) and again by reset {reseed: true}", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-seed-"));
    const seedFile = path.join(dir, "seed.json");
    fs.writeFileSync(
      seedFile,
      JSON.stringify({ workspaces: [{ id: "ci", apiKeys: ["ci-key"] }], batches: [{ workspace: "ci", batchId: "inputs", images: { count: 4 } }] }),
    );
    const e = await startTestEmulator({ seedFile });
    try {
      const count = () => e.call("GET", "/data-staging/v1/external/ci/batches/inputs/count", { apiKey: "ci-key" });
      expect((await count()).json.count).toBe(4);
      await e.call("POST", "/_emulator/reset", { apiKey: null, json: {} });
      expect((await count()).status).toBe(401);
      expect((await e.call("POST", "/_emulator/reset", { apiKey: null, json: { reseed: true } })).status).toBe(200);
      expect((await count()).json.count).toBe(4);
    } finally {
      await e.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
