// `npx tsx bench/profile.ts [--what status|upload] [--seconds 5] [--connections 50] [--path /...] [--header k:v]`:
// CPU profile of the emulator (built and started as users run it, under `node --cpu-prof`) while
// autocannon loads one request: the job status GET of the bench's status row, or its single-image upload. Prints the functions with the
// most self time and the most inclusive time, and where the profile was written.
// Build first (npm run build, or a bench run); peers come from bench/.peers (npm run bench installs them).
import fs from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { request } from "undici";
import { DEFAULT_API_KEY, DEFAULT_WORKSPACE } from "../src/config.js";
import { load, type LoadOptions } from "./lib/load.js";
import { ensurePeers } from "./lib/peers.js";
import { ROOT, spawnEmulator } from "./lib/procs.js";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const SECONDS = Number(arg("seconds", "5"));
const WHAT = arg("what", "status");
const CONNS = Number(arg("connections", WHAT === "upload" ? "16" : "50"));
const WS = DEFAULT_WORKSPACE;
const KEY = DEFAULT_API_KEY;

/** A 1×1 PNG as the official client posts it. */
function multipartPng(): { body: Buffer; contentType: string } {
  const png = Buffer.from(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082",
    "hex",
  );
  const head = `--b\r\nContent-Disposition: form-data; name="a.png"; filename="a.png"\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), png, Buffer.from("\r\n--b--\r\n")]), contentType: "multipart/form-data; boundary=b" };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

/** Names frames of the minified bundle by its source map (file:line of the original function). */
function bundleNamer(): (f: ProfileNode["callFrame"]) => string | null {
  const mapFile = path.join(ROOT, "dist", "cli.bundle.cjs.map");
  if (!fs.existsSync(mapFile)) return () => null;
  const map = new SourceMap(JSON.parse(fs.readFileSync(mapFile, "utf8")));
  return (f) => {
    if (!f.url.endsWith("cli.bundle.cjs")) return null;
    const e = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number; name?: string };
    if (!e?.originalSource) return null;
    const src = e.originalSource.replace(/^.*?(node_modules\/|src\/)/, "$1");
    return `${e.name ?? f.functionName ?? "(anonymous)"} ${src}:${(e.originalLine ?? 0) + 1}`;
  };
}

/** Self and inclusive time per function (name, file, line), in ms. */
export function summarize(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }) {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const named = bundleNamer();
  const keys = new Map<number, string>();
  const key = (n: ProfileNode) => {
    let k = keys.get(n.id);
    if (k === undefined) {
      k = named(n.callFrame) ?? `${n.callFrame.functionName || "(anonymous)"} ${path.basename(n.callFrame.url || "")}:${n.callFrame.lineNumber + 1}`;
      keys.set(n.id, k);
    }
    return k;
  };
  const selfBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  let all = 0;
  for (const [id, ms] of self) {
    all += ms;
    const n = byId.get(id)!;
    selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + ms);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      totalBy.set(k, (totalBy.get(k) ?? 0) + ms);
    }
  }
  const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { all, self: top(selfBy, 40), total: top(totalBy, 60) };
}

async function main() {
  ensurePeers();
  if (!fs.existsSync(path.join(ROOT, "dist", "cli.bundle.cjs"))) throw new Error("build first: npm run build");
  const work = path.join(ROOT, "bench", ".work");
  fs.mkdirSync(work, { recursive: true });
  const profDir = fs.mkdtempSync(path.join(work, "profile-"));
  const dataDir = fs.mkdtempSync(path.join(work, "profile-data-"));
  const emu = await spawnEmulator(dataDir, { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] });
  let target = arg("path", "");
  try {
    if (!target && WHAT === "status") {
      const jobs = `${emu.url}/batch-processing/v1/external/${WS}/jobs/profile-job?api_key=${KEY}`;
      const m = multipartPng();
      const up = await request(`${emu.url}/data-staging/v1/external/${WS}/batches/profile-batch/upload/image?api_key=${KEY}&fileName=a.png`, {
        method: "POST",
        body: m.body,
        headers: { "content-type": m.contentType },
      });
      await up.body.text();
      const body = {
        type: "simple-image-processing-v1",
        jobInput: { type: "staging-batch-input-v1", batchId: "profile-batch" },
        computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu", workersPerMachine: 1 },
        processingSpecification: { type: "workflows-processing-specification-v1", workspace: WS, workflowId: "wf" },
      };
      const started = await request(jobs, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
      await started.body.text();
      // Finished first, so the profile holds the GET alone, not the job engine.
      for (let i = 0; i < 600; i++) {
        const r = await request(jobs);
        if (((await r.body.json()) as { job?: { isTerminal?: boolean } }).job?.isTerminal) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      target = `/batch-processing/v1/external/${WS}/jobs/profile-job?api_key=${KEY}`;
    }
    const header = arg("header", "");
    const headers = header ? { [header.slice(0, header.indexOf(":"))]: header.slice(header.indexOf(":") + 1) } : undefined;
    let opts: LoadOptions = { url: emu.url + target, connections: CONNS, durationS: 1, headers };
    if (WHAT === "upload") {
      const m = multipartPng();
      let n = 0;
      const up = (i: number) => `/data-staging/v1/external/${WS}/batches/profile-up/upload/image?api_key=${KEY}&fileName=p${i}.png`;
      opts = {
        url: emu.url,
        method: "POST",
        body: m.body,
        headers: { ...headers, "content-type": m.contentType },
        connections: CONNS,
        durationS: 1,
        pathFor: () => up(n++),
      };
      target = up(0).replace("p0.png", "p{n}.png");
    }
    await load(opts);
    const r = await load({ ...opts, durationS: SECONDS });
    console.log(`${target}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.non2xx} non-2xx, ${r.errors} errors`);
  } finally {
    await emu.stop();
  }
  const file = fs.readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no profile written in ${profDir}:\n${emu.output().slice(-2000)}`);
  const s = summarize(JSON.parse(fs.readFileSync(path.join(profDir, file), "utf8")));
  const pct = (ms: number) => `${((100 * ms) / s.all).toFixed(1).padStart(5)}%`;
  console.log(`\nself time (of ${s.all.toFixed(0)} ms sampled):`);
  for (const [k, ms] of s.self) console.log(`  ${pct(ms)}  ${k}`);
  console.log("\ninclusive time:");
  for (const [k, ms] of s.total) console.log(`  ${pct(ms)}  ${k}`);
  fs.writeFileSync(
    path.join(profDir, "summary.txt"),
    [...s.self.map(([k, ms]) => `self ${pct(ms)} ${k}`), ...s.total.map(([k, ms]) => `total ${pct(ms)} ${k}`)].join("\n"),
  );
  console.log(`\nprofile: ${path.join(profDir, file)} (open in Chrome DevTools → Performance)`);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
