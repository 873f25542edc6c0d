// Signed upload URLs behave like the cloud-storage URLs the real service hands out: a PUT can be
// repeated until the URL expires and the last complete body wins, atomically (a retry after a
// client timeout just works). A tar shard PUT again is indexed from its last body only, also when
// the first body was already indexed (the shard's files are replaced), and across a kill -9.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildEmulator } from "../helpers/child-emulator.js";
import { readResponse, startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { mp4 as video, png, tar as tarOf } from "../helpers/fixtures.js";

/** A video of `size` + 12 bytes whose bytes depend on `fill`. */
const mp4 = (fill: number, size = 5000) => video(fill, size + 12);

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

type Details = { uploadURL: string; extensionHeaders: Record<string, string>; shardId?: string };

const put = async (url: string, body: Buffer | Readable, headers: Record<string, string>) => readResponse(await request(url, { method: "PUT", body, headers }));

async function slot(base: string, key: string, ws: string, batchId: string, kind: "video" | "shard", fileName = "clip.mp4"): Promise<Details> {
  const what = kind === "video" ? `upload/video?fileName=${fileName}&` : "bulk-upload/image-files?";
  const r = await readResponse(await request(`${base}/data-staging/v1/external/${ws}/batches/${batchId}/${what}api_key=${key}`, { method: "POST" }));
  expect(r.status, r.text).toBe(200);
  return r.json.signedURLDetails;
}

async function listing(base: string, key: string, ws: string, batchId: string) {
  const r = await readResponse(await request(`${base}/data-staging/v1/external/${ws}/batches/${batchId}/list?api_key=${key}`));
  expect(r.status, r.text).toBe(200);
  return r.json.filesMetadata as { fileName: string; downloadURL: string; shardId: string | null }[];
}

async function shardOf(base: string, key: string, ws: string, batchId: string, shardId: string) {
  const r = await readResponse(await request(`${base}/data-staging/v1/external/${ws}/batches/${batchId}/shards?api_key=${key}`));
  return (r.json.shards as { shardId: string; statusName: string; statusType: string; shardObjectsCount: number }[]).find((s) => s.shardId === shardId);
}

const finished = (base: string, key: string, ws: string, batchId: string, shardId: string) =>
  waitFor(
    async () => {
      const s = await shardOf(base, key, ws, batchId, shardId);
      return s && s.statusType !== "info" ? s : undefined;
    },
    20_000,
    `shard ${shardId} indexed`,
  );

const bytesOf = async (url: string) => Buffer.from(await (await request(url)).body.arrayBuffer());

const local = () => ({ base: emu.url, key: emu.apiKey, ws: emu.workspace });

describe("a signed upload URL can be PUT again until it expires; the last complete body wins", () => {
  it("video: the second PUT answers 200 and the download is the second body, whole", async () => {
    const { base, key, ws } = local();
    const d = await slot(base, key, ws, "re-video", "video");
    const first = mp4(1);
    const second = mp4(2, 9000);
    expect((await put(d.uploadURL, first, d.extensionHeaders)).status).toBe(200);
    const again = await put(d.uploadURL, second, d.extensionHeaders);
    expect(again.status, again.text).toBe(200);
    const files = await listing(base, key, ws, "re-video");
    expect(files.map((f) => f.fileName)).toEqual(["clip.mp4"]);
    expect((await bytesOf(files[0].downloadURL)).equals(second)).toBe(true);
  });

  it("a retry after a client timeout (the first PUT completed on the server, its answer never read) succeeds", async () => {
    const { base, key, ws } = local();
    const d = await slot(base, key, ws, "re-timeout", "video");
    const body = mp4(3);
    // The client gives up right after sending the whole body, before it reads the answer.
    const ac = new AbortController();
    const first = request(d.uploadURL, { method: "PUT", body, headers: d.extensionHeaders, signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    await first.then((r) => r.body.text()).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const retry = await put(d.uploadURL, body, d.extensionHeaders);
    expect(retry.status, retry.text).toBe(200);
    const files = await listing(base, key, ws, "re-timeout");
    expect(files).toHaveLength(1);
    expect((await bytesOf(files[0].downloadURL)).equals(body)).toBe(true);
  });

  it("concurrent PUTs to one URL: both answer 200, the one that completes last wins, and the stored bytes are one whole body", async () => {
    const { base, key, ws } = local();
    const d = await slot(base, key, ws, "re-concurrent", "video");
    const a = mp4(4, 200_000);
    const b = mp4(5, 150_000);
    const streamA = new Readable({ read() {} });
    const streamB = new Readable({ read() {} });
    const len = (x: Buffer) => ({ ...d.extensionHeaders, "content-length": String(x.length) });
    const pa = put(d.uploadURL, streamA, len(a));
    const pb = put(d.uploadURL, streamB, len(b));
    streamA.push(a.subarray(0, 100_000));
    streamB.push(b.subarray(0, 100_000));
    await new Promise((r) => setTimeout(r, 100));
    // B completes first, A last: A must win.
    streamB.push(b.subarray(100_000));
    streamB.push(null);
    expect((await pb).status).toBe(200);
    streamA.push(a.subarray(100_000));
    streamA.push(null);
    expect((await pa).status).toBe(200);
    const files = await listing(base, key, ws, "re-concurrent");
    expect(files).toHaveLength(1);
    expect((await bytesOf(files[0].downloadURL)).equals(a)).toBe(true);
  });

  it("shard PUT twice before indexing: only the second body is indexed", async () => {
    const { base, key, ws } = local();
    const d = await slot(base, key, ws, "re-shard-early", "shard");
    emu.emulator.clock.setMode("manual");
    try {
      expect(
        (
          await put(
            d.uploadURL,
            tarOf([
              { name: "old-a.png", data: png(1) },
              { name: "old-b.png", data: png(2) },
            ]),
            d.extensionHeaders,
          )
        ).status,
      ).toBe(200);
      const again = await put(d.uploadURL, tarOf([{ name: "new-c.png", data: png(3) }]), d.extensionHeaders);
      expect(again.status, again.text).toBe(200);
    } finally {
      emu.emulator.clock.setMode("max");
    }
    const s = await finished(base, key, ws, "re-shard-early", d.shardId!);
    expect(s).toMatchObject({ statusName: "ingested", shardObjectsCount: 1 });
    const files = await listing(base, key, ws, "re-shard-early");
    expect(files.map((f) => f.fileName)).toEqual(["new-c.png"]);
    expect((await bytesOf(files[0].downloadURL)).equals(png(3))).toBe(true);
  });

  it("shard PUT again after it was indexed: it is indexed again and its files are replaced by the second body's", async () => {
    const { base, key, ws } = local();
    const d = await slot(base, key, ws, "re-shard-late", "shard");
    const other = await slot(base, key, ws, "re-shard-late", "shard");
    expect((await put(other.uploadURL, tarOf([{ name: "other.png", data: png(9) }]), other.extensionHeaders)).status).toBe(200);
    expect(
      (
        await put(
          d.uploadURL,
          tarOf([
            { name: "old-a.png", data: png(1) },
            { name: "keep.png", data: png(2) },
          ]),
          d.extensionHeaders,
        )
      ).status,
    ).toBe(200);
    await finished(base, key, ws, "re-shard-late", d.shardId!);
    await finished(base, key, ws, "re-shard-late", other.shardId!);
    expect((await listing(base, key, ws, "re-shard-late")).map((f) => f.fileName).sort()).toEqual(["keep.png", "old-a.png", "other.png"]);

    const again = await put(
      d.uploadURL,
      tarOf([
        { name: "keep.png", data: png(20) },
        { name: "new-c.png", data: png(3) },
      ]),
      d.extensionHeaders,
    );
    expect(again.status, again.text).toBe(200);
    await waitFor(
      async () => {
        const names = (await listing(base, key, ws, "re-shard-late")).map((f) => f.fileName).sort();
        return names.join() === "keep.png,new-c.png,other.png" ? names : undefined;
      },
      20_000,
      "the shard re-indexed from its second body",
    );
    const s = await finished(base, key, ws, "re-shard-late", d.shardId!);
    expect(s).toMatchObject({ statusName: "ingested", shardObjectsCount: 2 });
    const files = await listing(base, key, ws, "re-shard-late");
    const keep = files.find((f) => f.fileName === "keep.png")!;
    expect((await bytesOf(keep.downloadURL)).equals(png(20))).toBe(true);
    const count = await emu.call("GET", `${emu.staging("re-shard-late")}/count`);
    expect(count.json.count).toBe(3);
  });

  it("shard PUT again at any moment of the first body's indexing: the batch ends with the second body's files only", async () => {
    const { base, key, ws } = local();
    const big = tarOf(Array.from({ length: 250 }, (_, i) => ({ name: `old-${i}.png`, data: png(1000 + i) })));
    for (const waitMs of [0, 5, 20, 60, 150]) {
      const batchId = `re-shard-race-${waitMs}`;
      const d = await slot(base, key, ws, batchId, "shard");
      expect((await put(d.uploadURL, big, d.extensionHeaders)).status).toBe(200);
      await new Promise((r) => setTimeout(r, waitMs));
      expect((await put(d.uploadURL, tarOf([{ name: "last.png", data: png(7) }]), d.extensionHeaders)).status).toBe(200);
      await waitFor(
        async () => {
          const s = await shardOf(base, key, ws, batchId, d.shardId!);
          const names = (await listing(base, key, ws, batchId)).map((f) => f.fileName);
          return s?.statusType === "success" && names.join() === "last.png" ? s : undefined;
        },
        20_000,
        `${batchId}: only last.png`,
      );
    }
  });
});

describe("a PUT again after kill -9", () => {
  it("the URL still works on the restarted emulator: the video and the shard take the second body", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-reupload-"));
    let child = await startChildEmulator(dataDir);
    try {
      const key = "emulator-api-key";
      const ws = "emulator-workspace";
      const v = await slot(child.url, key, ws, "kill-video", "video");
      const s = await slot(child.url, key, ws, "kill-shard", "shard");
      expect((await put(v.uploadURL, mp4(1), v.extensionHeaders)).status).toBe(200);
      expect((await put(s.uploadURL, tarOf([{ name: "first.png", data: png(1) }]), s.extensionHeaders)).status).toBe(200);
      await finished(child.url, key, ws, "kill-shard", s.shardId!);
      await child.kill9();

      child = await startChildEmulator(dataDir);
      // Same path and signature; only the port changed with the restart.
      const moved = (u: string) => child.url + new URL(u).pathname + new URL(u).search;
      const second = mp4(2, 7000);
      const rv = await put(moved(v.uploadURL), second, v.extensionHeaders);
      expect(rv.status, rv.text).toBe(200);
      const rs = await put(moved(s.uploadURL), tarOf([{ name: "second.png", data: png(2) }]), s.extensionHeaders);
      expect(rs.status, rs.text).toBe(200);

      const videos = await listing(child.url, key, ws, "kill-video");
      expect(videos).toHaveLength(1);
      expect((await bytesOf(videos[0].downloadURL)).equals(second)).toBe(true);
      await waitFor(
        async () => ((await listing(child.url, key, ws, "kill-shard")).map((f) => f.fileName).join() === "second.png" ? true : undefined),
        20_000,
        "shard re-indexed after the restart",
      );
      expect(await finished(child.url, key, ws, "kill-shard", s.shardId!)).toMatchObject({ statusName: "ingested", shardObjectsCount: 1 });
    } finally {
      await child.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
