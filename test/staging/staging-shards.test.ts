// bulk-upload/image-files: tar shards PUT to a signed URL, indexed in the background on the
// emulator clock; hostile members refused per file; corrupt archives; notifications from
// notification_config.json; shard pagination; indexing that survives a restart.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import * as tar from "tar";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import {
  bigPng,
  multipart,
  notificationConfig,
  paxFor,
  png,
  startLoopbackServer,
  tar as tarOf,
  type LoopbackServer,
  type TarMember,
} from "../helpers/fixtures.js";
import { INDEXING_DELAY_MS } from "../../src/staging/ingest/worker.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
let hooks: LoopbackServer;
beforeAll(async () => {
  emu = await startTestEmulator();
  hooks = await startLoopbackServer();
});
afterAll(async () => {
  await emu?.close();
  await hooks?.close();
});

type Shard = { shardId: string; statusName: string; statusType: string; eventTimestamp: string; shardObjectsCount: number; statusMetadata: any };

async function uploadShard(e: TestEmulator, batchId: string, archive: Buffer, query = ""): Promise<string> {
  const slot = await e.call("POST", `${e.staging(batchId)}/bulk-upload/image-files${query}`);
  expect(slot.status, slot.text).toBe(200);
  const d = slot.json.signedURLDetails;
  const res = await request(d.uploadURL, { method: "PUT", body: archive, headers: d.extensionHeaders });
  const text = await res.body.text();
  expect(res.statusCode, text).toBe(200);
  return d.shardId;
}

async function allShards(e: TestEmulator, batchId: string, pageSize?: number): Promise<Shard[]> {
  const out: Shard[] = [];
  let token: string | null = null;
  do {
    const q = new URLSearchParams();
    if (pageSize) q.set("pageSize", String(pageSize));
    if (token) q.set("nextPageToken", token);
    const r = await e.call("GET", `${e.staging(batchId)}/shards?${q}`);
    expect(r.status, r.text).toBe(200);
    out.push(...r.json.shards);
    token = r.json.nextPageToken;
  } while (token);
  return out;
}

async function finishedShard(e: TestEmulator, batchId: string, shardId: string): Promise<Shard> {
  const done = await waitFor(
    async () => {
      const s = (await allShards(e, batchId)).find((x) => x.shardId === shardId);
      return s && s.statusType !== "info" ? s : undefined;
    },
    15_000,
    `shard ${shardId} to finish`,
  );
  return done!;
}

async function count(e: TestEmulator, batchId: string): Promise<number> {
  return (await e.call("GET", `${e.staging(batchId)}/count`)).json.count;
}

/** A tar written by node-tar from real files on disk, like any user's archiver would produce. */
function realTar(names: string[], seed = 0, extra: Record<string, Buffer> = {}): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-shard-src-"));
  try {
    names.forEach((n, i) => fs.writeFileSync(path.join(dir, n), png(seed + i)));
    for (const [n, data] of Object.entries(extra)) fs.writeFileSync(path.join(dir, n), data);
    const out = path.join(dir, "shard.tar");
    tar.c({ cwd: dir, file: out, sync: true, portable: true }, [...names, ...Object.keys(extra)]);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("bulk-upload/image-files", () => {
  it("hands out a signed shard URL with the documented limits", async () => {
    const r = await emu.call("POST", `${emu.staging("shard-slot")}/bulk-upload/image-files?displayName=Bulk`);
    expect(r.status).toBe(200);
    const d = r.json.signedURLDetails;
    expect(d.shardId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(d).toMatchObject({ method: "PUT", maxNumberOfImages: 500 });
    expect(d.extensionHeaders).toEqual({ "X-Goog-Content-Length-Range": `0,${d.maxShardSize}` });
    expect(d.maxShardSize).toBeGreaterThanOrEqual(500 * 20_971_520);
    const batch = await emu.call("GET", emu.staging("shard-slot"));
    expect(batch.json.batch).toMatchObject({ displayName: "Bulk", batchType: "sharded-batch", batchContentType: "images" });
  });

  it("indexes a shard in the background: the count rises only after the indexing delay on the emulator clock", async () => {
    const clock = emu.emulator.clock;
    clock.setMode("manual");
    try {
      const names = Array.from({ length: 40 }, (_, i) => `img-${String(i).padStart(3, "0")}.png`);
      const shardId = await uploadShard(emu, "shard-basic", realTar(names));
      const before = (await allShards(emu, "shard-basic")).find((s) => s.shardId === shardId)!;
      expect(before).toMatchObject({ statusName: "uploaded", statusType: "info", shardObjectsCount: 0 });
      expect(before.eventTimestamp).toMatch(/Z$/);
      expect(await count(emu, "shard-basic")).toBe(0);
      clock.advance(INDEXING_DELAY_MS - 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(await count(emu, "shard-basic")).toBe(0);
      clock.advance(1);
      const done = await finishedShard(emu, "shard-basic", shardId);
      expect(done).toMatchObject({ statusName: "ingested", statusType: "success", shardObjectsCount: 40 });
      expect(done.statusMetadata).toMatchObject({ ingestedFiles: 40, failedFilesCount: 0 });
      expect(await count(emu, "shard-basic")).toBe(40);
    } finally {
      clock.setMode("max");
    }
    const list = await emu.call("GET", `${emu.staging("shard-basic")}/list?pageSize=5`);
    expect(list.json.filesMetadata).toHaveLength(5);
    expect(list.json.filesMetadata[0]).toMatchObject({ contentType: "image", shardId: expect.any(String) });
    const dl = await request(list.json.filesMetadata[0].downloadURL);
    const name = list.json.filesMetadata[0].fileName as string;
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(png(Number(name.slice(4, 7))))).toBe(true);
  });

  it("refuses hostile and unusable members one by one, ingests the rest, and writes nothing outside the data folder", async () => {
    // A dedicated emulator whose data folder sits alone in a sandbox, so "nothing outside" can be checked exactly.
    const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-sandbox-"));
    const e = await startTestEmulator({ dataDir: path.join(sandbox, "data") });
    try {
      await hostileCase(e, sandbox);
    } finally {
      await e.close();
      fs.rmSync(sandbox, { recursive: true, force: true });
    }
  });

  async function hostileCase(emu: TestEmulator, sandbox: string) {
    const archive = tarOf([
      { name: "good-1.png", data: png(100) },
      { name: "../evil.png", data: png(101) },
      { name: "/etc/abs.png", data: png(102) },
      { name: "nested/../../up.png", data: png(103) },
      { name: "link.png", type: "2", linkName: "/etc/passwd" },
      { name: "hard.png", type: "1", linkName: "good-1.png" },
      { name: "tty.png", type: "3" },
      { name: "disk.png", type: "4" },
      { name: "pipe.png", type: "6" },
      { name: "bell\u0007.png", data: png(104) },
      { name: "notes.txt", data: Buffer.from("hello, not an image") },
      { name: "dir/", type: "5" },
      { name: "dir/good-2.png", data: png(105) },
      { name: "huge.png", data: bigPng(20_971_521) },
      { name: "edge.png", data: bigPng(20_971_520) },
      { name: "other/good-1.png", data: png(106) },
    ]);
    const shardId = await uploadShard(emu, "shard-hostile", archive);
    const done = await finishedShard(emu, "shard-hostile", shardId);
    expect(done).toMatchObject({ statusName: "ingested-with-failures", statusType: "success", shardObjectsCount: 3 });
    const failed = done.statusMetadata.failedFiles as { type: string; file_name: string; reason: string }[];
    const byName = Object.fromEntries(failed.map((f) => [f.file_name, f]));
    expect(byName["../evil.png"].type).toBe("unsafe-archive-member");
    expect(byName["/etc/abs.png"].type).toBe("unsafe-archive-member");
    expect(byName["nested/../../up.png"].type).toBe("unsafe-archive-member");
    expect(byName["link.png"].reason).toMatch(/symbolic links/);
    expect(byName["hard.png"].reason).toMatch(/hard links/);
    expect(byName["tty.png"].reason).toMatch(/character devices/);
    expect(byName["disk.png"].reason).toMatch(/block devices/);
    expect(byName["pipe.png"].reason).toMatch(/FIFO/);
    expect(byName["bell\u0007.png"].reason).toMatch(/control characters/);
    expect(byName["notes.txt"]).toMatchObject({ type: "invalid-file-type" });
    expect(byName["notes.txt"].reason).toMatch(/text data/);
    expect(byName["huge.png"]).toEqual({ type: "file-size-limit-exceeded", file_name: "huge.png", reason: "Max size of single image is 20971520B." });
    expect(byName["other/good-1.png"].type).toBe("duplicated-file-name");
    expect(done.statusMetadata.failedFilesCount).toBe(failed.length);

    const list = await emu.call("GET", `${emu.staging("shard-hostile")}/list`);
    expect(list.json.filesMetadata.map((f: any) => f.fileName).sort()).toEqual(["edge.png", "good-1.png", "good-2.png"]);
    expect(fs.readdirSync(sandbox)).toEqual(["data"]);
    const written = (fs.readdirSync(sandbox, { recursive: true }) as string[]).map((p) => path.basename(p));
    for (const name of ["evil.png", "abs.png", "up.png", "link.png", "tty.png", "pipe.png", "notes.txt"]) expect(written).not.toContain(name);
    expect(fs.existsSync("/etc/abs.png")).toBe(false);
  }

  it("ends a corrupt or truncated archive in an error status, ingesting nothing", async () => {
    const garbage = await uploadShard(emu, "shard-corrupt", Buffer.from("this is not a tar archive at all".repeat(40)));
    const g = await finishedShard(emu, "shard-corrupt", garbage);
    expect(g).toMatchObject({ statusName: "corrupted-archive", statusType: "error", shardObjectsCount: 0 });
    expect(g.statusMetadata.errorDetails.reason).toMatch(/not a readable tar archive/);

    const whole = tarOf([
      { name: "a.png", data: png(1) },
      { name: "b.png", data: bigPng(4096) },
    ]);
    const cut = await uploadShard(emu, "shard-corrupt", whole.subarray(0, 512 + 512 + 512 + 100));
    expect((await finishedShard(emu, "shard-corrupt", cut)).statusType).toBe("error");

    const badSum = Buffer.from(tarOf([{ name: "a.png", data: png(1) }]));
    badSum[0] ^= 0xff;
    const cks = await uploadShard(emu, "shard-corrupt", badSum);
    expect((await finishedShard(emu, "shard-corrupt", cks)).statusType).toBe("error");

    const empty = await uploadShard(emu, "shard-corrupt", Buffer.alloc(1024));
    expect((await finishedShard(emu, "shard-corrupt", empty)).statusType).toBe("error");
    expect(await count(emu, "shard-corrupt")).toBe(0);
  });

  it("takes PAX long names, refuses compressed shards, ingests at most 500 images per shard", async () => {
    const longName = `${"d".repeat(120)}/${"n".repeat(150)}.png`;
    const pax = await uploadShard(emu, "shard-pax", tarOf([paxFor(longName), { name: "placeholder", data: png(7) }]));
    const p = await finishedShard(emu, "shard-pax", pax);
    expect(p.shardObjectsCount).toBe(1);
    const files = (await emu.call("GET", `${emu.staging("shard-pax")}/list`)).json.filesMetadata;
    expect(files[0].fileName).toBe(`${"n".repeat(150)}.png`);

    const gz = await uploadShard(emu, "shard-gz", zlib.gzipSync(tarOf([{ name: "zipped.png", data: png(8) }])));
    const g = await finishedShard(emu, "shard-gz", gz);
    expect(g.statusType).toMatch(/error/);
    expect(JSON.stringify(g.statusMetadata)).toMatch(/gzip-compressed; upload an uncompressed \.tar/);
    expect(await count(emu, "shard-gz")).toBe(0);

    const many: TarMember[] = Array.from({ length: 503 }, (_, i) => ({ name: `m-${i}.png`, data: png(1000 + i) }));
    const big = await uploadShard(emu, "shard-many", tarOf(many));
    const b = await finishedShard(emu, "shard-many", big);
    expect(b).toMatchObject({ statusName: "ingested-with-failures", shardObjectsCount: 500 });
    expect(b.statusMetadata.failedFiles.map((f: any) => f.type)).toEqual(["too-many-files", "too-many-files", "too-many-files"]);
    expect(await count(emu, "shard-many")).toBe(500);
  });

  it("sends ingest-status and files-status webhooks configured by notification_config.json", async () => {
    const before = hooks.requests.length;
    const archive = tarOf([
      { name: "n-1.png", data: png(201) },
      { name: "n-2.png", data: png(202) },
      { name: "bad.txt", data: Buffer.from("nope") },
      notificationConfig("ingest-abc", `${hooks.url}/hook`, { notificationCategories: ["ingest-status", "files-status"] }),
    ]);
    const shardId = await uploadShard(emu, "shard-notify", archive);
    await finishedShard(emu, "shard-notify", shardId);
    const got = (await waitFor(() => (hooks.requests.length >= before + 2 ? hooks.requests.slice(before) : undefined), 10_000, "two webhooks"))!;
    for (const r of got) {
      expect(r.headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
      expect(r.json).toMatchObject({
        type: "roboflow-data-staging-notification-v1",
        ingest_id: "ingest-abc",
        batch_id: "shard-notify",
        shard_id: shardId,
        delivery_attempt: 1,
      });
      expect(r.json.event_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const files = got.find((r) => r.json.notification.type === "ingest-files-status-notification-v1")!.json.notification;
    expect(files).toMatchObject({ success: false, content_truncated: false });
    expect(files.ingested_files.sort()).toEqual(["n-1.png", "n-2.png"]);
    expect(files.failed_files).toEqual([{ type: "invalid-file-type", file_name: "bad.txt", reason: expect.stringMatching(/Not an image/) }]);
    const status = got.find((r) => r.json.notification.type === "ingest-status-notification-v1")!.json.notification;
    expect(status).toMatchObject({ success: false, error_details: { type: "invalid-file-type" } });
    // notification_config.json is configuration, not a file.
    expect(await count(emu, "shard-notify")).toBe(2);
  });

  it("sends only ingest-status by default, with success true when everything went in", async () => {
    const before = hooks.requests.length;
    const shardId = await uploadShard(
      emu,
      "shard-notify-default",
      tarOf([{ name: "ok.png", data: png(300) }, notificationConfig("ing-2", `${hooks.url}/hook2`)]),
    );
    await finishedShard(emu, "shard-notify-default", shardId);
    const got = (await waitFor(() => (hooks.requests.length > before ? hooks.requests.slice(before) : undefined), 10_000, "webhook"))!;
    await new Promise((r) => setTimeout(r, 100));
    expect(hooks.requests.length - before).toBe(1);
    expect(got[0].url).toBe("/hook2");
    expect(got[0].json.notification).toEqual({ type: "ingest-status-notification-v1", success: true });
  });

  it("pages through shards with nextPageToken", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await uploadShard(emu, "shard-pages", tarOf([{ name: `p${i}.png`, data: png(400 + i) }])));
    const first = await emu.call("GET", `${emu.staging("shard-pages")}/shards?pageSize=2`);
    expect(first.json.shards.map((s: Shard) => s.shardId)).toEqual(ids.slice(0, 2));
    expect(typeof first.json.nextPageToken).toBe("string");
    const second = await emu.call("GET", `${emu.staging("shard-pages")}/shards?pageSize=2&nextPageToken=${encodeURIComponent(first.json.nextPageToken)}`);
    expect(second.json.shards.map((s: Shard) => s.shardId)).toEqual(ids.slice(2));
    expect(second.json.nextPageToken).toBeNull();
  });

  it("a shard URL takes another PUT (the last body is indexed) and a shard PUT needs its headers", async () => {
    const slot = await emu.call("POST", `${emu.staging("shard-once")}/bulk-upload/image-files`);
    const d = slot.json.signedURLDetails;
    const noHeaders = await request(d.uploadURL, { method: "PUT", body: tarOf([{ name: "a.png", data: png(1) }]) });
    expect(noHeaders.statusCode).toBe(400);
    await noHeaders.body.text();
    const ok = await request(d.uploadURL, { method: "PUT", body: tarOf([{ name: "a.png", data: png(1) }]), headers: d.extensionHeaders });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    const again = await request(d.uploadURL, { method: "PUT", body: tarOf([{ name: "b.png", data: png(2) }]), headers: d.extensionHeaders });
    expect(again.statusCode).toBe(200);
    await again.body.text();
    await waitFor(
      async () => {
        const names = (await emu.call("GET", `${emu.staging("shard-once")}/list`)).json.filesMetadata.map((f: { fileName: string }) => f.fileName);
        return names.join() === "b.png" ? names : undefined;
      },
      15_000,
      "only b.png listed",
    );
    expect(await finishedShard(emu, "shard-once", d.shardId)).toMatchObject({ statusName: "ingested", shardObjectsCount: 1 });
    expect(await count(emu, "shard-once")).toBe(1);
  });
});

describe("restart", () => {
  it("keeps staged data, and indexes a shard that was uploaded but not indexed before the restart", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-restart-"));
    try {
      const first = await startTestEmulator({ dataDir, timeScale: 1 });
      first.emulator.clock.setMode("manual");
      const m = multipart([{ field: "a.png", filename: "a.png", data: png(9) }]);
      const img = await first.call("POST", `${first.staging("restart-simple")}/upload/image?fileName=a.png`, {
        body: m.body,
        headers: { "content-type": m.contentType },
      });
      expect(img.status).toBe(200);
      const shardId = await uploadShard(
        first,
        "restart-bulk",
        tarOf([
          { name: "r1.png", data: png(10) },
          { name: "r2.png", data: png(11) },
        ]),
      );
      expect(await count(first, "restart-bulk")).toBe(0);
      await first.close();

      const second = await startTestEmulator({ dataDir });
      try {
        expect(await count(second, "restart-simple")).toBe(1);
        const done = await finishedShard(second, "restart-bulk", shardId);
        expect(done).toMatchObject({ statusName: "ingested", shardObjectsCount: 2 });
        expect(await count(second, "restart-bulk")).toBe(2);
        // The indexed tar itself is not kept; only the files are.
        const uploads = path.join(dataDir, "blobs", "uploads");
        const left = fs.existsSync(uploads)
          ? fs.readdirSync(uploads, { recursive: true }).filter((p) => fs.statSync(path.join(uploads, String(p))).isFile())
          : [];
        expect(left).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
