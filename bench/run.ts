// `npm run bench`: side-by-side measurements on loopback, every loop bounded. Prints a table and
// writes bench/results.md (date, machine). BENCH_QUICK=1 shortens every section (CI smoke run);
// `--only startup,status` (or BENCH_ONLY=...) runs a subset; `--help` lists the sections.
// bench/startup-quick.mjs is the start-up comparison alone, without a build or the peers.
import { spawnSync } from "node:child_process";
import zlib from "node:zlib";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { encodeToken } from "../src/state/pagination.js";
import { DEFAULT_API_KEY, DEFAULT_WORKSPACE } from "../src/config.js";
import { png, tar } from "../test/helpers/fixtures.js";
import { renderOpenApiDocument } from "../scripts/openapi-document.js";
import { load, type LoadOptions, type LoadResult } from "./lib/load.js";
import { ensurePeers } from "./lib/peers.js";
import { f, median, type Row } from "./lib/report.js";
import { seededDataDir, seededTasksDir } from "./lib/seeded.js";
import { clientFlow, perTest } from "./user-figures.js";
import { ROOT, spawnBare, spawnEmulator, spawnPrism, type Proc } from "./lib/procs.js";

const SECTIONS = ["startup", "status", "upload", "flow", "pertest", "pages", "job", "helper"];
const HELP = `npm run bench [-- --only SECTION,...]: sections ${SECTIONS.join(", ")} (default: all); BENCH_QUICK=1 shortens each. bench/profile.ts profiles one request under load.`;
const QUICK = process.env.BENCH_QUICK === "1";
const onlyArg = process.argv.indexOf("--only");
const ONLY = (onlyArg >= 0 ? process.argv[onlyArg + 1] : process.env.BENCH_ONLY)?.split(",").map((s) => s.trim());
const WS = DEFAULT_WORKSPACE;
const KEY = DEFAULT_API_KEY;
const WORK = path.join(ROOT, "bench", ".work");

const rows: Row[] = [];
const notes: string[] = [];

const tmpDir = (name: string) => {
  fs.mkdirSync(WORK, { recursive: true });
  return fs.mkdtempSync(path.join(WORK, `${name}-`));
};
const staging = (base: string, batch = "") => `${base}/data-staging/v1/external/${WS}/batches${batch ? `/${batch}` : ""}`;
const jobsUrl = (base: string, job = "") => `${base}/batch-processing/v1/external/${WS}/jobs${job ? `/${job}` : ""}`;

function push(r: Row) {
  rows.push(r);
  console.log(`  ${r.section} | ${r.metric}: ${r.emulator} vs ${r.baseline} → ${r.ratio} (goal ${r.goal}) ${r.verdict}${r.note ? ` — ${r.note}` : ""}`);
}

async function get(url: string): Promise<{ status: number; json: any; text: string }> {
  const res = await request(url);
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, json, text };
}

function wants(section: string) {
  return !ONLY || ONLY.includes(section);
}

// ---- setup -----------------------------------------------------------------------------------------

function build(): void {
  console.log("building dist/ (tsc, then the CLI bundle and its code cache, as npm run build does) so the emulator starts as users run it");
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (!fs.existsSync(path.join(ROOT, "dist", "cli.js"))) throw new Error(`build failed:\n${r.stdout}\n${r.stderr}`);
  if (r.status !== 0) notes.push(`tsc reported type errors while building dist/ (the build still emitted): ${r.stdout.split("\n")[0]}`);
  const b = spawnSync(process.execPath, [path.join(ROOT, "scripts", "bundle.mjs")], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  if (b.status !== 0) throw new Error(`bundling the CLI failed:\n${b.stdout}\n${b.stderr}`);
}

// ---- sections --------------------------------------------------------------------------------------

async function startup(spec: string) {
  const runs = QUICK ? 3 : 11;
  const emu: number[] = [];
  const bare: number[] = [];
  const tsx: number[] = [];
  const prism: number[] = [];
  // The floor, what the machine gives any Node process: spawn → first 200 of a trivial node:http server.
  const bodyFile = path.join(tmpDir("bare-start"), "body.json");
  fs.writeFileSync(bodyFile, "{}");
  // Emulator and floor alternate run by run (after one warm-up each), so a change in machine load hits both alike.
  for (let i = -1; i < runs; i++) {
    const p = await spawnEmulator(tmpDir("start"));
    if (i >= 0) emu.push(p.startMs);
    await p.stop();
    const b = await spawnBare("json", { BODY_FILE: bodyFile });
    if (i >= 0) bare.push(b.startMs);
    await b.stop();
  }
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const p = await spawnEmulator(tmpDir("start-tsx"), { runner: "tsx" });
    tsx.push(p.startMs);
    await p.stop();
  }
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    const p = await spawnPrism(spec);
    prism.push(p.startMs);
    await p.stop();
  }
  const e = median(emu);
  const b = median(bare);
  const pr = median(prism);
  push({
    section: "startup",
    metric: `spawn → first /health 200 (node bin/roboflow-batch-emulator.js as npm start runs it, bundled CLI, fresh data folder, median of ${runs})`,
    emulator: `${f(e, 0)} ms`,
    baseline: `Prism 5.14.2 ${f(pr, 0)} ms`,
    ratio: `${f(pr / e)}× faster`,
    goal: "< 150 ms and ≥ 5×",
    verdict: e < 150 && pr / e >= 5 ? "met" : "missed",
  });
  push({
    section: "startup",
    metric: `floor: a trivial node:http server, same spawn → first 200 (runs alternating with the emulator's)`,
    emulator: `${f(e, 0)} ms`,
    baseline: `bare node ${f(b, 0)} ms`,
    ratio: `${f(e / b, 2)}× the floor`,
    goal: "≤ 1.5× the floor",
    verdict: e <= 1.5 * b ? "met" : "missed",
    note: `the emulator's own share: ${f(e - b, 0)} ms`,
  });
  push({
    section: "startup",
    metric: "same via `node --import tsx src/cli.ts` (dev mode, transpiles on load)",
    emulator: `${f(median(tsx), 0)} ms`,
    baseline: "",
    ratio: "",
    goal: "",
    verdict: "info",
  });
}

/** Picks the GET the official client polls most: job status when the jobs API exists, else batch metadata. */
async function statusTarget(emu: Proc, batchId: string): Promise<{ path: string; what: string }> {
  const jobId = "bench-job";
  const body = {
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId },
    computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 1 },
    processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "bench-workflow" },
  };
  const res = await request(`${jobsUrl(emu.url, jobId)}?api_key=${KEY}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  await res.body.text();
  if (res.statusCode < 300) {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const r = await get(`${jobsUrl(emu.url, jobId)}?api_key=${KEY}`);
      if (r.json?.job?.isTerminal) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return { path: `/batch-processing/v1/external/${WS}/jobs/${jobId}?api_key=${KEY}`, what: "GET job status" };
  }
  notes.push(`status req/s measured on GET batch metadata: creating a job answered ${res.statusCode} (jobs API not available yet)`);
  return { path: `/data-staging/v1/external/${WS}/batches/${batchId}?api_key=${KEY}`, what: "GET batch metadata (jobs API not available)" };
}

/**
 * Runs the loads in alternating 1 s slices (A, B, C, A, B, C, ...) so a change in machine load during
 * the run hits every contender alike; returns each contender's totals.
 */
async function alternate(contenders: LoadOptions[], rounds: number): Promise<LoadResult[]> {
  const totals = contenders.map(() => ({ requests: 0, seconds: 0, errors: 0, non2xx: 0, p99: [] as number[] }));
  for (const c of contenders) await load({ ...c, durationS: 1 }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const res = await load({ ...contenders[i], durationS: 1 });
      totals[i].requests += res.requests;
      totals[i].seconds += 1;
      totals[i].errors += res.errors;
      totals[i].non2xx += res.non2xx;
      totals[i].p99.push(res.p99);
    }
  }
  return totals.map((t) => ({
    rps: t.requests / t.seconds,
    mbps: NaN,
    p50: NaN,
    p99: median(t.p99),
    requests: t.requests,
    errors: t.errors,
    non2xx: t.non2xx,
  }));
}

async function statusThroughput(spec: string) {
  const rounds = QUICK ? 2 : 6;
  const conns = 50;
  const batchId = "bench-batch";
  const emu = await spawnEmulator(seededDataDir(tmpDir("status"), batchId, 10));
  const target = await statusTarget(emu, batchId);
  const sample = await get(emu.url + target.path);
  if (sample.status !== 200) throw new Error(`${target.what} answered ${sample.status}: ${sample.text.slice(0, 300)}`);
  const bodyFile = path.join(tmpDir("bare-json"), "body.json");
  fs.writeFileSync(bodyFile, sample.text);
  const bare = await spawnBare("json", { BODY_FILE: bodyFile });
  const prism = await spawnPrism(spec);
  try {
    // The same server's /health is the ceiling of its request path: what a job GET adds is auth, the row and the journal.
    const [e, b, h, p] = await alternate(
      [emu.url + target.path, bare.url + target.path, emu.url + "/health", prism.url + target.path].map((url) => ({ url, connections: conns, durationS: 1 })),
      rounds,
    );
    const rss = emu.rssMb();
    const bad = e.errors + e.non2xx;
    const fast = e.p99 <= 5;
    push({
      section: "status",
      metric: `${target.what}, ${conns} connections, ${rounds} × 1 s slices alternating with the baselines, body ${sample.text.length} B`,
      emulator: `${f(e.rps, 0)} req/s (p99 ${e.p99} ms, RSS ${f(rss, 0)} MB)`,
      baseline: `bare node:http ${f(b.rps, 0)} req/s (p99 ${b.p99} ms)`,
      ratio: `${f((100 * e.rps) / b.rps, 0)}% of bare`,
      goal: "≥ 40% of bare, p99 ≤ 5 ms",
      verdict: e.rps >= 0.4 * b.rps && fast && bad === 0 ? "met" : "missed",
      note: bad ? `${bad} errors/non-2xx` : undefined,
    });
    push({
      section: "status",
      metric: "same GET vs the same emulator's /health (its request path without auth, store or journal)",
      emulator: `${f(e.rps, 0)} req/s`,
      baseline: `/health ${f(h.rps, 0)} req/s (p99 ${h.p99} ms)`,
      ratio: `${f((100 * e.rps) / h.rps, 0)}% of /health`,
      goal: "≥ 90% of /health",
      verdict: e.rps >= 0.9 * h.rps && bad === 0 ? "met" : "missed",
    });
    push({
      section: "status",
      metric: "same GET on Prism 5.14.2 mocking the emulator's OpenAPI document",
      emulator: `${f(e.rps, 0)} req/s`,
      baseline: `Prism ${f(p.rps, 0)} req/s${p.non2xx ? ` (${p.non2xx} non-2xx)` : ""}`,
      ratio: `${f(e.rps / p.rps)}× Prism`,
      goal: "≥ 3× Prism",
      verdict: e.rps >= 3 * p.rps ? "met" : "missed",
    });
  } finally {
    await Promise.all([emu.stop(), bare.stop(), prism.stop()]);
  }
}

function multipart(name: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = "----benchboundary";
  return {
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\n\r\n`),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** A valid PNG padded to about `bytes` with a private ancillary chunk (so every byte is a real image byte). */
function bigPng(seed: number, bytes: number): Buffer {
  const base = png(seed);
  const pad = Buffer.alloc(Math.max(0, bytes - base.length - 12), seed & 0xff);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(pad.length);
  const td = Buffer.concat([Buffer.from("prVt"), pad]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  // Insert before IEND (last 12 bytes).
  return Buffer.concat([base.subarray(0, base.length - 12), len, td, crc, base.subarray(base.length - 12)]);
}

async function uploads() {
  const dur = QUICK ? 2 : 5;
  const conns = 16;
  const image = png(7);
  const mp = multipart("bench.png", image);
  const emu = await spawnEmulator(tmpDir("upload"));
  const probe = await request(`${staging(emu.url, "bench-up")}/upload/image?api_key=${KEY}&fileName=probe.png`, {
    method: "POST",
    body: mp.body,
    headers: { "content-type": mp.contentType },
  });
  const probeText = await probe.body.text();
  if (probe.statusCode >= 300) {
    await emu.stop();
    push({
      section: "upload",
      metric: "single-image upload",
      emulator: "n/a",
      baseline: "",
      ratio: "",
      goal: "≥ 50% of raw PUT",
      verdict: "n/a",
      note: `upload/image answered ${probe.statusCode}: ${probeText.slice(0, 120)}`,
    });
    return;
  }
  let n = 0;
  const upPath = () => `/data-staging/v1/external/${WS}/batches/bench-up/upload/image?api_key=${KEY}&fileName=i${n++}.png`;
  const bareDir = tmpDir("bare-put");
  const bare = await spawnBare("put", { DIR: bareDir });
  // Alternating 1 s slices: emulator upload, raw PUT, emulator upload, ...
  const [e, b] = await alternate(
    [
      { url: emu.url, method: "POST", body: mp.body, headers: { "content-type": mp.contentType }, connections: conns, durationS: 1, pathFor: upPath },
      { url: bare.url + "/put", method: "PUT", body: image, connections: conns, durationS: 1 },
    ],
    dur,
  );
  await new Promise((r) => setTimeout(r, 500));
  const count = await get(`${staging(emu.url, "bench-up")}/count?api_key=${KEY}`);
  const groups = (await get(`${emu.url}/_emulator/overview`)).json?.uploadCommits as
    { groups: number; items: number; largestGroup: number; sizes: Record<string, number> } | undefined;
  // Tar ingest: shards of 256 images of ~64 KiB (≈16 MiB each) through the signed PUT.
  const shards = QUICK ? 2 : 6;
  // Unique member names per shard (a re-used name would replace the earlier image, not add one).
  const shardTars = Array.from({ length: shards }, (_, s) =>
    tar(Array.from({ length: 256 }, (_, i) => ({ name: `s${s}-${i}.png`, data: bigPng(s * 256 + i, 64 * 1024) }))),
  );
  const shardTar = shardTars[0];
  let tarBytes = 0;
  let tarMs = 0;
  let bareTarMs = 0;
  let tarNote = "";
  for (let s = 0; s < shards; s++) {
    const slot = await request(`${staging(emu.url, "bench-tar")}/bulk-upload/image-files?api_key=${KEY}`, { method: "POST" });
    const slotJson: any = await slot.body.json().catch(() => undefined);
    const details = slotJson?.signedURLDetails;
    if (!details?.uploadURL) {
      tarNote = `bulk-upload/image-files answered ${slot.statusCode}`;
      break;
    }
    const t0 = performance.now();
    const put = await request(details.uploadURL, { method: "PUT", body: shardTars[s], headers: details.extensionHeaders ?? {} });
    await put.body.text();
    tarMs += performance.now() - t0;
    if (put.statusCode >= 300) {
      tarNote = `PUT answered ${put.statusCode}`;
      break;
    }
    tarBytes += shardTars[s].length;
    // The same shard to the raw server, right after (same machine conditions).
    const b0 = performance.now();
    const rawPut = await request(bare.url + "/tar", { method: "PUT", body: shardTars[s] });
    await rawPut.body.text();
    bareTarMs += performance.now() - b0;
  }
  // Time until every shard is indexed (count reaches shards × 256), bounded.
  let indexedMs = NaN;
  if (!tarNote) {
    const t0 = performance.now();
    const deadline = t0 + 60_000;
    while (performance.now() < deadline) {
      const c = await get(`${staging(emu.url, "bench-tar")}/count?api_key=${KEY}`);
      if (c.json?.count >= shards * 256) {
        indexedMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await emu.stop();
  await bare.stop();
  fs.rmSync(bareDir, { recursive: true, force: true });
  // Requests still in flight when autocannon stops complete on the server without being counted as acknowledged.
  const acknowledged = e.requests - e.errors - e.non2xx;
  const stored = count.json?.count ?? 0;
  const grouped = groups
    ? `; group commit: ${groups.items} uploads in ${groups.groups} groups (mean ${f(groups.items / groups.groups)}, largest ${groups.largestGroup}; by size ${Object.entries(
        groups.sizes,
      )
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ")})`
    : "";
  push({
    section: "upload",
    metric: `single-image multipart upload (${image.length} B PNG, ${conns} conns, ${dur} × 1 s slices alternating with the raw PUT, which fsyncs each body alone)`,
    emulator: `${f(e.rps, 0)} req/s (p99 ${e.p99} ms)`,
    baseline: `raw PUT + fsync ${f(b.rps, 0)} req/s (p99 ${b.p99} ms)`,
    ratio: `${f((100 * e.rps) / b.rps, 0)}%`,
    goal: "≥ 100%",
    verdict: e.rps >= b.rps && e.errors + e.non2xx === 0 ? "met" : "missed",
    note: `${stored} stored for ${acknowledged} acknowledged in the measured slices (+ warm-up slice, + in flight at stop)${stored < acknowledged ? ` — ${acknowledged - stored} LOST` : ""}; ${e.non2xx} non-2xx; ${e.errors} errors${grouped}`,
  });
  if (tarNote) {
    push({ section: "upload", metric: "bulk tar ingest", emulator: "n/a", baseline: "", ratio: "", goal: "≥ 50% of raw PUT", verdict: "n/a", note: tarNote });
  } else {
    const mb = tarBytes / 1024 / 1024;
    push({
      section: "upload",
      metric: `bulk tar PUT, ${shards} shards × 256 images (${f(shardTar.length / 1024 / 1024)} MiB each)`,
      emulator: `${f(mb / (tarMs / 1000))} MB/s`,
      baseline: `raw PUT + fsync ${f(mb / (bareTarMs / 1000))} MB/s`,
      ratio: `${f((100 * bareTarMs) / tarMs, 0)}%`,
      goal: "≥ 50%",
      verdict: bareTarMs / tarMs >= 0.5 ? "met" : "missed",
      note: `all ${shards * 256} images indexed ${f(indexedMs, 0)} ms after the last PUT`,
    });
  }
}

interface PageTimes {
  first: number;
  deep: number;
  count: number;
  rss: number;
}

/**
 * Times a first page, a page near the end (keyset token) and an extra call on two emulators at once,
 * one over the small data folder and one over the big one, alternating request by request.
 */
async function pageTimesSideBySide(
  dirs: [string, string],
  ns: [number, number],
  listUrl: (base: string) => string,
  extraUrl: ((base: string) => string) | null,
): Promise<[PageTimes, PageTimes]> {
  const emus = [await spawnEmulator(dirs[0]), await spawnEmulator(dirs[1])];
  try {
    const times = emus.map(() => ({ first: [] as number[], deep: [] as number[], count: [] as number[] }));
    const urlsOf = (i: number): [keyof PageTimes, string][] => {
      const base = listUrl(emus[i].url);
      const out: [keyof PageTimes, string][] = [
        ["first", base],
        ["deep", `${base}&nextPageToken=${encodeToken(Math.max(0, ns[i] - 150) + 1)}`],
      ];
      if (extraUrl) out.push(["count", extraUrl(emus[i].url)]);
      return out;
    };
    const urls = [urlsOf(0), urlsOf(1)];
    for (let round = 0; round < (QUICK ? 20 : 60); round++) {
      for (let k = 0; k < urls[0].length; k++) {
        for (const i of [0, 1]) {
          const [key, url] = urls[i][k];
          const t = performance.now();
          const r = await get(url);
          (times[i] as Record<string, number[]>)[key].push(performance.now() - t);
          if (r.status !== 200) throw new Error(`${url} → ${r.status} ${r.text.slice(0, 200)}`);
          if (key !== "count" && !(JSON.stringify(r.json).length > 100)) throw new Error(`${url} returned an empty page`);
        }
      }
    }
    return [0, 1].map((i) => ({ first: median(times[i].first), deep: median(times[i].deep), count: median(times[i].count), rss: emus[i].rssMb() })) as [
      PageTimes,
      PageTimes,
    ];
  } finally {
    await Promise.all(emus.map((e) => e.stop()));
  }
}

async function pages() {
  const big = QUICK ? 100_000 : 1_000_000;
  const label = big >= 1_000_000 ? "1M" : `${big / 1000}k`;
  const kinds = [
    {
      what: "list (files of a batch)",
      seed: (n: number) => seededDataDir(tmpDir(`pages-${n}`), "big", n),
      list: (u: string) => `${staging(u, "big")}/list?api_key=${KEY}&pageSize=100`,
      extra: (u: string) => `${staging(u, "big")}/count?api_key=${KEY}`,
    },
    {
      what: "tasks (of a job stage)",
      seed: (n: number) => seededTasksDir(tmpDir(`tasks-${n}`), "big-job", n),
      list: (u: string) => `${jobsUrl(u, "big-job")}/stages/processing/tasks?api_key=${KEY}&pageSize=100`,
      extra: null,
    },
  ];
  for (const kind of kinds) {
    const t0 = performance.now();
    const dirs: [string, string] = [kind.seed(1_000), kind.seed(big)];
    notes.push(`pages: seeded 1,000 and ${big.toLocaleString("en")} ${kind.what} rows in ${f(performance.now() - t0, 0)} ms`);
    let a: PageTimes;
    let z: PageTimes;
    try {
      [a, z] = await pageTimesSideBySide(dirs, [1_000, big], kind.list, kind.extra);
    } finally {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
    push({
      section: "pages",
      metric: `${kind.what}: first page (100) at 1k vs ${label}`,
      emulator: `${f(z.first, 2)} ms`,
      baseline: `${f(a.first, 2)} ms at 1k`,
      ratio: `${f(z.first / a.first, 2)}`,
      goal: "≤ 1.5",
      verdict: z.first / a.first <= 1.5 ? "met" : "missed",
    });
    push({
      section: "pages",
      metric: `${kind.what}: deep page (token near the end) at 1k vs ${label}`,
      emulator: `${f(z.deep, 2)} ms`,
      baseline: `${f(a.deep, 2)} ms at 1k`,
      ratio: `${f(z.deep / a.deep, 2)}`,
      goal: "≤ 1.5",
      verdict: z.deep / a.deep <= 1.5 ? "met" : "missed",
    });
    push({
      section: "pages",
      metric: `${kind.what}: emulator RSS after paging, 1k vs ${label}`,
      emulator: `${f(z.rss, 0)} MB`,
      baseline: `${f(a.rss, 0)} MB at 1k`,
      ratio: `${f(z.rss / a.rss, 2)}`,
      goal: "≤ 1.5",
      verdict: z.rss / a.rss <= 1.5 ? "met" : "missed",
    });
    if (kind.extra)
      push({
        section: "pages",
        metric: `count at 1k vs ${label}`,
        emulator: `${f(z.count, 2)} ms`,
        baseline: `${f(a.count, 2)} ms at 1k`,
        ratio: `${f(z.count / a.count, 2)}`,
        goal: "",
        verdict: "info",
      });
  }
}

async function helper() {
  const testing = path.join(ROOT, "src", "testing.ts");
  if (!fs.existsSync(testing)) {
    push({
      section: "helper",
      metric: "in-process helper start+stop",
      emulator: "n/a",
      baseline: "",
      ratio: "",
      goal: "",
      verdict: "n/a",
      note: "src/testing.ts not present",
    });
    return;
  }
  const mod: any = await import(testing);
  const start = mod.startEmulatorForTests ?? mod.startTestEmulator ?? mod.start ?? mod.default;
  if (typeof start !== "function") {
    push({
      section: "helper",
      metric: "in-process helper start+stop",
      emulator: "n/a",
      baseline: "",
      ratio: "",
      goal: "",
      verdict: "n/a",
      note: `no start function exported (exports: ${Object.keys(mod).join(", ")})`,
    });
    return;
  }
  const times: number[] = [];
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    const t0 = performance.now();
    const h = await start();
    await (h.close ?? h.stop).call(h);
    times.push(performance.now() - t0);
  }
  push({
    section: "helper",
    metric: `in-process helper start+stop (src/testing.ts, median of ${times.length})`,
    emulator: `${f(median(times), 1)} ms`,
    baseline: "",
    ratio: "",
    goal: "",
    verdict: "info",
  });
}

async function job100k() {
  const script = path.join(ROOT, "bench", "job-100k.ts");
  if (!fs.existsSync(script)) {
    push({
      section: "job",
      metric: "100,000-image job, start → downloadable export",
      emulator: "n/a",
      baseline: "",
      ratio: "",
      goal: "",
      verdict: "n/a",
      note: "bench/job-100k.ts not present yet",
    });
    return;
  }
  const images = Number(process.env.BENCH_JOB_IMAGES ?? (QUICK ? 10_000 : 100_000));
  const { runJobBench } = (await import(script)) as { runJobBench: (n: number) => Promise<any> };
  const r = await runJobBench(images);
  const s = (ms: number) => `${f(ms / 1000, 1)} s`;
  push({
    section: "job",
    metric: `${images.toLocaleString("en")}-image job (time scale max): start → success / → every export archive downloaded`,
    emulator: `${s(r.startToSuccessMs)} / ${s(r.startToDownloadedMs)}`,
    baseline: "",
    ratio: "",
    goal: "",
    verdict: r.resultLines === images ? "info" : "missed",
    note: `${r.archives} archives, ${r.resultLines} result lines; peak RSS ${f(r.peakRssMb, 0)} MB; job GET while running p50 ${f(r.getP50Ms, 1)} ms, max ${f(r.getMaxMs, 0)} ms; staging ${s(r.stageMs)}; stages ${r.stages.map((x: any) => `${x.name} ${x.tasks} tasks ${s(x.ms)}`).join(", ")}`,
  });
}

// ---- report ----------------------------------------------------------------------------------------

function machine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? "unknown CPU"} × ${cpus.length}, ${f(os.totalmem() / 1024 ** 3, 1)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}, load average at start ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")}`;
}

function table(): string {
  const head = "| section | metric | emulator | baseline | ratio | goal | verdict | note |\n| --- | --- | --- | --- | --- | --- | --- | --- |";
  const esc = (s: string | undefined) => (s ?? "").replace(/\|/g, "\\|");
  return [
    head,
    ...rows.map(
      (r) => `| ${r.section} | ${esc(r.metric)} | ${esc(r.emulator)} | ${esc(r.baseline)} | ${esc(r.ratio)} | ${esc(r.goal)} | ${r.verdict} | ${esc(r.note)} |`,
    ),
  ].join("\n");
}

async function main() {
  if (process.argv.includes("--help")) {
    console.log(HELP);
    return;
  }
  const unknown = ONLY?.filter((s) => !SECTIONS.includes(s)) ?? [];
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(", ")}; ${HELP}`);
  const started = new Date();
  const machineLine = machine();
  ensurePeers();
  build();
  // Prism mocks the document this very build serves (the committed file may lag behind the code).
  const spec = path.join(tmpDir("spec"), "openapi.json");
  fs.writeFileSync(spec, renderOpenApiDocument());
  const sections: [string, () => Promise<void>][] = [
    ["startup", () => startup(spec)],
    ["status", () => statusThroughput(spec)],
    ["upload", uploads],
    ["flow", async () => push(await clientFlow({ quick: QUICK, tmpDir }))],
    ["pertest", async () => push(await perTest({ quick: QUICK, tmpDir }))],
    ["pages", pages],
    ["job", job100k],
    ["helper", helper],
  ];
  for (const [name, fn] of sections) {
    if (!wants(name)) continue;
    console.log(`== ${name}`);
    try {
      await fn();
    } catch (err) {
      push({
        section: name,
        metric: "(section failed)",
        emulator: "error",
        baseline: "",
        ratio: "",
        goal: "",
        verdict: "missed",
        note: String((err as Error).message ?? err).slice(0, 300),
      });
    }
  }
  fs.rmSync(WORK, { recursive: true, force: true });
  const md = [
    "# Benchmark results",
    "",
    `Run: ${started.toISOString()} (${QUICK ? "quick mode, BENCH_QUICK=1" : "full mode"}), \`npm run bench\`.`,
    `Machine: ${machineLine}; load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" / ")}. Load generator (autocannon 9.0.0) and server share the machine; loopback only.`,
    "",
    table(),
    "",
    ...(notes.length ? ["Notes:", "", ...notes.map((n) => `- ${n}`), ""] : []),
    "Method: every server is a separate process started the way its users start it (`node bin/roboflow-batch-emulator.js`, the bundled CLI `npm start` runs, for the emulator, `prism mock` for Prism 5.14.2, `node bench/bare-server.mjs` for the bare baselines). Req/s figures are autocannon totals over 1 s slices that alternate between the contenders (after a 1 s warm-up each), so a change in machine load hits all of them alike; page times are medians of requests alternating between a 1k and a 1M emulator running side by side; other times are medians.",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(ROOT, "bench", "results.md"), md);
  console.log(`\n${table()}\n\nwrote bench/results.md`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
