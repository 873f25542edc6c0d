// bulk-upload/image-references and video-references (downloads from loopback URLs only), ingest
// de-duplication, references files, RoboQL ingests, and data staging webhooks with retries.
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { bigPng, mp4, multipart, png, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { attemptsOf, listWebhooks } from "../../src/state/webhooks.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
let files: LoopbackServer;
let hooks: LoopbackServer;
beforeAll(async () => {
  emu = await startTestEmulator();
  files = await startLoopbackServer();
  hooks = await startLoopbackServer();
  for (let i = 0; i < 5; i++) files.serve(`/img/${i}.png`, png(500 + i));
  files.serve("/img/text.png", "not an image");
  files.serve("/img/huge.png", bigPng(20_971_521));
  files.serve("/img/slow.png", png(600), { delayMs: 2_000 });
  files.serve("/redirect-out", "", { status: 302, headers: { location: "https://example.com/elsewhere.png" } });
  files.serve("/redirect-in", "", { status: 302, headers: { location: "/img/0.png" } });
  files.serve("/video/a.mp4", mp4(0, 112));
});
afterAll(async () => {
  await emu?.close();
  await files?.close();
  await hooks?.close();
});

type Shard = { shardId: string; statusName: string; statusType: string; shardObjectsCount: number; statusMetadata: any };

async function shardsOf(batchId: string): Promise<Shard[]> {
  const r = await emu.call("GET", `${emu.staging(batchId)}/shards?pageSize=1000`);
  expect(r.status, r.text).toBe(200);
  return r.json.shards;
}

async function settled(batchId: string, expected: number): Promise<Shard[]> {
  const done = await waitFor(
    async () => {
      const s = await shardsOf(batchId);
      return s.length >= expected && s.every((x) => x.statusType !== "info") ? s : undefined;
    },
    20_000,
    `shards of ${batchId}`,
  );
  return done!;
}

const ref = (name: string, p: string) => ({ name, url: `${files.url}${p}` });
const post = (batchId: string, kind: "image" | "video", json: unknown, query = "") =>
  emu.call("POST", `${emu.staging(batchId)}/bulk-upload/${kind}-references${query}`, { json });

describe("bulk-upload/image-references", () => {
  it("downloads each reference in the background, refusing what it cannot ingest per file", async () => {
    const body = {
      imageReferences: [
        ref("a.png", "/img/0.png"),
        ref("b.png", "/img/1.png"),
        ref("c.png", "/redirect-in"),
        ref("missing.png", "/img/none.png"),
        ref("text.png", "/img/text.png"),
        ref("huge.png", "/img/huge.png"),
        { name: "remote.png", url: "https://upload.wikimedia.org/wikipedia/en/7/7d/Lenna_%28test_image%29.png" },
        ref("hop.png", "/redirect-out"),
        ref("a.png", "/img/2.png"),
        { name: "../up.png", url: `${files.url}/img/3.png` },
      ],
    };
    const r = await post("refs-basic", "image", body, "?displayName=From%20refs");
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ status: "ok", duplicated: false });
    expect(r.json.ingestId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.json.shardIds).toHaveLength(1);
    const [shard] = await settled("refs-basic", 1);
    expect(shard).toMatchObject({ shardId: r.json.shardIds[0], statusName: "ingested-with-failures", statusType: "success", shardObjectsCount: 3 });
    const failed = Object.fromEntries((shard.statusMetadata.failedFiles as any[]).map((f) => [f.file_name + "|" + f.type, f.reason]));
    expect(failed["missing.png|download-failed"]).toMatch(/HTTP 404/);
    expect(failed["text.png|invalid-file-type"]).toMatch(/text data/);
    expect(failed["huge.png|file-size-limit-exceeded"]).toBe("Max size of single image is 20971520B.");
    expect(failed["remote.png|unsafe-url-detected"]).toContain(
      "Untrusted domain found: https://upload.wikimedia.org/wikipedia/en/7/7d/Lenna_%28test_image%29.png. ",
    );
    expect(failed["remote.png|unsafe-url-detected"]).toContain(
      "https://upload.wikimedia.org is not mapped; map it with --url-map https://upload.wikimedia.org/=file:///your/folder/",
    );
    expect(failed["hop.png|unsafe-url-detected"]).toMatch(/example\.com/);
    expect(failed["a.png|duplicated-file-name"]).toBeDefined();
    expect(failed["../up.png|invalid-file-name"]).toMatch(/path separators/);

    const batch = await emu.call("GET", emu.staging("refs-basic"));
    expect(batch.json.batch).toMatchObject({ displayName: "From refs", batchType: "sharded-batch", batchContentType: "images" });
    const list = (await emu.call("GET", `${emu.staging("refs-basic")}/list`)).json.filesMetadata;
    expect(list.map((f: any) => f.fileName).sort()).toEqual(["a.png", "b.png", "c.png"]);
    expect(list.every((f: any) => f.shardId === shard.shardId)).toBe(true);
    const a = list.find((f: any) => f.fileName === "a.png");
    const dl = await request(a.downloadURL);
    expect(Buffer.from(await dl.body.arrayBuffer()).equals(png(500))).toBe(true);
    // Nothing was requested from anywhere but loopback (the remote URL was never fetched).
    expect(files.requests.every((q) => !q.url.includes("wikimedia"))).toBe(true);
  });

  it("answers duplicated=true for the same body (with or without ingestId) and does no new work", async () => {
    const body = { imageReferences: [ref("d1.png", "/img/0.png")] };
    const first = await post("refs-dup", "image", body);
    await settled("refs-dup", 1);
    const fetched = files.requests.length;
    const again = await post("refs-dup", "image", body);
    expect(again.json).toEqual({ status: "ok", ingestId: first.json.ingestId, shardIds: first.json.shardIds, duplicated: true });
    // Other notification settings do not make it another ingest.
    const withHook = await post("refs-dup", "image", { ...body, notificationsURL: `${hooks.url}/dup` });
    expect(withHook.json).toMatchObject({ ingestId: first.json.ingestId, duplicated: true });

    const named = { ...body, ingestId: "my-ingest-1" };
    const n1 = await post("refs-dup", "image", named);
    expect(n1.json).toMatchObject({ ingestId: "my-ingest-1", duplicated: false });
    await settled("refs-dup", 2);
    const n2 = await post("refs-dup", "image", named);
    expect(n2.json).toMatchObject({ ingestId: "my-ingest-1", duplicated: true, shardIds: n1.json.shardIds });
    const changed = await post("refs-dup", "image", { ...named, imageReferences: [ref("d2.png", "/img/1.png")] });
    expect(changed.status).toBe(409);
    expect(changed.json.message).toMatch(/my-ingest-1/);
    await new Promise((r) => setTimeout(r, 100));
    expect((await shardsOf("refs-dup")).length).toBe(2);
    expect(files.requests.length).toBe(fetched + 1);
  });

  it("reads a JSONL references file, reporting bad lines, and splits more than 500 references into shards", async () => {
    const lines = Array.from({ length: 520 }, (_, i) => JSON.stringify(ref(`f-${i}.png`, `/img/${i % 5}.png`)));
    lines.splice(3, 0, "{not json", JSON.stringify({ name: "no-url.png" }));
    files.serve("/refs.jsonl", lines.join("\n") + "\n");
    const r = await post("refs-file", "image", { imageReferencesURL: `${files.url}/refs.jsonl` });
    expect(r.status, r.text).toBe(200);
    expect(r.json.shardIds).toHaveLength(1);
    const shards = await settled("refs-file", 2);
    expect(shards).toHaveLength(2);
    expect(shards.map((s) => s.shardObjectsCount)).toEqual([500, 20]);
    expect(shards[0].statusMetadata.failedFiles.map((f: any) => f.type)).toEqual(["invalid-reference", "invalid-reference"]);
    expect((await emu.call("GET", `${emu.staging("refs-file")}/count`)).json.count).toBe(520);
  });

  it("fails the ingest when the references file cannot be used", async () => {
    const remote = await post("refs-file-bad", "image", { imageReferencesURL: "https://bucket.example.com/refs.jsonl" });
    expect(remote.status).toBe(200);
    const missing = await post("refs-file-bad", "image", { imageReferencesURL: `${files.url}/nope.jsonl` });
    expect(missing.status).toBe(200);
    const shards = await settled("refs-file-bad", 2);
    expect(shards.map((s) => [s.statusName, s.statusType])).toEqual([
      ["unsafe-url-detected", "error"],
      ["download-failed", "error"],
    ]);
  });

  it("applies a per-file timeout", async () => {
    const worker = emu.emulator.ingest;
    const saved = worker.fetchLimits.timeoutMs;
    worker.fetchLimits.timeoutMs = 200;
    try {
      await post("refs-slow", "image", { imageReferences: [ref("slow.png", "/img/slow.png"), ref("fast.png", "/img/4.png")] });
      const [s] = await settled("refs-slow", 1);
      expect(s.shardObjectsCount).toBe(1);
      expect(s.statusMetadata.failedFiles).toEqual([{ type: "download-timeout", file_name: "slow.png", reason: "The download did not finish within 200 ms." }]);
    } finally {
      worker.fetchLimits.timeoutMs = saved;
    }
  });

  it("validates the body with readable 400s and stores nothing", async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /exactly one of imageReferences .* or imageReferencesURL/],
      [{ imageReferences: [ref("a.png", "/img/0.png")], imageReferencesURL: `${files.url}/x` }, /exactly one of/],
      [{ imageReferences: [] }, /must not be empty/],
      [{ imageReferences: [{ name: "a.png" }] }, /url/],
      [{ imageReferences: [ref("a.png", "/img/0.png")], notificationUrl: "http://127.0.0.1:1/x" }, /did you mean "notificationsURL"/],
      [{ imageReferences: [ref("a.png", "/img/0.png")], notificationCategories: ["everything"] }, /ingest-status/],
      [{ imageReferences: [ref("a.png", "/img/0.png")], notificationsURL: "not a url" }, /notificationsURL/],
      [{ imageReferences: [ref("a.png", "/img/0.png")], ingestId: "has spaces" }, /ingestId/],
      [{ imageReferences: Array.from({ length: 20_001 }, (_, i) => ({ name: `${i}.png`, url: "http://127.0.0.1/x" })) }, /at most 20000 references/],
    ];
    for (const [body, message] of cases) {
      const r = await post("refs-invalid", "image", body);
      expect(r.status, JSON.stringify(body).slice(0, 100)).toBe(400);
      expect(r.json.message).toMatch(message);
    }
    const noJson = await emu.call("POST", `${emu.staging("refs-invalid")}/bulk-upload/image-references`, {
      body: "{oops",
      headers: { "content-type": "application/json" },
    });
    expect(noJson.status).toBe(400);
    const text = await emu.call("POST", `${emu.staging("refs-invalid")}/bulk-upload/image-references`, {
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
    expect((await emu.call("GET", emu.staging("refs-invalid"))).status).toBe(404);
  });

  it("cannot be mixed with single-image uploads", async () => {
    const m = multipart([{ field: "a.png", filename: "a.png", data: png(1) }]);
    await emu.call("POST", `${emu.staging("refs-mixed")}/upload/image?fileName=a.png`, { body: m.body, headers: { "content-type": m.contentType } });
    const r = await post("refs-mixed", "image", { imageReferences: [ref("b.png", "/img/0.png")] });
    expect(r.status).toBe(409);
    expect(r.json.message).toMatch(/simple-batch of images/);
  });
});

describe("bulk-upload/video-references", () => {
  it("ingests videos into a simple-batch of videos", async () => {
    const r = await post("vrefs", "video", { videoReferences: [ref("a.mp4", "/video/a.mp4"), { name: "b.mp4", url: "https://example.com/b.mp4" }] });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ duplicated: false, ingestId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const [s] = await settled("vrefs", 1);
    expect(s.shardObjectsCount).toBe(1);
    const batch = (await emu.call("GET", emu.staging("vrefs"))).json.batch;
    expect(batch).toMatchObject({ batchType: "simple-batch", batchContentType: "videos" });
    const list = (await emu.call("GET", `${emu.staging("vrefs")}/list`)).json.filesMetadata;
    expect(list).toEqual([expect.objectContaining({ fileName: "a.mp4", contentType: "video", shardId: null })]);
    const wrongKey = await post("vrefs", "video", { imageReferences: [ref("a.mp4", "/video/a.mp4")] });
    expect(wrongKey.status).toBe(400);
    expect(wrongKey.json.message).toMatch(/did you mean "videoReferences"/);
  });
});

describe("roboql-ingest", () => {
  it("is recorded and ends in an explained error status (no RoboQL engine), with its notification", async () => {
    const before = hooks.requests.length;
    const r = await emu.call("POST", `${emu.staging("roboql")}/roboql-ingest`, {
      json: { query: "project:cars split:train", displayName: "Cars", notificationsURL: `${hooks.url}/roboql` },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ status: "ok", duplicated: false, shardIds: [expect.any(String)] });
    expect(r.json.message).toMatch(/not emulated/);
    const [s] = await settled("roboql", 1);
    expect(s).toMatchObject({ statusName: "roboql-not-supported", statusType: "error", shardObjectsCount: 0 });
    expect((await emu.call("GET", emu.staging("roboql"))).json.batch).toMatchObject({ displayName: "Cars", batchType: "sharded-batch" });
    const hook = (await waitFor(() => hooks.requests.slice(before).find((q) => q.url === "/roboql"), 10_000, "roboql webhook"))!;
    expect(hook.json).toMatchObject({
      type: "roboflow-data-staging-notification-v1",
      ingest_id: r.json.ingestId,
      batch_id: "roboql",
      shard_id: null,
      notification: { type: "ingest-status-notification-v1", success: false, error_details: { type: "roboql-not-supported" } },
    });
    const dup = await emu.call("POST", `${emu.staging("roboql")}/roboql-ingest`, {
      json: { query: "project:cars split:train", displayName: "Cars", notificationsURL: `${hooks.url}/roboql` },
    });
    expect(dup.json).toMatchObject({ duplicated: true, ingestId: r.json.ingestId });
    const bad = await emu.call("POST", `${emu.staging("roboql")}/roboql-ingest`, { json: { querry: "x" } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/did you mean "query"/);
  });
});

describe("notifications", () => {
  it("sends ingest-status once per ingest and files-status per shard, retrying a failing receiver", async () => {
    hooks.failNext(500);
    const before = hooks.requests.length;
    const r = await post("refs-hooks", "image", {
      imageReferences: [ref("h1.png", "/img/0.png"), ref("h2.png", "/img/none.png")],
      ingestId: "hooked-ingest",
      notificationsURL: `${hooks.url}/staging`,
      notificationCategories: ["ingest-status", "files-status"],
    });
    expect(r.status).toBe(200);
    await settled("refs-hooks", 1);
    // Two notifications, the first attempt of one of them answered 500 then retried.
    const got = (await waitFor(
      () => {
        const mine = hooks.requests.slice(before).filter((q) => q.url === "/staging");
        return mine.filter((q) => q.status === 200).length >= 2 ? mine : undefined;
      },
      15_000,
      "webhooks delivered",
    ))!;
    expect(got).toHaveLength(3);
    for (const q of got) {
      expect(q.headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
      expect(q.headers["content-type"]).toMatch(/application\/json/);
    }
    const failedFirst = got[0];
    expect(failedFirst.status).toBe(500);
    const retried = got.find((q) => q !== failedFirst && q.json.event_id === failedFirst.json.event_id)!;
    expect(failedFirst.json.delivery_attempt).toBe(1);
    expect(retried.json.delivery_attempt).toBe(2);
    expect(retried.status).toBe(200);

    const filesStatus = got.find((q) => q.json.notification.type === "ingest-files-status-notification-v1")!.json;
    expect(filesStatus).toMatchObject({
      ingest_id: "hooked-ingest",
      batch_id: "refs-hooks",
      shard_id: r.json.shardIds[0],
      notification: {
        success: false,
        ingested_files: ["h1.png"],
        failed_files: [{ type: "download-failed", file_name: "h2.png", reason: expect.stringMatching(/404/) }],
        content_truncated: false,
      },
    });
    const ingestStatus = got.find((q) => q.json.notification.type === "ingest-status-notification-v1")!.json;
    expect(ingestStatus).toMatchObject({
      ingest_id: "hooked-ingest",
      shard_id: null,
      notification: { success: false, error_details: { type: "download-failed" } },
    });

    // The sender recorded both attempts of the retried notification.
    const rows = listWebhooks(emu.emulator.db, { subject: "refs-hooks" });
    expect(rows.map((w) => w.category).sort()).toEqual(["files-status", "ingest-status"]);
    const retriedRow = rows.find((w) => w.id === failedFirst.json.event_id)!;
    expect(attemptsOf(emu.emulator.db, retriedRow.id).map((a) => [a.attempt, a.status])).toEqual([
      [1, 500],
      [2, 200],
    ]);
  });

  it("sends ingest-status only after the last shard of a multi-shard ingest", async () => {
    const before = hooks.requests.length;
    const refs = Array.from({ length: 501 }, (_, i) => ref(`m-${i}.png`, `/img/${i % 5}.png`));
    const r = await post("refs-hooks-multi", "image", { imageReferences: refs, notificationsURL: `${hooks.url}/multi` });
    expect(r.json.shardIds).toHaveLength(2);
    await settled("refs-hooks-multi", 2);
    const got = (await waitFor(
      () =>
        hooks.requests.slice(before).filter((q) => q.url === "/multi").length ? hooks.requests.slice(before).filter((q) => q.url === "/multi") : undefined,
      10_000,
      "webhook",
    ))!;
    await new Promise((res) => setTimeout(res, 200));
    expect(hooks.requests.slice(before).filter((q) => q.url === "/multi")).toHaveLength(1);
    expect(got[0].json.notification).toEqual({ type: "ingest-status-notification-v1", success: true });
    expect(got[0].json.ingest_id).toBe(r.json.ingestId);
  });
});
