// Group commit of uploads (src/state/group-commit.ts): concurrent single-image uploads and signed
// PUTs are made durable together (one fsync round, one transaction per group), each answered once
// its group is durable; one item failing in a group (a 409) leaves the others committed.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readResponse, startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";
import { openStore, type OpenedStore } from "../../src/state/db.js";
import { getFileByName, insertBatch, upsertFile } from "../../src/state/batches.js";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const stats = () => emu.emulator.blobs.groupStats();

async function listed(batchId: string): Promise<Map<string, string>> {
  const r = await emu.call("GET", `${emu.staging(batchId)}/list?pageSize=1000`);
  expect(r.status, r.text).toBe(200);
  const out = new Map<string, string>();
  for (const f of r.json.filesMetadata as { fileName: string; downloadURL: string }[]) {
    const res = await request(f.downloadURL);
    out.set(f.fileName, sha(Buffer.from(await res.body.arrayBuffer())));
  }
  return out;
}

/** An upload whose body is held back after its first bytes until `release()`. */
function heldUpload(batchId: string, fileName: string, data: Buffer) {
  const m = multipart([{ field: fileName, filename: fileName, contentType: "image/png", data }]);
  const body = new Readable({ read() {} });
  body.push(m.body.subarray(0, 40));
  const url = `${emu.url}${emu.staging(batchId)}/upload/image?fileName=${fileName}&api_key=${emu.apiKey}`;
  const answer = request(url, { method: "POST", body, headers: { "content-type": m.contentType, "content-length": String(m.body.length) } }).then(readResponse);
  return {
    answer,
    release: () => {
      body.push(m.body.subarray(40));
      body.push(null);
    },
  };
}

describe("group commit over HTTP", () => {
  it("50 concurrent uploads are all acknowledged and all listed with their exact bytes, in fewer groups than uploads", async () => {
    const before = stats();
    const images = Array.from({ length: 50 }, (_, i) => ({ name: `c-${String(i).padStart(2, "0")}.png`, data: png(1000 + i) }));
    const held = images.map((img) => heldUpload("gc-50", img.name, img.data));
    await new Promise((r) => setTimeout(r, 100));
    for (const h of held) h.release();
    const answers = await Promise.all(held.map((h) => h.answer));
    for (const a of answers) expect(a.status, a.text).toBe(200);
    const files = await listed("gc-50");
    expect(files.size).toBe(50);
    for (const img of images) expect(files.get(img.name), img.name).toBe(sha(img.data));
    const after = stats();
    expect(after.items - before.items).toBe(50);
    expect(after.groups - before.groups, JSON.stringify(after)).toBeLessThan(50);
    expect(after.largestGroup).toBeGreaterThan(1);
  });

  it("an upload that fails in its group (409: the batch became a video batch meanwhile) does not fail the others", async () => {
    const before = stats();
    const doomed = heldUpload("gc-kind", "doomed.png", png(7));
    const others = Array.from({ length: 20 }, (_, i) => ({ name: `o-${i}.png`, data: png(2000 + i) }));
    const held = others.map((o) => heldUpload("gc-others", o.name, o.data));
    await new Promise((r) => setTimeout(r, 100));
    // The batch kind is checked before the body is read (it did not exist then) and again at the commit.
    const slot = await emu.call("POST", `${emu.staging("gc-kind")}/upload/video?fileName=clip.mp4`);
    expect(slot.status, slot.text).toBe(200);
    doomed.release();
    for (const h of held) h.release();
    const [refused, ...answers] = await Promise.all([doomed.answer, ...held.map((h) => h.answer)]);
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json.message).toMatch(/gc-kind/);
    for (const a of answers) expect(a.status, a.text).toBe(200);
    const files = await listed("gc-others");
    expect(files.size).toBe(20);
    for (const o of others) expect(files.get(o.name)).toBe(sha(o.data));
    expect((await emu.call("GET", `${emu.staging("gc-kind")}/count`)).json.count).toBe(0);
    expect(stats().failedItems - before.failedItems).toBe(1);
  });
});

describe("GroupCommitter on a real store", () => {
  let dir: string;
  let store: OpenedStore;
  const WS = "ws";
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-group-commit-"));
    store = openStore(dir);
    store.db.prepare("INSERT INTO workspaces (id, created_at) VALUES (?, ?)").run(WS, 0);
    insertBatch(store.db, {
      workspace_id: WS,
      batch_id: "b",
      display_name: "b",
      batch_type: "simple-batch",
      content_type: "images",
      origin: "user",
      created_at: 0,
    });
  });
  afterAll(() => {
    store?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const commitFile = (name: string, data: Buffer, fail = false) => {
    const t = store.blobs.writeTemp(data, "test");
    const done = store.blobs.commitGrouped(store.db, t.tmp, "files", (blob) => {
      upsertFile(store.db, {
        workspace_id: WS,
        batch_id: "b",
        part_name: "",
        file_name: name,
        content_type: "image",
        nested_content_type: null,
        shard_id: null,
        blob,
        size: t.size,
        sha256: t.sha256,
        media_type: "image/png",
        created_at: 0,
      });
      if (fail) throw new Error(`refused ${name}`);
      return blob;
    });
    return done.finally(() => store.blobs.discard(t.tmp));
  };

  it("commits items queued together in one group; the throwing item's rows and blob are undone, the others stay", async () => {
    const before = store.blobs.groupStats();
    const results = await Promise.allSettled([commitFile("a.png", png(1)), commitFile("bad.png", png(2), true), commitFile("c.png", png(3))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/refused bad\.png/);
    const after = store.blobs.groupStats();
    expect(after.groups - before.groups).toBe(1);
    expect(after.partialGroups - before.partialGroups).toBe(1);
    expect(getFileByName(store.db, WS, "b", "", "bad.png")).toBeUndefined();
    for (const [name, seed] of [
      ["a.png", 1],
      ["c.png", 3],
    ] as const) {
      const row = getFileByName(store.db, WS, "b", "", name)!;
      expect(store.blobs.read(row.blob).equals(png(seed))).toBe(true);
    }
    // Only the two committed blobs are in the tree: the refused one was removed.
    const rows = new Set((store.db.prepare("SELECT blob FROM files").all() as { blob: string }[]).map((r) => r.blob));
    expect([...store.blobs.list()].sort()).toEqual([...rows].sort());
  });

  it("a blob tree swapped away (reset) while a group syncs: the files are linked again, so every row names a complete file", async () => {
    // The swap must land between the link into the tree and the rows; retried if the timing is missed.
    for (let attempt = 0; attempt < 10 && store.blobs.groupStats().treeSwaps === 0; attempt++) {
      store.db.prepare("DELETE FROM files").run();
      store.blobs.discardAll();
      const pending = [commitFile(`s-${attempt}-1.png`, png(10 + attempt)), commitFile(`s-${attempt}-2.png`, png(20 + attempt))];
      const swap = new Promise<void>((resolve) => {
        const poll = () => (store.blobs.list().next().done ? setImmediate(poll) : (store.blobs.discardAll(), resolve()));
        poll();
      });
      await Promise.all([...pending, swap]);
    }
    expect(store.blobs.groupStats().treeSwaps).toBeGreaterThan(0);
    const rows = store.db.prepare("SELECT blob, sha256 FROM files").all() as { blob: string; sha256: string }[];
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(sha(store.blobs.read(row.blob))).toBe(row.sha256);
    }
  });
});
