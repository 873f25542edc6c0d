// Conformance with the official client: every `rf-cloud data-staging` command, run unchanged as a
// child process against the emulator (base URL changed, nothing else). A command passes only when it
// exits 0 with no Python exception and no unparseable field, and what it did is visible through the API
// (counts, file bytes). The client's Python dependencies missing = this suite FAILS (never skips).
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { imageFolder, jp2, mp4, png, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { assertRealClientAvailable, expectClientOk, runClient } from "../helpers/real-client.js";
import { derivedInternalId } from "../../src/state/workspaces.js";

let emu: TestEmulator;
let root: string;
let files: LoopbackServer;
let filesUrl: string;

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** Runs `rf-cloud data-staging <args>` with the emulator's key and --debug-mode; fails on any error. */
async function ds(...args: string[]) {
  return expectClientOk(await runClient(emu.url, ["data-staging", ...args, "--api-key", emu.apiKey, "--debug-mode"], { cwd: root }));
}

async function count(batchId: string, part?: string): Promise<number> {
  const r = await emu.call("GET", `${emu.staging(batchId)}/count${part ? `?partName=${part}` : ""}`);
  return r.status === 200 ? r.json.count : -1;
}

beforeAll(async () => {
  assertRealClientAvailable();
  emu = await startTestEmulator();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-conf-ds-"));
  // A loopback file server for reference ingests, and a webhook sink.
  files = await startLoopbackServer();
  for (let i = 0; i < 6; i++) files.serve(`/img/${i}.png`, png(1000 + i), { headers: { "content-type": "image/png" } });
  for (let i = 0; i < 3; i++) files.serve(`/vid/${i}.mp4`, mp4(i), { headers: { "content-type": "video/mp4" } });
  filesUrl = files.url;
});

afterAll(async () => {
  await emu?.close();
  await files?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("rf-cloud data-staging against the emulator", () => {
  it("list-batches on an empty workspace", async () => {
    const run = await ds("list-batches");
    expect(run.stdout).not.toMatch(/error/i);
  });

  it("create-batch-of-images from a folder of 5 images and a .jp2 (simple batch, one upload per image)", async () => {
    const dir = imageFolder(root, "five", 5);
    // .jp2 is in the client's IMAGES_EXTENSIONS: it is selected and uploaded like the PNGs.
    fs.writeFileSync(path.join(dir, "img-005.jp2"), jp2(5));
    await ds("create-batch-of-images", "--images-dir", dir, "--batch-id", "conf-five", "--batch-name", "Five images");
    expect(await count("conf-five")).toBe(6);
    const b = await emu.call("GET", emu.staging("conf-five"));
    expect(b.json.batch).toMatchObject({ batchId: "conf-five", displayName: "Five images", batchType: "simple-batch", batchContentType: "images" });
  });

  it("create-batch-of-images from a folder of 40 images (tar shards through signed URLs), then list-ingest-details", async () => {
    const dir = imageFolder(root, "forty", 40, 100);
    await ds("create-batch-of-images", "--images-dir", dir, "--batch-id", "conf-forty", "--notifications-url", `${filesUrl}/hooks/forty`);
    await waitFor(async () => (await count("conf-forty")) === 40, 20_000, "40 images indexed");
    const b = await emu.call("GET", emu.staging("conf-forty"));
    expect(b.json.batch.batchType).toBe("sharded-batch");
    const out = path.join(root, "shards.jsonl");
    await ds("list-ingest-details", "--batch-id", "conf-forty", "--output-file", out);
    const shards = fs
      .readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(shards.length).toBeGreaterThanOrEqual(1);
    expect(shards.reduce((n, s) => n + s.shard_objects_count, 0)).toBe(40);
    const console = await ds("list-ingest-details", "--batch-id", "conf-forty", "--page-size", "1");
    expect(console.stdout).toContain(shards[0].shard_id);
    // The client packed notification_config.json into the shard: the ingest webhook must follow.
    await waitFor(() => files.requests.some((h) => h.path === "/hooks/forty"), 20_000, "the shard's ingest webhook");
  });

  it("show-batch-details for a simple and a sharded batch", async () => {
    const five = await ds("show-batch-details", "--batch-id", "conf-five");
    expect(five.stdout).toContain("Five images");
    expect(five.stdout).toMatch(/Files Count\s*│\s*6\b/);
    const forty = await ds("show-batch-details", "--batch-id", "conf-forty");
    expect(forty.stdout).toMatch(/Files Count\s*│\s*40\b/);
  });

  it("list-batch-content to the console and to a JSONL file, with --limit", async () => {
    const out = path.join(root, "content.jsonl");
    await ds("list-batch-content", "--batch-id", "conf-five", "--output-file", out);
    const lines = fs
      .readFileSync(out, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.file_name).sort()).toEqual(["img-000.png", "img-001.png", "img-002.png", "img-003.png", "img-004.png", "img-005.jp2"]);
    for (const l of lines) expect(l.download_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    const limited = path.join(root, "content-2.jsonl");
    await ds("list-batch-content", "--batch-id", "conf-forty", "--limit", "2", "--output-file", limited);
    expect(fs.readFileSync(limited, "utf8").trim().split("\n")).toHaveLength(2);
    await ds("list-batch-content", "--batch-id", "conf-five");
  });

  it("export-batch downloads every file with its exact bytes (simple and sharded)", async () => {
    for (const [batch, folder, n] of [
      ["conf-five", "five", 6],
      ["conf-forty", "forty", 40],
    ] as const) {
      const target = path.join(root, `export-${batch}`);
      await ds("export-batch", "--batch-id", batch, "--target-dir", target);
      const exported = fs
        .readdirSync(target, { recursive: true })
        .map(String)
        .filter((f) => /\.(png|jp2)$/.test(f));
      expect(exported).toHaveLength(n);
      for (const f of exported) {
        const original = fs.readFileSync(path.join(root, folder, path.basename(f)));
        expect(sha(fs.readFileSync(path.join(target, f))), f).toBe(sha(original));
      }
      // Running it again is a no-op for the client (its export log), and must not fail.
      await ds("export-batch", "--batch-id", batch, "--target-dir", target);
    }
  });

  it("create-batch-of-images from a references file of loopback URLs, with ingest id and notifications", async () => {
    const refs = path.join(root, "image-refs.jsonl");
    fs.writeFileSync(refs, Array.from({ length: 6 }, (_, i) => JSON.stringify({ name: `ref-${i}.png`, url: `${filesUrl}/img/${i}.png` })).join("\n") + "\n");
    const run = await ds(
      "create-batch-of-images",
      "--data-source",
      "references-file",
      "--references",
      refs,
      "--batch-id",
      "conf-refs",
      "--ingest-id",
      "conf-ingest-1",
      "--notifications-url",
      `${filesUrl}/hooks/refs`,
      "--notification-category",
      "ingest-status",
      "--notification-category",
      "files-status",
    );
    expect(run.stdout).toContain("Your ingest ID");
    await waitFor(async () => (await count("conf-refs")) === 6, 20_000, "6 referenced images indexed");
    const list = await emu.call("GET", `${emu.staging("conf-refs")}/list`);
    const byName = new Map<string, string>(list.json.filesMetadata.map((f: any) => [f.fileName, f.downloadURL]));
    const res = await fetch(byName.get("ref-3.png")!);
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(png(1003)));
    await waitFor(() => files.requests.some((h) => h.path === "/hooks/refs"), 20_000, "an ingest webhook");
    const hook = files.requests.find((h) => h.path === "/hooks/refs")!;
    expect(hook.headers.authorization).toBe(`Bearer rf_${derivedInternalId(emu.workspace)}`);
    expect(hook.body.type).toBe("roboflow-data-staging-notification-v1");
    await ds("list-ingest-details", "--batch-id", "conf-refs");
  });

  it("create-batch-of-videos from a folder and from a references file", async () => {
    const dir = path.join(root, "videos");
    fs.mkdirSync(dir);
    for (let i = 0; i < 2; i++) fs.writeFileSync(path.join(dir, `clip-${i}.mp4`), mp4(i));
    await ds("create-batch-of-videos", "--videos-dir", dir, "--batch-id", "conf-videos", "--batch-name", "Clips");
    expect(await count("conf-videos")).toBe(2);
    const b = await emu.call("GET", emu.staging("conf-videos"));
    expect(b.json.batch.batchContentType).toBe("videos");
    const target = path.join(root, "export-videos");
    await ds("export-batch", "--batch-id", "conf-videos", "--target-dir", target);
    expect(sha(fs.readFileSync(path.join(target, "clip-1.mp4")))).toBe(sha(mp4(1)));

    const refs = path.join(root, "video-refs.jsonl");
    fs.writeFileSync(refs, [0, 1, 2].map((i) => JSON.stringify({ name: `vref-${i}.mp4`, url: `${filesUrl}/vid/${i}.mp4` })).join("\n") + "\n");
    await ds(
      "create-batch-of-videos",
      "--data-source",
      "references-file",
      "--references",
      refs,
      "--batch-id",
      "conf-video-refs",
      "--ingest-id",
      "conf-vingest-1",
    );
    await waitFor(async () => (await count("conf-video-refs")) === 3, 20_000, "3 referenced videos indexed");
  });

  it("create-batch-of-images from a RoboQL query: accepted, and its shard reports that RoboQL is not emulated", async () => {
    const run = await ds(
      "create-batch-of-images",
      "--data-source",
      "roboql",
      "--query",
      "project:cars AND split:train",
      "--batch-id",
      "conf-roboql",
      "--batch-name",
      "RoboQL",
    );
    expect(run.code).toBe(0);
    const shards = await waitFor(
      async () => {
        const r = await emu.call("GET", `${emu.staging("conf-roboql")}/shards`);
        return r.status === 200 && r.json.shards.length && r.json.shards.every((s: any) => s.statusType !== "info") ? r.json.shards : undefined;
      },
      20_000,
      "the RoboQL shard to settle",
    );
    expect(shards[0].statusType).toMatch(/error/);
    const details = await ds("list-ingest-details", "--batch-id", "conf-roboql");
    expect(details.stdout).toContain(shards[0].shardId);
  });

  it("list-batches across pages shows every batch", async () => {
    const run = await ds("list-batches", "--pages", "10", "--page-size", "1");
    for (const id of ["conf-five", "conf-forty", "conf-refs", "conf-videos", "conf-video-refs"]) expect(run.stdout).toContain(id);
  });
});
