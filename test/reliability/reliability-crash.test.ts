// Crash safety: the emulator runs as its own process and is killed with SIGKILL in the middle of a bulk
// tar ingest, of single-image uploads and of a job, then started again on the same data folder.
// Every acknowledged upload must be there with its exact bytes, nothing half-written may be visible,
// and an interrupted job must complete exactly once with its full output.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { waitFor } from "../helpers/emulator.js";
import { multipart, png, tar } from "../helpers/fixtures.js";

const WS = "emulator-workspace";
const KEY = "emulator-api-key";
const dirs: string[] = [];
const children: ChildEmulator[] = [];
const figures: string[] = [];

afterAll(async () => {
  for (const c of children) await c.stop().catch(() => undefined);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  console.log(`[crash] ${figures.join("; ")}`);
});

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
const staging = (base: string, batch: string) => `${base}/data-staging/v1/external/${WS}/batches/${batch}`;

async function api(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const u = new URL(url);
  u.searchParams.set("api_key", KEY);
  const res = await request(u, {
    method: method as any,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { "content-type": "application/json" },
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.statusCode, json };
}

async function start(dir: string, env: Record<string, string> = {}): Promise<ChildEmulator> {
  const c = await startChildEmulator(dir, env);
  children.push(c);
  return c;
}

function dataDir(name: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `rf-crash-${name}-`));
  dirs.push(d);
  return d;
}

/** Every file of a batch (all pages) with the sha256 of what its download URL serves. */
async function filesOf(base: string, batch: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | null = null;
  for (let guard = 0; guard < 1000; guard++) {
    const r = await api("GET", `${staging(base, batch)}/list?pageSize=1000${token ? `&nextPageToken=${token}` : ""}`);
    if (r.status === 404) return out;
    expect(r.status).toBe(200);
    for (const f of r.json.filesMetadata) {
      const res = await request(f.downloadURL);
      const bytes = Buffer.from(await res.body.arrayBuffer());
      expect(res.statusCode, `download of ${f.fileName}`).toBe(200);
      out.set(f.fileName, sha(bytes));
    }
    token = r.json.nextPageToken;
    if (!token) return out;
  }
  throw new Error("too many pages");
}

/** Sends `head`, then waits; the caller kills the server before the rest would be sent. Resolves with the outcome. */
function startSlowRequest(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  head: Buffer,
): { sent: Promise<void>; outcome: Promise<string> } {
  let sentResolve!: () => void;
  const sent = new Promise<void>((r) => (sentResolve = r));
  const outcome = new Promise<string>((resolve) => {
    const req = http.request(url, { method, headers, agent: false });
    req.on("response", (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on("error", (err) => resolve(`failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    req.write(head, () => sentResolve());
  });
  return { sent, outcome };
}

describe("kill -9 and restart on the same data folder", () => {
  it("during a bulk tar ingest: acknowledged shards complete, the interrupted shard leaves nothing", async () => {
    const dir = dataDir("tar");
    const emu = await start(dir);
    const sent = new Map<string, string>();
    const shardSize = 64;
    const acknowledged: number[] = [];
    for (let s = 0; s < 3; s++) {
      const members = Array.from({ length: shardSize }, (_, i) => ({ name: `t${s}-${i}.png`, data: png(s * 1000 + i) }));
      const slot = await api("POST", `${staging(emu.url, "crash-tar")}/bulk-upload/image-files`);
      expect(slot.status).toBe(200);
      const d = slot.json.signedURLDetails;
      const put = await request(d.uploadURL, { method: "PUT", body: tar(members), headers: d.extensionHeaders ?? {} });
      await put.body.text();
      expect(put.statusCode).toBeLessThan(300);
      acknowledged.push(s);
      for (const m of members) sent.set(m.name, sha(m.data));
    }
    // A fourth shard, cut off mid-body by the kill (indexing of the first three may still be running).
    const big = tar(Array.from({ length: 200 }, (_, i) => ({ name: `cut-${i}.png`, data: png(90_000 + i) })));
    const slot = await api("POST", `${staging(emu.url, "crash-tar")}/bulk-upload/image-files`);
    const d = slot.json.signedURLDetails;
    const slow = startSlowRequest(
      d.uploadURL,
      "PUT",
      { ...(d.extensionHeaders ?? {}), "content-length": big.length },
      big.subarray(0, Math.floor(big.length / 2)),
    );
    await slow.sent;
    await new Promise((r) => setTimeout(r, 150));
    await emu.kill9();
    expect(await slow.outcome).toMatch(/failed/);

    const again = await start(dir);
    await waitFor(
      async () => (await api("GET", `${staging(again.url, "crash-tar")}/count`)).json.count >= acknowledged.length * shardSize,
      30_000,
      "acknowledged shards indexed after restart",
    );
    // Let any leftover background work settle, then the batch must hold exactly the acknowledged images.
    await new Promise((r) => setTimeout(r, 500));
    const files = await filesOf(again.url, "crash-tar");
    expect(files.size).toBe(acknowledged.length * shardSize);
    for (const [name, digest] of files) expect(digest, name).toBe(sent.get(name));
    expect([...files.keys()].some((n) => n.startsWith("cut-"))).toBe(false);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
    const shards = await api("GET", `${staging(again.url, "crash-tar")}/shards`);
    figures.push(
      `tar: ${files.size}/${acknowledged.length * shardSize} acknowledged images intact, interrupted shard status ${JSON.stringify(shards.json.shards.map((s: any) => s.statusName))}`,
    );
    await again.stop();
  });

  it("during single-image uploads: every acknowledged image intact, the cut-off one absent", async () => {
    const dir = dataDir("single");
    const emu = await start(dir);
    const sent = new Map<string, string>();
    const upload = async (i: number) => {
      const data = png(5000 + i);
      const m = multipart([{ field: `u-${i}.png`, filename: `u-${i}.png`, data }]);
      try {
        const res = await request(`${staging(emu.url, "crash-single")}/upload/image?api_key=${KEY}&fileName=u-${i}.png`, {
          method: "POST",
          body: m.body,
          headers: { "content-type": m.contentType },
        });
        await res.body.text();
        if (res.statusCode === 200) sent.set(`u-${i}.png`, sha(data));
      } catch {
        // Not acknowledged: may or may not be there, but never half-written.
      }
    };
    // 20 acknowledged before the kill, then 10 more racing with it.
    for (let i = 0; i < 20; i++) await upload(i);
    const uploads = Array.from({ length: 10 }, (_, k) => upload(20 + k));
    const big = Buffer.concat([png(99), Buffer.alloc(3 * 1024 * 1024, 7)]);
    const m = multipart([{ field: "cut.png", filename: "cut.png", data: big }]);
    const slow = startSlowRequest(
      `${staging(emu.url, "crash-single")}/upload/image?api_key=${KEY}&fileName=cut.png`,
      "POST",
      { "content-type": m.contentType, "content-length": m.body.length },
      m.body.subarray(0, m.body.length / 2),
    );
    await slow.sent;
    await new Promise((r) => setTimeout(r, 20));
    await emu.kill9();
    await Promise.all(uploads);
    expect(await slow.outcome).toMatch(/failed/);

    const again = await start(dir);
    const files = await filesOf(again.url, "crash-single");
    for (const [name, digest] of sent) expect(files.get(name), `acknowledged ${name}`).toBe(digest);
    // Anything else visible must be a complete image we sent (an upload whose answer the kill swallowed).
    for (const [name, digest] of files) {
      if (sent.has(name)) continue;
      const i = Number(/^u-(\d+)\.png$/.exec(name)?.[1] ?? NaN);
      expect(Number.isInteger(i), `unexpected file ${name}`).toBe(true);
      expect(digest).toBe(sha(png(5000 + i)));
    }
    expect(files.has("cut.png")).toBe(false);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
    figures.push(`single: ${sent.size} acknowledged uploads intact of 30 (20 before the kill, 10 racing it) (${files.size} visible), cut-off upload absent`);
    await again.stop();
  });

  it("mid-job: after restart the job completes once with one result per image", async () => {
    const dir = dataDir("job");
    const hooks: any[] = [];
    const sink = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        hooks.push(JSON.parse(body || "null"));
        res.writeHead(200).end("{}");
      });
    });
    await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/job`;
    try {
      // A slow clock (20× real time) so the job is still running when it is killed.
      const emu = await start(dir, { EMULATOR_TIME_SCALE: "20" });
      const n = 768;
      for (let s = 0; s < 3; s++) {
        const slot = await api("POST", `${staging(emu.url, "crash-job-in")}/bulk-upload/image-files`);
        const d = slot.json.signedURLDetails;
        const put = await request(d.uploadURL, {
          method: "PUT",
          body: tar(Array.from({ length: 256 }, (_, i) => ({ name: `j-${s * 256 + i}.png`, data: png(20_000 + s * 256 + i) }))),
          headers: d.extensionHeaders ?? {},
        });
        await put.body.text();
        expect(put.statusCode).toBeLessThan(300);
      }
      await waitFor(async () => (await api("GET", `${staging(emu.url, "crash-job-in")}/count`)).json.count === n, 60_000, "input indexed");
      const jobUrl = `${emu.url}/batch-processing/v1/external/${WS}/jobs/crash-job`;
      const created = await api("POST", jobUrl, {
        type: "simple-image-processing-v1",
        jobInput: { type: "staging-batch-input-v1", batchId: "crash-job-in" },
        computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 1 },
        processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "crash-wf", aggregationFormat: "jsonl" },
        maxParallelTasks: 1,
        notificationsURL: hookUrl,
      });
      expect(created.status).toBe(200);
      // Kill once processing has made progress but the job is not done.
      const progressed = await waitFor(
        async () => {
          const tasks = await api("GET", `${jobUrl}/stages/processing/tasks`);
          if (tasks.status !== 200) return undefined;
          const done = tasks.json.tasks.filter((t: any) => t.statusType !== "info").length;
          const moving = tasks.json.tasks.some((t: any) => (t.progress ?? 0) > 0);
          return done >= 1 || moving ? { done, total: tasks.json.tasks.length } : undefined;
        },
        60_000,
        "processing to make progress",
      );
      const before = (await api("GET", jobUrl)).json.job;
      expect(before.isTerminal).toBe(false);
      await emu.kill9();

      const again = await start(dir);
      const job = await waitFor(
        async () => {
          const j = (await api("GET", `${again.url}/batch-processing/v1/external/${WS}/jobs/crash-job`)).json.job;
          return j?.isTerminal ? j : undefined;
        },
        60_000,
        "the job to finish after restart",
      );
      expect(job.error).toBe(false);
      const stages = (await api("GET", `${again.url}/batch-processing/v1/external/${WS}/jobs/crash-job/stages`)).json.stages;
      const processing = stages.find((s: any) => s.processingStageId === "processing").outputBatches[0];
      const results: string[] = [];
      let token: string | null = null;
      do {
        const page: any = await api("GET", `${staging(again.url, processing)}/list?pageSize=1000${token ? `&nextPageToken=${token}` : ""}`);
        for (const f of page.json.filesMetadata) {
          const res = await request(f.downloadURL);
          const text = await res.body.text();
          for (const line of text.split("\n")) if (line.trim()) results.push(JSON.parse(line).image_name);
        }
        token = page.json.nextPageToken;
      } while (token);
      expect(results.length).toBe(n);
      expect(new Set(results).size).toBe(n);
      const exportBatch = stages.find((s: any) => s.processingStageId === "export").outputBatches[0];
      expect((await api("GET", `${staging(again.url, exportBatch)}/count`)).json.count).toBeGreaterThan(0);
      await waitFor(() => hooks.some((h) => h?.job_id === "crash-job"), 20_000, "the job webhook");
      await new Promise((r) => setTimeout(r, 500));
      const finals = new Set(hooks.filter((h) => h?.job_id === "crash-job").map((h) => h.event_id));
      expect(finals.size).toBe(1);
      figures.push(
        `job: killed with ${progressed!.done}/${progressed!.total} processing tasks done; after restart ${results.length} results for ${n} images, no duplicates, ${finals.size} completion notification`,
      );
      await again.stop();
    } finally {
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});
