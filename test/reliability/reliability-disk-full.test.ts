// A full disk: the emulator runs on a small tmpfs (mounted here; CI runs as root), the disk is filled
// up, and then: the process stays up, reads keep working, every write is refused with a clear 507
// and stores nothing, a running job pauses instead of failing, every acknowledged file keeps its
// bytes, and once space is freed everything works again without a restart.
// Before the fix the first journal flush or clock save on the full disk threw SQLITE_FULL from a
// timer and the process died.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { readResponse } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";
import { request } from "undici";

const WS = "emulator-workspace";
const KEY = "emulator-api-key";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-full-"));
const mnt = path.join(root, "mnt");

function tryMount(): string | null {
  fs.mkdirSync(mnt, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt], { stdio: "pipe" });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
const mountProblem = tryMount();

/** Fills the file system up to the last block with a filler file; returns its path. */
function fillDisk(): string {
  const filler = path.join(mnt, "filler");
  const fd = fs.openSync(filler, "w");
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try {
    for (const size of [chunk.length, 64 * 1024, 4096, 512]) {
      for (;;) {
        try {
          fs.writeSync(fd, chunk, 0, size);
        } catch {
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

async function call(base: string, method: string, p: string, opts: { json?: unknown; body?: Buffer; headers?: Record<string, string> } = {}) {
  const url = new URL(base + p);
  if (!url.pathname.startsWith("/_emulator") && !url.searchParams.has("api_key")) url.searchParams.set("api_key", KEY);
  const headers = { ...(opts.headers ?? {}) };
  let body: Buffer | string | undefined = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] = "application/json";
  }
  return readResponse(await request(url, { method: method as "GET", body, headers }));
}

function uploadImage(base: string, batch: string, name: string, bytes: Buffer) {
  const { body, contentType } = multipart([{ field: name, filename: name, contentType: "image/png", data: bytes }]);
  return call(base, "POST", `/data-staging/v1/external/${WS}/batches/${batch}/upload/image?fileName=${name}`, {
    body,
    headers: { "content-type": contentType },
  });
}

const imageJob = (batchId: string) => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu", workersPerMachine: 4 },
  processingTimeoutSeconds: 3600,
  processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "wf", aggregationFormat: "jsonl" },
});

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

describe.skipIf(mountProblem !== null)("a full disk", () => {
  let emu: ChildEmulator;
  beforeAll(async () => {
    emu = await startChildEmulator(path.join(mnt, "data"));
  });
  afterAll(async () => {
    await emu?.stop();
    try {
      execFileSync("umount", [mnt], { stdio: "pipe" });
    } catch {
      // Already gone.
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("refuses writes with 507, keeps serving reads and acknowledged files, pauses a job, and recovers once space is freed", async () => {
    const acknowledged = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      const bytes = png(i, 64);
      expect((await uploadImage(emu.url, "before", `a${i}.png`, bytes)).status).toBe(200);
      acknowledged.set(`a${i}.png`, bytes);
    }
    // A job waits on a manual clock, so it is mid-way when the disk fills.
    expect((await call(emu.url, "POST", "/_emulator/clock", { json: { mode: "manual" } })).status).toBe(200);
    expect((await call(emu.url, "POST", `/batch-processing/v1/external/${WS}/jobs/full-job`, { json: imageJob("before") })).status).toBe(200);

    const filler = fillDisk();
    // Writes are refused clearly; nothing is stored.
    const refused = await uploadImage(emu.url, "during", "x.png", png(100, 64));
    expect(refused.status).toBe(507);
    expect(refused.json.error.type).toBe("insufficient-storage");
    expect(refused.json.message).toMatch(/disk|space/i);
    const slot = await call(emu.url, "POST", `/data-staging/v1/external/${WS}/batches/during-video/upload/video?fileName=v.mp4`);
    expect([200, 507]).toContain(slot.status);
    // The job's steps meet the full disk: they wait and retry, the job does not fail.
    await call(emu.url, "POST", "/_emulator/clock/advance", { json: { ms: 60_000 } });
    await new Promise((r) => setTimeout(r, 1500)); // past the journal flush and clock save timers
    const job = await call(emu.url, "GET", `/batch-processing/v1/external/${WS}/jobs/full-job`);
    expect(job.status).toBe(200);
    expect(job.json.job.error ?? false).toBeFalsy();
    expect(emu.output()).toMatch(/job full-job paused: the disk is full/);
    // Reads keep working, and every acknowledged file still has its bytes.
    expect((await call(emu.url, "GET", "/health")).status).toBe(200);
    const list = await call(emu.url, "GET", `/data-staging/v1/external/${WS}/batches/before/list`);
    expect(list.status).toBe(200);
    expect(list.json.filesMetadata).toHaveLength(acknowledged.size);
    for (const f of list.json.filesMetadata) {
      const d = await request(f.downloadURL);
      expect(sha(Buffer.from(await d.body.arrayBuffer()))).toBe(sha(acknowledged.get(f.fileName)!));
    }
    const during = await call(emu.url, "GET", `/data-staging/v1/external/${WS}/batches/during/count`);
    expect(during.status === 404 || during.json.count === 0).toBe(true);

    // Space comes back: the next write works without a restart, and the job finishes whole.
    fs.rmSync(filler);
    expect((await uploadImage(emu.url, "after", "b.png", png(200, 64))).status).toBe(200);
    for (let i = 0; i < 20; i++) {
      await call(emu.url, "POST", "/_emulator/clock/advance", { json: { to: "idle" } });
      const j = await call(emu.url, "GET", `/batch-processing/v1/external/${WS}/jobs/full-job`);
      if (j.json.job.isTerminal) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = await call(emu.url, "GET", `/batch-processing/v1/external/${WS}/jobs/full-job`);
    expect(done.json.job.isTerminal).toBe(true);
    expect(done.json.job.error ?? false).toBeFalsy();
    const results = await call(emu.url, "GET", `/data-staging/v1/external/${WS}/batches/full-job-processing/list?partName=results`);
    expect(results.status).toBe(200);
    let records = 0;
    for (const f of results.json.filesMetadata) {
      const d = await request(f.downloadURL);
      records += (await d.body.text()).split("\n").filter(Boolean).length;
    }
    expect(records).toBe(acknowledged.size);
    // The process never went down.
    expect(emu.child.exitCode).toBeNull();
  });
});

if (mountProblem !== null) {
  describe("a full disk (not run)", () => {
    it.skip(`needs a tmpfs mount, refused here: ${mountProblem}`, () => {});
  });
}
