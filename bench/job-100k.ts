// 100,000-image job benchmark: stages N tiny PNGs straight into a data folder (rows + blobs through
// src/state, no HTTP: staging speed is not what is measured), starts the emulator on that folder as
// users run it (time scale max), starts a job over HTTP and measures start → job success →
// every export archive downloaded and unpacked, the emulator's peak RSS, and how fast job GETs
// answer while the job runs.
//
//   node --import tsx bench/job-100k.ts            (BENCH_JOB_IMAGES=N to change the size, BENCH_QUICK=1 → 10,000)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import crypto from "node:crypto";
import { request } from "undici";
import * as tar from "tar";
import { openStore } from "../src/state/db.js";
import { BATCH_RETENTION_MS, insertBatch } from "../src/state/batches.js";
import { png } from "../test/helpers/fixtures.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WS = "emulator-workspace";
const KEY = "emulator-api-key";
const BATCH = "bench-100k";
const JOB = "bench-100k-job";

export interface JobBenchResult {
  images: number;
  stageMs: number;
  startToSuccessMs: number;
  startToDownloadedMs: number;
  peakRssMb: number;
  rssAtStartMb: number;
  getP50Ms: number;
  getMaxMs: number;
  archives: number;
  resultLines: number;
  stages: { name: string; tasks: number; ms: number }[];
}

/** Writes `n` distinct tiny PNGs and their file rows (one transaction per 10,000 rows; blobs not fsynced: bench only). */
export function stageImages(dataDir: string, n: number): void {
  const store = openStore(dataDir);
  try {
    const now = Date.now();
    insertBatch(store.db, {
      workspace_id: WS,
      batch_id: BATCH,
      display_name: BATCH,
      batch_type: "simple-batch",
      content_type: "images",
      origin: "user",
      created_at: now,
      expires_at: now + BATCH_RETENTION_MS,
    });
    const insert = store.db.prepare(
      `INSERT INTO files (workspace_id, batch_id, part_name, file_name, content_type, nested_content_type, shard_id, blob, size, sha256, media_type, created_at)
       VALUES (?, ?, '', ?, 'image', NULL, NULL, ?, ?, ?, 'image/png', ?)`,
    );
    const dirs = new Set<string>();
    for (let start = 0; start < n; start += 10_000) {
      store.db.transaction(() => {
        for (let i = start; i < Math.min(n, start + 10_000); i++) {
          const bytes = png(i);
          const rel = path.join("bench", String(i % 256).padStart(3, "0"), `img-${i}.png`);
          const abs = store.blobs.path(rel);
          const dir = path.dirname(abs);
          if (!dirs.has(dir)) {
            fs.mkdirSync(dir, { recursive: true });
            dirs.add(dir);
          }
          fs.writeFileSync(abs, bytes);
          insert.run(WS, BATCH, `img-${String(i).padStart(6, "0")}.png`, rel, bytes.length, crypto.createHash("sha256").update(bytes).digest("hex"), now);
        }
      })();
    }
  } finally {
    store.close();
  }
}

function procStatus(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function getJson(url: string): Promise<{ status: number; json: any; ms: number }> {
  const t0 = performance.now();
  const res = await request(url);
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text), ms: performance.now() - t0 };
}

function startEmulator(dataDir: string): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, EMULATOR_TIME_SCALE: "max" });
  delete env.EMULATOR_CHECK_RESPONSES;
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start:\n${out}`)), 60_000);
    child.stderr.on("data", (d) => (out += d));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          pid: child.pid!,
          stop: () => new Promise<void>((r) => (child.exitCode !== null ? r() : (child.once("exit", () => r()), child.kill("SIGTERM")))),
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`emulator exited (${code}):\n${out}`)));
  });
}

export async function runJobBench(images: number): Promise<JobBenchResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-job-bench-"));
  const t0 = performance.now();
  stageImages(dataDir, images);
  const stageMs = performance.now() - t0;
  const emu = await startEmulator(dataDir);
  try {
    const base = `${emu.url}/batch-processing/v1/external/${WS}/jobs`;
    const rssAtStartMb = procStatus(emu.pid, "VmRSS");
    const definition = {
      type: "simple-image-processing-v1",
      jobInput: { type: "staging-batch-input-v1", batchId: BATCH },
      computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
      // 100k images fit the default 3600 s of simulated gpu time (25 ms each); bigger runs need more.
      ...(images > 100_000 ? { processingTimeoutSeconds: 86_400 } : {}),
      processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "bench-workflow" },
    };
    const start = performance.now();
    const created = await request(`${base}/${JOB}?api_key=${KEY}`, {
      method: "POST",
      body: JSON.stringify(definition),
      headers: { "content-type": "application/json" },
    });
    const createdText = await created.body.text();
    if (created.statusCode !== 200) throw new Error(`job start answered ${created.statusCode}: ${createdText}`);
    const latencies: number[] = [];
    let job: any;
    for (;;) {
      const r = await getJson(`${base}/${JOB}?api_key=${KEY}`);
      latencies.push(r.ms);
      job = r.json.job;
      if (job.isTerminal) break;
      if (performance.now() - start > 600_000) throw new Error("job did not finish within 10 minutes");
      await new Promise((r) => setTimeout(r, 50));
    }
    const startToSuccessMs = performance.now() - start;
    if (job.error) throw new Error(`job failed: ${JSON.stringify(job.lastNotification)}`);

    const stagesJson = (await getJson(`${base}/${JOB}/stages?api_key=${KEY}`)).json.stages as any[];
    const exportBatch = stagesJson.find((s) => s.processingStageName === "export").outputBatches[0];
    const staging = `${emu.url}/data-staging/v1/external/${WS}/batches/${exportBatch}`;
    const parts = (await getJson(`${staging}/parts?api_key=${KEY}`)).json.batchParts as any[];
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-job-bench-out-"));
    let archives = 0;
    for (const part of parts) {
      let token: string | null = null;
      do {
        const page: any = (await getJson(`${staging}/list?api_key=${KEY}&partName=${part.partName}${token ? `&nextPageToken=${token}` : ""}`)).json;
        for (const f of page.filesMetadata) {
          const res = await request(f.downloadURL);
          const file = path.join(outDir, f.fileName);
          await fs.promises.writeFile(file, Buffer.from(await res.body.arrayBuffer()));
          await tar.x({ file, cwd: outDir });
          fs.rmSync(file);
          archives++;
        }
        token = page.nextPageToken;
      } while (token);
    }
    const startToDownloadedMs = performance.now() - start;
    let resultLines = 0;
    for (const name of fs.readdirSync(outDir)) {
      const text = fs.readFileSync(path.join(outDir, name), "utf8");
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) resultLines++;
    }
    fs.rmSync(outDir, { recursive: true, force: true });
    const peakRssMb = procStatus(emu.pid, "VmHWM");
    latencies.sort((a, b) => a - b);
    return {
      images,
      stageMs,
      startToSuccessMs,
      startToDownloadedMs,
      peakRssMb,
      rssAtStartMb,
      getP50Ms: latencies[Math.floor(latencies.length / 2)],
      getMaxMs: latencies[latencies.length - 1],
      archives,
      resultLines,
      stages: stagesJson.map((s) => ({
        name: s.processingStageName,
        tasks: s.tasksNumber,
        ms: Date.parse(s.lastEventTimestamp) - Date.parse(s.startTimestamp),
      })),
    };
  } finally {
    await emu.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const images = Number(process.env.BENCH_JOB_IMAGES ?? (process.env.BENCH_QUICK === "1" ? 10_000 : 100_000));
  const r = await runJobBench(images);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(`staged ${r.images} images in ${s(r.stageMs)} (rows + blobs written directly)`);
  console.log(`stages (emulated time): ${r.stages.map((x) => `${x.name} ${x.tasks} tasks ${s(x.ms)}`).join(", ")}`);
  console.log(`job GET while running: p50 ${r.getP50Ms.toFixed(1)} ms, max ${r.getMaxMs.toFixed(1)} ms; emulator RSS at start ${r.rssAtStartMb.toFixed(0)} MB`);
  console.log(`downloaded ${r.archives} archive(s), ${r.resultLines} result lines (expected ${r.images})`);
  if (r.resultLines !== r.images) {
    console.error("result line count does not match the number of images");
    process.exit(1);
  }
  console.log(
    `${r.images} images: start → success ${s(r.startToSuccessMs)}, start → export downloaded ${s(r.startToDownloadedMs)}, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
  );
}
