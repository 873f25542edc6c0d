// Child processes for the benchmark: the emulator (as users run it), Prism, bare baselines. Every
// wait is bounded; every process is stopped by its own pid.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");

export interface Proc {
  url: string;
  pid: number;
  /** Spawn → first 200 from the ready URL, in ms. */
  startMs: number;
  rssMb(): number;
  stop(): Promise<void>;
  output(): string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
  });
}

/** Polls `url` every 2 ms until it answers 200; returns the time taken since `t0`. */
export async function waitFor200(url: string, t0: number, timeoutMs: number, child?: ChildProcess): Promise<number> {
  for (;;) {
    if ((await getStatus(url)) === 200) return performance.now() - t0;
    if (child && child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function rssMbOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function spawnReady(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
  readyPath: string,
  port: number,
  timeoutMs: number,
): Promise<Proc> {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) cleanEnv[k] = v;
  delete cleanEnv.EMULATOR_CHECK_RESPONSES; // the test-only self check costs time; users do not run it
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, env: cleanEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out = (out + d).slice(-20_000)));
  child.stderr.on("data", (d) => (out = (out + d).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  let startMs: number;
  try {
    startMs = await waitFor200(url + readyPath, t0, timeoutMs, child);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\n${out.slice(-2000)}`, { cause: err });
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      child.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      child.kill("SIGTERM");
    });
  return { url, pid: child.pid!, startMs, rssMb: () => rssMbOf(child.pid!), stop, output: () => out };
}

export async function spawnEmulator(dataDir: string, opts: { runner?: "bin" | "tsx"; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<Proc> {
  const port = await freePort();
  const env = { PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, EMULATOR_TIME_SCALE: "max", EMULATOR_QUIET: "1", ...opts.env };
  const args = [...(opts.nodeArgs ?? []), ...(opts.runner === "tsx" ? ["--import", "tsx", "src/cli.ts"] : ["bin/roboflow-batch-emulator.js"])];
  return spawnReady(process.execPath, args, env, "/health", port, 30_000);
}

export const PEERS = path.join(ROOT, "bench", ".peers");

export async function spawnPrism(specFile: string): Promise<Proc> {
  const port = await freePort();
  const entry = path.join(PEERS, "node_modules", "@stoplight", "prism-cli", "dist", "index.js");
  return spawnReady(process.execPath, [entry, "mock", "-p", String(port), "-h", "127.0.0.1", specFile], {}, "/health", port, 60_000);
}

export async function spawnBare(mode: "json" | "put", env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  return spawnReady(process.execPath, [path.join(ROOT, "bench", "bare-server.mjs")], { MODE: mode, PORT: String(port), ...env }, "/", port, 10_000);
}
