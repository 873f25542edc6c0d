// The documentation's own lines, run as written: every curl block of the integration guide
// (/work/shared/seeds/002_*.txt) with real curl, only the base URL and the guide's placeholders filled in
// (workspace, ids, key, upload URL + its headers, local file paths, page tokens, part names); and the
// forum thread's Python script (seed 000), copied to test/fixtures/forum_batch_workflow.py with only the
// base URLs, key, workspace and image source changed.
//
// curl's status code is read through a curlrc (CURL_HOME) with `write-out`, so the lines themselves
// carry no extra flags.
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { jpeg, mp4, png, tar } from "../helpers/fixtures.js";

const run = promisify(execFile);
const SEEDS = process.env.RF_SEEDS_DIR ?? "/work/shared/seeds";
const FORUM_SCRIPT = path.resolve("test/fixtures/forum_batch_workflow.py");

let emu: TestEmulator;
let root: string;
let blocks: string[];

/** The guide's ```bash blocks that talk to the API (not the cloud-storage helper scripts). */
function curlBlocks(doc: string): string[] {
  const out: string[] = [];
  const re = /^([ \t]*)```bash\n([\s\S]*?)^[ \t]*```/gm;
  for (const m of doc.matchAll(re)) {
    const indent = m[1].length;
    const text = m[2]
      .split("\n")
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join("\n")
      .trim();
    if (/^curl /.test(text) && !/curl -fsSL/.test(text)) out.push(text);
  }
  return out;
}

function find(pattern: RegExp): string {
  const hits = blocks.filter((b) => pattern.test(b));
  if (hits.length === 0) throw new Error(`no curl block in the guide matches ${pattern}`);
  return hits[0];
}

/** Fills the guide's placeholders; everything else in the line stays as written. */
function fill(block: string, vars: Record<string, string>): string {
  let s = block.replaceAll("https://api.roboflow.com", emu.url);
  for (const [k, v] of Object.entries(vars)) s = s.split(k).join(v);
  return s;
}

/** Drops one `--data-urlencode "name=..."` continuation line (an optional parameter the guide marks as such). */
function withoutParam(block: string, name: string): string {
  return block
    .split("\n")
    .filter((l) => !l.includes(`--data-urlencode "${name}=`))
    .join("\n")
    .replace(/\s*\\\s*$/, "");
}

/**
 * The smallest repair of a line that cannot run as written: drop `-G` and put its
 * `--data-urlencode` pairs in the URL's query string. Everything else stays.
 */
function withQueryInUrl(block: string): string {
  const pairs: string[] = [];
  const kept = block.split("\n").filter((l) => {
    const m = /--data-urlencode "([^=]+)=([^"]*)"/.exec(l);
    if (m) {
      pairs.push(`${encodeURIComponent(m[1])}=${encodeURIComponent(m[2])}`);
      return false;
    }
    return !/^\s*-G\s*\\?\s*$/.test(l);
  });
  kept[0] = kept[0].replace(/"(http[^"]+)"/, (_, u: string) => `"${u}?${pairs.join("&")}"`);
  return kept.join("\n");
}

function journalCount(): Promise<number> {
  return emu.controls.journalCount();
}

/** Runs a documented line that curl itself refuses; returns curl's exit code and checks nothing reached the emulator. */
async function refusedByCurl(line: string): Promise<{ code: number; stderr: string }> {
  const before = await journalCount();
  const res = await run("bash", ["-c", line], { env: { ...process.env, CURL_HOME: root }, cwd: root }).then(
    () => ({ code: 0, stderr: "" }),
    (err: any) => ({ code: err.code as number, stderr: String(err.stderr ?? "") }),
  );
  expect(await journalCount()).toBe(before);
  return res;
}

async function curl(line: string): Promise<{ status: number; body: string; json: any }> {
  const { stdout } = await run("bash", ["-c", line], { env: { ...process.env, CURL_HOME: root }, cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const m = /\n?@@HTTP (\d{3})@@\s*$/.exec(stdout);
  if (!m) throw new Error(`no status from curl for:\n${line}\n${stdout.slice(-500)}`);
  const body = stdout.slice(0, m.index);
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: Number(m[1]), body, json };
}

async function ok(line: string) {
  const r = await curl(line);
  if (r.status < 200 || r.status >= 300) throw new Error(`HTTP ${r.status} for:\n${line}\n${r.body.slice(0, 800)}`);
  return r;
}

const headerFlags = (h: Record<string, string>) =>
  Object.entries(h ?? {})
    .map(([k, v]) => `-H "${k}: ${v}"`)
    .join(" ");

beforeAll(async () => {
  emu = await startTestEmulator();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-docs-"));
  fs.writeFileSync(path.join(root, ".curlrc"), 'silent\nshow-error\nwrite-out = "\\n@@HTTP %{http_code}@@\\n"\n');
  const guide = fs.readdirSync(SEEDS).find((f) => f.startsWith("002_"));
  if (!guide) throw new Error(`the integration guide (002_*.txt) is not in ${SEEDS}`);
  blocks = curlBlocks(fs.readFileSync(path.join(SEEDS, guide), "utf8"));
});

afterAll(async () => {
  await emu?.close();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe("the integration guide's curl lines, run with real curl", () => {
  const ids = { "{workspace}": "", YOUR_API_KEY: "" };
  const base = () => ({ "{workspace}": emu.workspace, YOUR_API_KEY: emu.apiKey });

  it("finds every documented API call", () => {
    void ids;
    // upload image, upload video, bulk image files, PUT (x2), count, shards, start job, job, stages, tasks, parts, list, download.
    expect(blocks.length).toBeGreaterThanOrEqual(14);
    for (const p of [
      /upload\/image"/,
      /upload\/video"/,
      /bulk-upload\/image-files"/,
      /curl -X PUT </,
      /\/count"/,
      /\/shards"/,
      /-X POST .*\/jobs\/\{job_id\}"/,
      /-X GET .*\/jobs\/\{job_id\}"/,
      /\/stages"/,
      /\/tasks"/,
      /\/parts"/,
      /\/list"/,
      /^curl <download-url>/,
    ]) {
      expect(
        blocks.some((b) => p.test(b)),
        String(p),
      ).toBe(true);
    }
  });

  it("single image upload with -F: as written curl refuses it (-G with -F); without -G it works; then count", async () => {
    const image = path.join(root, "image.jpg");
    fs.writeFileSync(image, jpeg());
    const line = fill(find(/upload\/image"/), { ...base(), "{batch_id}": "docs-images", "/path/to/your/image.jpg": image });
    // Documentation bug (docs/fidelity.md): curl will not combine -G (GET with a query) and -F (multipart POST).
    const refused = await refusedByCurl(line);
    // Exit 2 = "failed to initialize" (curl: "You can only select one HTTP request method!").
    expect(refused.code).toBe(2);
    const r = await ok(withQueryInUrl(line));
    expect(r.status).toBe(200);
    const count = await ok(fill(find(/\/count"/), { ...base(), "{batch_id}": "docs-images" }));
    expect(count.json.count).toBe(1);
  });

  it("video: ask for an upload URL, PUT the file with every extension header", async () => {
    const video = path.join(root, "your_video.mp4");
    fs.writeFileSync(video, mp4(3));
    const slot = await ok(fill(find(/upload\/video"/), { ...base(), "{batch_id}": "docs-videos" }));
    const d = slot.json.signedURLDetails;
    expect(d.uploadURL).toMatch(/^http:\/\/127\.0\.0\.1:/);
    await ok(
      fill(find(/curl -X PUT </), {
        "<url-from-the-response>": `"${d.uploadURL}"`,
        '-H "Name: value"': headerFlags(d.extensionHeaders),
        "<path-to-your-video>": video,
      }),
    );
    const count = await ok(fill(find(/\/count"/), { ...base(), "{batch_id}": "docs-videos" }));
    expect(count.json.count).toBe(1);
  });

  it("bulk upload: two tar shards through upload URLs, count after indexing, shards with and without a page token", async () => {
    const puts = blocks.filter((b) => /curl -X PUT </.test(b));
    for (let s = 0; s < 2; s++) {
      const archive = path.join(root, `shard-${s}.tar`);
      fs.writeFileSync(archive, tar([0, 1, 2].map((i) => ({ name: `s${s}-${i}.png`, data: png(500 + s * 10 + i) }))));
      const slot = await ok(fill(find(/bulk-upload\/image-files"/), { ...base(), "{batch_id}": "docs-bulk" }));
      const d = slot.json.signedURLDetails;
      // The guide shows the PUT line twice (video and bulk); run the bulk section's copy.
      await ok(
        fill(puts[puts.length - 1], {
          "<url-from-the-response>": `"${d.uploadURL}"`,
          '-H "Name: value"': headerFlags(d.extensionHeaders),
          "<path-to-your-video>": archive,
        }),
      );
    }
    const countLine = fill(find(/\/count"/), { ...base(), "{batch_id}": "docs-bulk" });
    await waitFor(async () => (await ok(countLine)).json.count === 6, 20_000, "6 images indexed");
    const shardsBlock = fill(find(/\/shards"/), { ...base(), "{batch_id}": "docs-bulk" });
    const first = await ok(withoutParam(shardsBlock, "nextPageToken"));
    expect(first.json.shards).toHaveLength(2);
    // A real token (from a one-item page) in place of OptionalNextPageToken.
    const page = await emu.call("GET", `${emu.staging("docs-bulk")}/shards?pageSize=1`);
    expect(page.json.nextPageToken).toBeTruthy();
    const second = await ok(shardsBlock.replace("OptionalNextPageToken", page.json.nextPageToken));
    expect(second.json.shards.map((s: any) => s.shardId)).toEqual([first.json.shards[1].shardId]);
  });

  it("start a job with the documented body, poll status, stages and tasks", async () => {
    const vars = { ...base(), "{batch_id}": "docs-bulk", "{job_id}": "docs-job-1", "{workflow_id}": "docs-workflow", "{stage_id}": "processing" };
    const line = fill(find(/-X POST .*\/jobs\/\{job_id\}"/), vars);
    // Documentation bug (docs/fidelity.md): with -G curl appends the -d JSON to the URL (spaces, newlines)
    // and gives up with "URL using bad/illegal format" before sending anything.
    const refused = await refusedByCurl(line);
    expect(refused.code).toBe(3);
    const started = await ok(withQueryInUrl(line));
    expect(started.status).toBe(200);
    expect(started.json.status).toBe("ok");
    const statusLine = fill(find(/-X GET .*\/jobs\/\{job_id\}"/), vars);
    const done = await waitFor(
      async () => {
        const r = await ok(statusLine);
        return r.json.job.isTerminal ? r.json.job : undefined;
      },
      30_000,
      "the job to finish",
    );
    expect(done.error).toBe(false);
    const stages = await ok(fill(find(/\/stages"/), vars));
    expect(stages.json.stages.map((s: any) => s.processingStageId)).toEqual(["processing", "export"]);
    const tasksBlock = fill(find(/\/tasks"/), vars);
    const tasks = await ok(withoutParam(tasksBlock, "nextPageToken"));
    expect(tasks.json.tasks.length).toBeGreaterThan(0);
    expect(tasks.json.nextPageToken === null || typeof tasks.json.nextPageToken === "string").toBe(true);
    const page = await emu.call("GET", `${emu.jobs("docs-job-1")}/stages/processing/tasks?pageSize=1`);
    if (page.json.nextPageToken) {
      const next = await ok(tasksBlock.replace("{next_page_token}", page.json.nextPageToken));
      expect(next.json.tasks[0].taskId).toBe(tasks.json.tasks[1].taskId);
    }
  });

  it("export: parts of the output batch, list with part name and page token, download with curl -o", async () => {
    const stages = (await emu.call("GET", `${emu.jobs("docs-job-1")}/stages`)).json.stages;
    const exportBatch = stages.find((s: any) => s.processingStageId === "export").outputBatches[0];
    const processingBatch = stages.find((s: any) => s.processingStageId === "processing").outputBatches[0];
    const parts = await ok(fill(find(/\/parts"/), { ...base(), "{batch_id}": exportBatch }));
    expect(parts.json.batchParts.length).toBeGreaterThan(0);
    const part = parts.json.batchParts[0].partName;
    const listBlock = fill(find(/\/list"/), { ...base(), "{batch_id}": exportBatch, YOUR_PART_NAME: part });
    const list = await ok(withoutParam(listBlock, "nextPageToken"));
    expect(list.json.filesMetadata.length).toBeGreaterThan(0);
    const procParts = (await emu.call("GET", `${emu.staging(processingBatch)}/parts`)).json.batchParts;
    const procPage = await emu.call("GET", `${emu.staging(processingBatch)}/list?pageSize=1&partName=${procParts[0].partName}`);
    if (procPage.json.nextPageToken) {
      const next = await ok(
        fill(find(/\/list"/), {
          ...base(),
          "{batch_id}": processingBatch,
          YOUR_PART_NAME: procParts[0].partName,
          YOUR_NEXT_PAGE_TOKEN: procPage.json.nextPageToken,
        }),
      );
      expect(next.json.filesMetadata.length).toBeGreaterThan(0);
    }
    const file = list.json.filesMetadata[0];
    const target = path.join(root, "downloaded.bin");
    await ok(fill(find(/^curl <download-url>/), { "<download-url>": `"${file.downloadURL}"`, "<downlaod-file-location>": target }));
    const bytes = fs.readFileSync(target);
    expect(bytes.length).toBeGreaterThan(0);
    // tar.gz export archives start with the gzip magic.
    if (file.fileName.endsWith(".tar.gz")) expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
  });
});

describe("the forum thread's Python script (seed 000)", () => {
  it("gets through upload and count, starts the job, then polls (forever, as written) with the real service's shapes", async () => {
    const image = path.join(root, "cars-highway.png");
    fs.writeFileSync(image, png(77));
    const child = spawn("python3", [FORUM_SCRIPT], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: root,
        PYTHONDONTWRITEBYTECODE: "1",
        PYTHONUNBUFFERED: "1",
        EMULATOR_URL: emu.url,
        EMULATOR_API_KEY: emu.apiKey,
        EMULATOR_WORKSPACE: emu.workspace,
        FORUM_IMAGE_PATH: image,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    // The script loops forever (it looks for jobStatus/progress keys the API does not send): stop it
    // once it has polled twice.
    try {
      await waitFor(
        () => (out.match(/status: ok {2}progress: \?/g) ?? []).length >= 1 || child.exitCode !== null,
        30_000,
        "the script to reach its polling loop",
      );
    } finally {
      child.kill("SIGKILL");
    }
    expect(out).not.toMatch(/Traceback/);
    expect(out).toContain("[1/5] Uploading image...");
    expect(out).toMatch(/Uploaded image to batch 'lpr-bench-\d+': 200/);
    expect(out).toContain("[2/5] Verifying batch count...");
    expect(out).toMatch(/Batch 'lpr-bench-\d+' item count: \{'status': 'ok', 'count': 1\}/);
    expect(out).toContain("[3/5] Starting batch processing job...");
    expect(out).toMatch(/Started job 'lpr-job-\d+': \{'status': 'ok'/);
    expect(out).toContain("[4/5] Polling job status...");
    expect(out).toMatch(/Job 'lpr-job-\d+' status: ok {2}progress: \?/);
  });
});
