// Quick start-up comparison, no build, no peers: spawn → first 200 of the emulator as users start it
// (`node bin/roboflow-batch-emulator.js --port 0 --data-dir :memory:`, /health) against a bare
// node:http server (bench/bare-server.mjs, /), alternating run by run so machine load hits both alike.
// Each process prints its URL on its first stdout line; the clock stops at the first 200 from it.
//   node bench/startup-quick.mjs [runs=20] [-- extra emulator args]
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const dash = process.argv.indexOf("--");
const runs = Number(process.argv[2] && process.argv[2] !== "--" ? process.argv[2] : 20);
const extra = dash >= 0 ? process.argv.slice(dash + 1) : [];
const bodyFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rf-startup-")), "body.json");
fs.writeFileSync(bodyFile, "{}");

const getStatus = (url) =>
  new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => (req.destroy(), resolve(0)));
  });

/** Spawns, waits for the URL on stdout, polls readyPath until 200; returns ms since spawn. */
function measure(args, env, readyPath) {
  return new Promise((resolve, reject) => {
    const cleanEnv = { ...process.env, ...env };
    delete cleanEnv.EMULATOR_CHECK_RESPONSES;
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: cleanEnv, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let polling = false;
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`no 200 within 30 s:\n${out}`))), 30_000);
    child.stderr.on("data", (d) => (out += d));
    child.stdout.on("data", async (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (!m || polling) return;
      polling = true;
      while ((await getStatus(m[1] + readyPath)) !== 200) await new Promise((r) => setTimeout(r, 1));
      const ms = performance.now() - t0;
      clearTimeout(timer);
      child.once("exit", () => resolve(ms));
      child.kill("SIGTERM");
    });
    child.once("exit", (code) => {
      if (polling) return;
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ready:\n${out}`));
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const emu = [];
const bare = [];
const emuArgs = ["bin/roboflow-batch-emulator.js", "--port", "0", "--data-dir", ":memory:", "--time-scale", "max", "--quiet", ...extra];
await measure(emuArgs, {}, "/health"); // warm the file cache once for each
await measure([path.join(ROOT, "bench", "bare-server.mjs")], { MODE: "json", BODY_FILE: bodyFile, PORT: "0" }, "/");
for (let i = 0; i < runs; i++) {
  emu.push(await measure(emuArgs, {}, "/health"));
  bare.push(await measure([path.join(ROOT, "bench", "bare-server.mjs")], { MODE: "json", BODY_FILE: bodyFile, PORT: "0" }, "/"));
}
const e = median(emu);
const b = median(bare);
console.log(`emulator: median ${e.toFixed(0)} ms (min ${Math.min(...emu).toFixed(0)}, max ${Math.max(...emu).toFixed(0)})`);
console.log(`bare node:http: median ${b.toFixed(0)} ms (min ${Math.min(...bare).toFixed(0)}, max ${Math.max(...bare).toFixed(0)})`);
console.log(
  `ratio ${(e / b).toFixed(2)}× (goal ≤ 1.5×), emulator's own share ${(e - b).toFixed(0)} ms, ${runs} alternating runs, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ")}`,
);
