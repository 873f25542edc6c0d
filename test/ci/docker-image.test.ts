// The container image without a container engine: lays out the exact build context (.dockerignore
// applied by Docker's matching rules), parses the Dockerfile with dockerfile-ast, emulates every
// stage (COPY from the context or an earlier stage, ENV, WORKDIR, USER, RUN for real except
// apt-get), then starts the final stage's CMD as its user and drives it over HTTP. What it cannot
// show: the base image's own files and the apt-get step (see README "Docker").
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FormData, request } from "undici";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { png } from "../helpers/fixtures.js";
import { DockerBuildError, emulateBuild, hostPath, type BuildResult } from "./docker-build.js";
import { layOutContext, type ContextLayout } from "./docker-context.js";
import { reuseCompiledSqlite, runAs, runHealthcheck, startImage } from "./docker-run.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const DOCKERFILE = fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8");
const WS = "emulator-workspace";
const KEY = "emulator-api-key";

/** What RUN steps see besides the stage's ENV: this machine's PATH/HOME and npm setup, none of the test runner's variables. */
function runEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(npm_|VITEST|NODE_ENV$|NODE_OPTIONS$|TEST$)/i.test(k)) continue;
    env[k] = v;
  }
  // The packages come from npm's local cache when it has them (it does after the repo's own npm ci).
  return { ...env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
}

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // The server runs as uid 1000 (the image's `node` user): it must be able to walk down to /app and /data.
  fs.chmodSync(dir, 0o755);
  return dir;
}

function duBytes(p: string): number {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((n, e) => n + duBytes(path.join(p, e)), 0);
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

describe("Docker image, emulated build from the exact build context", () => {
  let work: string;
  let context: ContextLayout;
  let build: BuildResult;
  const log: string[] = [];

  beforeAll(async () => {
    work = tempDir("rf-docker-");
    context = layOutContext(ROOT, path.join(work, "context"));
    build = await emulateBuild({
      dockerfile: DOCKERFILE,
      context: context.dir,
      workDir: path.join(work, "stages"),
      runEnv: runEnv(),
      substitute: reuseCompiledSqlite(ROOT),
      log: (l) => log.push(l),
    });
    for (const s of build.stages) fs.chmodSync(s.root, 0o755);
    fs.chmodSync(path.join(work, "stages"), 0o755);
    console.log(`build context: ${context.files.length} files, ${mb(context.bytes)}\n${log.join("\n")}`);
  }, 600_000);
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("sends a context without installed, built, data, VCS or Python-venv folders, but with everything the build copies", () => {
    const banned = [
      /^node_modules\//,
      /\/node_modules\//,
      /^dist\//,
      /^\.git\//,
      /^\.emulator-data\//,
      /^test-results\//,
      /^bench\/\.peers\//,
      /(^|\/)\.venv\//,
      /(^|\/)__pycache__\//,
      /\.egg-info\//,
      /(^|\/)\.pytest_cache\//,
    ];
    for (const re of banned)
      expect(
        context.files.filter((f) => re.test(f)),
        String(re),
      ).toEqual([]);
    for (const f of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "scripts/bundle.mjs",
      "bin/roboflow-batch-emulator.js",
      "src/cli.ts",
      "src/dashboard/index.html",
    ])
      expect(context.files).toContain(f);
    expect(context.bytes).toBeLessThan(50 * 1024 * 1024);
  });

  it("has a toolchain build stage and a node:20-bookworm-slim runtime stage that runs as `node`", () => {
    expect(build.stages.map((s) => [s.name, s.base])).toEqual([
      ["build", "node:20-bookworm-slim"],
      ["runtime", "node:20-bookworm-slim"],
    ]);
    const f = build.final;
    expect(f.user).toBe("node");
    expect(f.workdir).toBe("/app");
    expect(f.env).toMatchObject({ NODE_ENV: "production", HOST: "0.0.0.0", PORT: "9010", DATA_DIR: "/data" });
    expect(f.env.EMULATOR_PUBLIC_URL).toBeUndefined();
    expect(f.volumes).toEqual(["/data"]);
    expect(f.expose).toEqual(["9010"]);
    expect(f.cmd).toEqual(["node", "bin/roboflow-batch-emulator.js"]);
    expect(f.healthcheck?.flags).toMatchObject({ interval: "5s", timeout: "3s", retries: "5" });
    expect(f.owners).toEqual({ "/data": "node:node" });
  });

  it("ran every step for real except apt-get (skipped) and the addon compile (only when an identical compiled addon exists)", () => {
    const skipped = build.steps.filter((s) => s.outcome === "skipped");
    expect(skipped.map((s) => s.text)).toEqual([expect.stringMatching(/^RUN apt-get update && apt-get install .*python3 make g\+\+/)]);
    const substituted = build.steps.filter((s) => s.outcome === "substituted");
    expect(substituted.every((s) => s.text === "RUN npm rebuild better-sqlite3")).toBe(true);
    expect(build.steps.filter((s) => s.text.startsWith("RUN npm ci") || s.text.startsWith("RUN npm run build")).map((s) => s.outcome)).toEqual([
      "done",
      "done",
    ]);
  });

  it("ships only what runs: built files, production dependencies, the compiled addon and the dashboard's static files", () => {
    const app = hostPath(build.final.root, "/app");
    expect(fs.readdirSync(app).sort()).toEqual(["bin", "dist", "node_modules", "package.json", "src"]);
    expect(fs.readdirSync(path.join(app, "src"))).toEqual(["dashboard"]);
    for (const f of ["cli.bundle.cjs", "cli.bundle.cjs.cache"]) expect(fs.existsSync(path.join(app, "dist", f)), f).toBe(true);
    for (const dev of ["typescript", "vitest", "esbuild", "tsx", "playwright-core"])
      expect(fs.existsSync(path.join(app, "node_modules", dev)), dev).toBe(false);
    for (const dep of ["hono", "zod", "tar", "better-sqlite3", "undici"]) expect(fs.existsSync(path.join(app, "node_modules", dep)), dep).toBe(true);
    const sqlite = path.join(app, "node_modules", "better-sqlite3");
    expect(fs.readdirSync(path.join(sqlite, "build", "Release"))).toEqual(["better_sqlite3.node"]);
    expect(fs.existsSync(path.join(sqlite, "deps"))).toBe(false);
    const size = duBytes(app);
    console.log(`runtime /app: ${mb(size)} (node_modules ${mb(duBytes(path.join(app, "node_modules")))}, dist ${mb(duBytes(path.join(app, "dist")))})`);
    expect(size).toBeLessThan(120 * 1024 * 1024);
  });

  it("starts as the non-root `node` user: /health, an image upload, EMULATOR_PUBLIC_URL in signed URLs, the dashboard; the HEALTHCHECK passes, then fails once stopped", async () => {
    const dataDir = hostPath(build.final.root, "/data");
    const ids = runAs(build.final);
    if (ids) expect(fs.statSync(dataDir).uid).toBe(ids.uid);
    const publicUrl = "http://roboflow:9010";
    const img = await startImage(build.final, { HOST: "127.0.0.1", PORT: "0", DATA_DIR: dataDir, EMULATOR_PUBLIC_URL: publicUrl, EMULATOR_TIME_SCALE: "max" });
    try {
      if (ids) expect(fs.readFileSync(`/proc/${img.pid}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${ids.uid}\\s`, "m"));
      const health = await request(`${img.url}/health`);
      expect(health.statusCode).toBe(200);
      await health.body.dump();

      const form = new FormData();
      const bytes = png(7);
      form.append("a.png", new Blob([new Uint8Array(bytes)], { type: "image/png" }), "a.png");
      const batch = `${img.url}/data-staging/v1/external/${WS}/batches/docker-smoke`;
      const up = await request(`${batch}/upload/image?api_key=${KEY}&fileName=a.png`, { method: "POST", body: form });
      expect(await up.body.json()).toEqual({ status: "ok" });
      expect(up.statusCode).toBe(200);

      const list = await request(`${batch}/list?api_key=${KEY}`);
      const files = ((await list.body.json()) as { filesMetadata: { fileName: string; downloadURL: string }[] }).filesMetadata;
      expect(files.map((f) => f.fileName)).toEqual(["a.png"]);
      expect(files[0].downloadURL.startsWith(`${publicUrl}/`)).toBe(true);
      const dl = await request(img.url + files[0].downloadURL.slice(publicUrl.length));
      expect(dl.statusCode).toBe(200);
      expect(Buffer.from(await dl.body.arrayBuffer()).equals(bytes)).toBe(true);

      const dash = await request(`${img.url}/_emulator/dashboard`);
      expect(dash.statusCode).toBe(200);
      expect(String(dash.headers["content-type"])).toMatch(/^text\/html/);
      await dash.body.dump();

      // The store lives in DATA_DIR, and nothing was written next to the code.
      expect(fs.readdirSync(dataDir).length).toBeGreaterThan(0);
      expect(fs.readdirSync(hostPath(build.final.root, "/app")).sort()).toEqual(["bin", "dist", "node_modules", "package.json", "src"]);

      // HEALTHCHECK inside the container sees the image's PORT; here the server took a free one.
      const port = new URL(img.url).port;
      const ok = await runHealthcheck(build.final, { ...img.env, PORT: port });
      expect(ok, ok.output).toMatchObject({ code: 0 });
    } finally {
      await img.stop();
    }
    const down = await runHealthcheck(build.final, { ...img.env, PORT: new URL(img.url).port });
    expect(down.code).toBe(1);
  });
  it("answers the curl lines of ci.yml's smoke test, started as `docker run -p 9010:9010` starts it (no -e) on the same /data", async () => {
    const ci = parse(fs.readFileSync(path.join(ROOT, ".github/workflows/ci.yml"), "utf8")) as {
      jobs: { image: { steps: { name?: string; run?: string; env?: Record<string, string> }[] } };
    };
    const smoke = ci.jobs.image.steps.find((s) => s.name === "Smoke test")!;
    // The docker lines need an engine (they run on GitHub); the curl lines run here against the emulated image.
    const lines = smoke.run!.split("\n").filter((l) => /^(curl|printf) /.test(l));
    expect(lines.length).toBe(4);
    const img = await startImage(build.final, { HOST: "127.0.0.1", PORT: "0", DATA_DIR: hostPath(build.final.root, "/data") });
    try {
      const cwd = tempDir("rf-smoke-");
      const script = ["set -eu", ...lines.map((l) => l.replaceAll("http://127.0.0.1:9010", img.url))].join("\n");
      const r = spawnSync("/bin/sh", ["-c", script], { cwd, env: { PATH: process.env.PATH, ...smoke.env }, encoding: "utf8", timeout: 30_000 });
      fs.rmSync(cwd, { recursive: true, force: true });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('"count":1');
    } finally {
      await img.stop();
    }
  });
});

describe("emulated build failures", () => {
  let work: string;
  let contextDir: string;
  beforeAll(() => {
    work = tempDir("rf-docker-fail-");
    contextDir = layOutContext(ROOT, path.join(work, "context")).dir;
  });
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const buildWith = (extraCopy: string, name: string) =>
    emulateBuild({
      // Inserted before the first RUN that is not skipped, so the failure comes before any npm work.
      dockerfile: DOCKERFILE.replace(/^COPY package\.json package-lock\.json \.\/$/m, (l) => `${extraCopy}\n${l}`),
      context: contextDir,
      workDir: path.join(work, name),
      runEnv: runEnv(),
    });

  it("a COPY whose source is not in the build context fails the build, naming the line and the source", async () => {
    const err = await buildWith("COPY nonexistent ./x", "missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerBuildError);
    expect((err as Error).message).toMatch(
      /^COPY nonexistent \.\/x \(Dockerfile line \d+, stage build\): COPY source "nonexistent" is not in the build context/,
    );
  });

  it("a COPY of something .dockerignore excludes fails the same way, even though the file is in the checkout", async () => {
    expect(fs.existsSync(path.join(ROOT, "node_modules"))).toBe(true);
    await expect(buildWith("COPY node_modules ./node_modules", "ignored")).rejects.toThrow(
      /COPY source "node_modules" is not in the build context \(missing, or excluded by \.dockerignore\)/,
    );
  });

  it("a COPY --from a stage path that the stage never made fails", async () => {
    // A tiny two-stage file of the same shape: no npm work needed to reach the failing COPY.
    const tiny =
      "FROM node:20-bookworm-slim AS build\nWORKDIR /app\nCOPY bin ./bin\nFROM node:20-bookworm-slim\nWORKDIR /app\nCOPY --from=build /app/nope ./nope\n";
    await expect(emulateBuild({ dockerfile: tiny, context: contextDir, workDir: path.join(work, "from"), runEnv: runEnv() })).rejects.toThrow(
      /COPY source "\/app\/nope" does not exist in stage build/,
    );
  });
});
