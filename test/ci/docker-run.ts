// Runs what an emulated image would run: the final stage's CMD with its ENV, in its /app folder, as
// its USER (uid 1000 for `node` when the tests run as root), and its HEALTHCHECK command.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { hostPath, IMAGE_USERS, type RunSubstitute, type Stage } from "./docker-build.js";

export interface RunningImage {
  url: string;
  pid: number;
  env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

/** uid/gid to run as: the image's user when the tests can switch to it (root), else ourselves. */
export function runAs(stage: Stage): { uid: number; gid: number } | null {
  const uid = IMAGE_USERS[stage.user];
  if (uid === undefined) throw new Error(`USER ${stage.user} has no known uid in the official node image`);
  return process.getuid?.() === 0 ? { uid, gid: uid } : null;
}

/** The container's environment: the image's ENV over a plain PATH and the user's HOME, then `overrides`. */
export function containerEnv(stage: Stage, overrides: Record<string, string>): Record<string, string> {
  const home = stage.user === "root" ? "/root" : `/home/${stage.user}`;
  const homeHost = hostPath(stage.root, home);
  fs.mkdirSync(homeHost, { recursive: true });
  const ids = runAs(stage);
  if (ids) fs.chownSync(homeHost, ids.uid, ids.gid);
  return { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: homeHost, ...stage.env, ...overrides };
}

function gone(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
}

/** Starts the CMD (node = the Node 20 running the tests) and waits for "listening on <url>". */
export async function startImage(stage: Stage, overrides: Record<string, string>, timeoutMs = 30_000): Promise<RunningImage> {
  if (!stage.cmd?.length) throw new Error("the final stage has no CMD");
  const [bin, ...rest] = stage.cmd;
  const env = containerEnv(stage, overrides);
  const ids = runAs(stage);
  const child = spawn(bin === "node" ? process.execPath : bin, rest, {
    cwd: hostPath(stage.root, stage.workdir),
    env,
    stdio: ["ignore", "pipe", "pipe"],
    ...(ids ?? {}),
  });
  let out = "";
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-50_000));
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the image's CMD did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stdout.on("data", () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the image's CMD exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    env,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.kill("SIGTERM");
      await gone(child);
      clearTimeout(t);
    },
  };
}

function seconds(flag: string | undefined, fallback: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(flag ?? "");
  if (!m) return fallback;
  return Number(m[1]) * (m[2] === "ms" ? 0.001 : m[2] === "m" ? 60 : 1);
}

/** Runs the HEALTHCHECK command once, as Docker does (/bin/sh -c, the container's env, --timeout). */
export function runHealthcheck(stage: Stage, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  if (!stage.healthcheck) throw new Error("the final stage has no HEALTHCHECK");
  const timeoutMs = seconds(stage.healthcheck.flags.timeout, 30) * 1000;
  const ids = runAs(stage);
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", stage.healthcheck!.shell], {
      cwd: hostPath(stage.root, stage.workdir),
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
      ...(ids ?? {}),
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

/**
 * Stands in for `RUN npm rebuild better-sqlite3` (~75 s of compiling on 2 cores) by copying the
 * repo's own compiled build/ folder, when that is what the step would produce: the same
 * better-sqlite3 version (same tarball from the lock file), and an addon that loads in this very
 * node, i.e. compiled for the same Node ABI, platform, arch and glibc (this machine is Debian
 * bookworm, like node:20-bookworm-slim). DOCKER_EMULATE_NATIVE_BUILD=1 runs the real step instead.
 */
export function reuseCompiledSqlite(repoRoot: string): RunSubstitute {
  return async (command, cwd) => {
    if (command !== "npm rebuild better-sqlite3" || process.env.DOCKER_EMULATE_NATIVE_BUILD === "1") return null;
    const repoMod = path.join(repoRoot, "node_modules", "better-sqlite3");
    const emuMod = path.join(cwd, "node_modules", "better-sqlite3");
    const version = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version: string }).version;
    if (!fs.existsSync(path.join(repoMod, "build", "Release", "better_sqlite3.node")) || !fs.existsSync(emuMod)) return null;
    if (version(repoMod) !== version(emuMod)) return null;
    const Database = createRequire(path.join(repoRoot, "package.json"))("better-sqlite3") as new (f: string) => { exec(sql: string): void; close(): void };
    const db = new Database(":memory:");
    db.exec("create table t (x integer)");
    db.close();
    fs.cpSync(path.join(repoMod, "build"), path.join(emuMod, "build"), { recursive: true, verbatimSymlinks: true });
    return `copied the repo's compiled better-sqlite3 ${version(emuMod)} build/ (Node ABI ${process.versions.modules}, ${process.platform}-${process.arch}); DOCKER_EMULATE_NATIVE_BUILD=1 compiles it instead`;
  };
}
