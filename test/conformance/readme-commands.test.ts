// README.md as run: every shell command it shows (```bash/sh/shell/console blocks, `run:` steps of its workflow
// YAML, and inline one-liners such as `npx roboflow-batch-emulator --port 0`) is either
//   (a) copied out of the README and run here, only the host:port swapped for a test emulator's and relative file
//       paths pointing at temp fixtures (`inference` is the official client's copy, ../shared/real-client, through a
//       two-line shim on PATH, as python/tests does), or
//   (b) covered by another named test (checked: the file exists and still holds the named anchor), or
//   (c) deliberately not run here, with the reason.
// A command in none of the three fails the mapping test, naming where it is. The emulator processes are started from
// a throwaway checkout (package.json, bin/, src/ and node_modules of this one) whose dist/cli.bundle.mjs is bundled
// fresh from src/, so `npm start` and `npx` run the code under test rather than a stale dist/.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { imageFolder, jpeg } from "../helpers/fixtures.js";
import { assertRealClientAvailable, expectClientOk, REAL_CLIENT_ENTRY, runClient } from "../helpers/real-client.js";

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const README_TEXT = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
const DOC_URL = "http://127.0.0.1:9010";

interface Block {
  lang: string;
  code: string;
  heading: string;
  line: number;
}
interface Command {
  text: string;
  where: string;
  block?: Block;
}

// ---- reading the README -------------------------------------------------------------------------------------

const SHELL = new Set(["bash", "sh", "shell", "console"]);
/** Inline spans that are commands a reader would type: a known program plus at least one argument (or a script path), no "…". */
const INLINE_COMMAND = /^(?:[A-Z][A-Z0-9_]*=\S+\s+)*(?:npm|npx|node|curl|docker|inference|pytest|pip|python3?|export|bash|sh|\S+\.sh|\.ci\/run)(?:\s|$)/;

function parseReadme(text: string): { blocks: Block[]; commands: Command[] } {
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  const headings = [...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => ({ at: m.index, title: m[1].trim() }));
  const headingAt = (offset: number) => headings.filter((h) => h.at < offset).pop()?.title ?? "(top)";
  const blocks: Block[] = [];
  const commands: Command[] = [];
  const prose: [number, string][] = [];
  let last = 0;
  for (const m of text.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)) {
    prose.push([last, text.slice(last, m.index)]);
    last = m.index + m[0].length;
    const block = { lang: m[1], code: m[2], heading: headingAt(m.index), line: lineAt(m.index) };
    blocks.push(block);
    const where = `README.md:${block.line} (section "${block.heading}", \`\`\`${block.lang || "plain"} block starting "${block.code.split("\n")[0].slice(0, 70)}")`;
    if (SHELL.has(block.lang)) for (const c of shellCommands(block)) commands.push({ text: c, where, block });
    if (block.lang === "yaml")
      for (const r of block.code.matchAll(/^\s*(?:- )?run:\s*(.+)$/gm)) commands.push({ text: r[1].trim(), where: `${where}, a run: step`, block });
  }
  prose.push([last, text.slice(last)]);
  for (const [offset, chunk] of prose) {
    const visible = chunk.replace(/<!--[\s\S]*?-->/g, (c) => " ".repeat(c.length));
    for (const m of visible.matchAll(/`([^`\n]+)`/g)) {
      const span = m[1].trim();
      if (!INLINE_COMMAND.test(span) || span.includes("…") || !(/\s/.test(span) || /^(\S+\.sh|\.ci\/run)$/.test(span))) continue;
      commands.push({ text: span, where: `README.md:${lineAt(offset + m.index)} (section "${headingAt(offset + m.index)}", inline)` });
    }
  }
  return { blocks, commands };
}

/** Logical lines (backslash continuations joined, `# comments` dropped), split on `&&`; console blocks: `$ ` lines only. */
function shellCommands(block: Block): string[] {
  let lines = block.code.split("\n");
  if (block.lang === "console") lines = lines.filter((l) => l.startsWith("$ ")).map((l) => l.slice(2));
  const joined = lines.join("\n").replace(/\\\n\s*/g, " ");
  return joined
    .split("\n")
    .map((l) => l.replace(/\s+#\s.*$/, "").trim())
    .filter(Boolean)
    .flatMap((l) => l.split(/\s+&&\s+/).map((c) => c.trim()));
}

const README = parseReadme(README_TEXT);

function blockUnder(heading: string, contains: string, lang = "bash"): Block {
  const hits = README.blocks.filter((b) => b.heading === heading && b.lang === lang && b.code.includes(contains));
  if (hits.length !== 1) throw new Error(`expected one \`\`\`${lang} block under "${heading}" containing "${contains}", found ${hits.length}`);
  return hits[0];
}
const commandsOf = (b: Block) => README.commands.filter((c) => c.block === b);
function commandsEqual(text: string): Command[] {
  const hits = README.commands.filter((c) => c.text === text);
  if (hits.length === 0) throw new Error(`the README no longer shows \`${text}\``);
  return hits;
}

// ---- (a) what this file runs; each runner below takes its commands from here -----------------------------------

const RUN_HERE = {
  npmStart: () => commandsEqual("npm start"),
  npxFromCheckout: () => commandsEqual("npx roboflow-batch-emulator --port 0"),
  officialClient: () => commandsOf(blockUnder("Pointing clients at it", "inference rf-cloud")),
  curl: () => commandsOf(blockUnder("Pointing clients at it", "curl ")),
  pythonUsers: () => commandsOf(blockUnder("Python users", "inference rf-cloud")),
  withoutDocker: () => [
    ...commandsEqual("npx roboflow-batch-emulator --port 9010 --time-scale max &"),
    ...commandsEqual("curl --retry 20 --retry-connrefused http://127.0.0.1:9010/health"),
  ],
  workflowStep: () => README.commands.filter((c) => c.block?.heading === "GitHub Actions service container" && c.where.endsWith("a run: step")),
};

// ---- (b) covered elsewhere, (c) not run here ---------------------------------------------------------------------

const COVERED: { match: RegExp; by: { file: string; anchor: string }[] }[] = [
  {
    match: /^docker (run|build)\b/,
    by: [
      { file: "test/ci/docker-image.test.ts", anchor: "emulateBuild(" },
      { file: "test/ci/workflows.test.ts", anchor: "docker build -t roboflow-batch-emulator ." },
    ],
  },
  { match: /^npm prune\b/, by: [{ file: "test/ci/docker-image.test.ts", anchor: "ran every step for real" }] },
  { match: /^node bin\/roboflow-batch-emulator\.js$/, by: [{ file: "test/ci/docker-image.test.ts", anchor: '["node", "bin/roboflow-batch-emulator.js"]' }] },
  { match: /^pip install \.\/python$/, by: [{ file: "python/tests/test_readme.py", anchor: '"pip install ./python" in COMMANDS' }] },
  { match: /^pytest(\s|$)/, by: [{ file: "python/tests/test_readme.py", anchor: 'c.startswith("pytest")' }] },
  {
    match: /^(node DIR\/bin\/roboflow-batch-emulator\.js|npx roboflow-batch-emulator)$/,
    by: [{ file: "python/tests/test_lifecycle.py", anchor: "find_command(" }],
  },
  {
    match: /^inference rf-cloud data-staging export-batch$/,
    by: [{ file: "test/conformance/conformance-batch-processing.test.ts", anchor: 'ds("export-batch"' }],
  },
  { match: /^npm run openapi$/, by: [{ file: "test/conformance/conformance-openapi.test.ts", anchor: "npm run openapi" }] },
];

const NOT_RUN: { match: RegExp; why: string }[] = [
  {
    match: /^npm ci$/,
    why: "reinstalls node_modules of the tree this suite runs from; .ci/run runs `npm ci && npm test` in CI, and test/ci/docker-image.test.ts runs the Dockerfile's npm ci for real",
  },
  { match: /^npm test$/, why: "runs the whole suite, this file included; .ci/run runs it in CI" },
  { match: /^\.ci\/run$/, why: "CI's entry point (npm ci, npm test, the Python suite): what CI runs, not something the suite can run inside itself" },
  { match: /^python\/run-tests\.sh$/, why: "the pytest plugin's own suite in a throwaway virtualenv; .ci/run runs it after npm test" },
  { match: /^npm run bench\b/, why: "benchmarks: minutes of CPU and a Prism install into bench/.peers; not part of the test suite" },
  {
    match: /^NODE_OPTIONS=--experimental-vm-modules npx jest$/,
    why: "Jest is no dependency here and the README says this setup is not run; the same suite under vitest runs in test/controls/testing-helper-readme.test.ts",
  },
  { match: /^npm publish\b/, why: "publishes to the npm registry; runs only in release.yml on a v* tag (test/ci/workflows.test.ts checks that step)" },
];

// ---- processes ------------------------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
  closed: Promise<void>;
  gone: () => boolean;
}
const started: Proc[] = [];

/** A shell line in its own process group (npm and npx leave node as a grandchild: stop the whole group). */
function startShell(line: string, cwd: string, env: NodeJS.ProcessEnv): Proc {
  const child = spawn("bash", ["-c", line], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  // "close" = every process that inherited the pipes (npm, sh, node) has exited: the group is gone.
  let gone = false;
  const closed = new Promise<void>((r) => child.once("close", () => r(void (gone = true))));
  const p = { child, out: () => out, err: () => err, exited, closed, gone: () => gone };
  started.push(p);
  return p;
}

function signalGroup(p: Proc, signal: NodeJS.Signals): void {
  if (p.gone()) return;
  try {
    process.kill(-p.child.pid!, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** SIGTERM to the group; SIGKILL after 5 s; resolves once every process holding its output is gone. */
async function stopGroup(p: Proc): Promise<void> {
  signalGroup(p, "SIGTERM");
  const t = setTimeout(() => signalGroup(p, "SIGKILL"), 5000);
  await p.closed;
  clearTimeout(t);
}

async function listening(p: Proc): Promise<string> {
  return waitFor<string | undefined>(
    () => {
      const m = /listening on (http:\/\/\S+)/.exec(p.out());
      if (!m && p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode} before listening:\n${p.out()}\n${p.err()}`);
      return m?.[1];
    },
    30_000,
    `the "listening on" line\n${p.out()}`,
  ) as Promise<string>;
}

async function healthy(url: string): Promise<void> {
  const r = await fetch(`${url}/health`);
  expect(r.status).toBe(200);
}

const bannerLines = (out: string) => out.slice(out.indexOf("Roboflow batch emulator listening on")).split("\n").filter(Boolean);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

// ---- shared fixtures ------------------------------------------------------------------------------------------

let root: string;
let checkout: string;
let shimDir: string;

/** The environment a user's shell would give the README's lines: nothing of this test run, `inference` on PATH. */
function userEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${shimDir}${path.delimiter}${process.env.PATH ?? "/usr/bin:/bin"}`,
    HOME: home,
    LANG: "C.UTF-8",
    COLUMNS: "400",
    TERM: "dumb",
    NO_COLOR: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    PYTHONUNBUFFERED: "1",
    EMULATOR_CHECK_RESPONSES: "1",
    npm_config_cache: path.join(root, "npm-cache"),
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    ...extra,
  };
}

/** Runs lines with `bash -e` (asynchronously: the in-process emulators must keep answering meanwhile). */
function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 50_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-e", "-c", script], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * npx installs a checkout into its cache as a link and first runs the package's `prepare` (npm run build) there; this
 * checkout is built already, as `npm ci` leaves one, so that step is skipped.
 */
const NPX_ENV = { npm_config_ignore_scripts: "true" };

function scratch(name: string): string {
  return fs.mkdtempSync(path.join(root, `${name}-`));
}

beforeAll(() => {
  assertRealClientAvailable();
  root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-readme-commands-"));
  shimDir = path.join(root, "shim");
  fs.mkdirSync(shimDir);
  fs.writeFileSync(path.join(shimDir, "inference"), `#!/bin/sh\n[ "$1" = rf-cloud ] && shift\nexec python3 ${JSON.stringify(REAL_CLIENT_ENTRY)} "$@"\n`, {
    mode: 0o755,
  });
  // A checkout as `npm ci` leaves it, with the CLI bundle built from the current src/.
  checkout = path.join(root, "checkout");
  fs.mkdirSync(checkout);
  fs.copyFileSync(path.join(REPO, "package.json"), path.join(checkout, "package.json"));
  fs.cpSync(path.join(REPO, "bin"), path.join(checkout, "bin"), { recursive: true });
  for (const d of ["src", "node_modules"]) fs.symlinkSync(path.join(REPO, d), path.join(checkout, d), "dir");
  const bundle = spawnSync(process.execPath, [path.join(REPO, "scripts", "bundle.mjs")], { cwd: checkout, encoding: "utf8" });
  if (bundle.status !== 0) throw new Error(`bundling the CLI failed:\n${bundle.stdout}${bundle.stderr}`);
}, 120_000);

afterAll(async () => {
  for (const p of started) signalGroup(p, "SIGKILL");
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

// ---- the mapping ----------------------------------------------------------------------------------------------

describe("README commands: every one is run here, covered by a named test, or not run for a stated reason", () => {
  it("finds the README's commands", () => {
    expect(README.commands.length).toBeGreaterThan(15);
    expect(README.commands.map((c) => c.text)).toContain("npm start");
  });

  it("classifies every command", () => {
    const here = new Set(Object.values(RUN_HERE).flatMap((pick) => pick()));
    const unclassified: string[] = [];
    for (const c of README.commands) {
      if (here.has(c)) continue;
      if (COVERED.some((m) => m.match.test(c.text)) || NOT_RUN.some((m) => m.match.test(c.text))) continue;
      unclassified.push(`\`${c.text}\` at ${c.where}`);
    }
    expect(
      unclassified,
      "README commands that are neither run by test/conformance/readme-commands.test.ts, nor mapped to a test (COVERED), nor excluded with a reason (NOT_RUN)",
    ).toEqual([]);
  });

  it("maps to test files that exist and still hold what they are said to check; no stale entries", () => {
    for (const m of COVERED) {
      for (const { file, anchor } of m.by) {
        const p = path.join(REPO, file);
        expect(fs.existsSync(p), `${file} (covers ${m.match})`).toBe(true);
        expect(fs.readFileSync(p, "utf8").includes(anchor), `${file} no longer contains ${JSON.stringify(anchor)} (covers ${m.match})`).toBe(true);
      }
    }
    for (const m of [...COVERED, ...NOT_RUN])
      expect(
        README.commands.some((c) => m.match.test(c.text)),
        `no README command matches ${m.match}: drop the entry`,
      ).toBe(true);
  });
});

// ---- (a) starting it ------------------------------------------------------------------------------------------

describe("README: starting the emulator", () => {
  it("`npm start` (PORT=0): prints the banner the README shows (dashboard line included), serves /health and the dashboard, and the printed export line works with the official client", async () => {
    const [cmd] = RUN_HERE.npmStart();
    const p = startShell(cmd.text, checkout, userEnv(scratch("home"), { PORT: "0" }));
    try {
      const url = await listening(p);
      await waitFor(() => /Dashboard: /.test(p.out()), 10_000, "the dashboard line");
      await healthy(url);
      const shown = README.blocks.find((b) => b.lang === "" && b.code.startsWith("Roboflow batch emulator listening on"));
      expect(shown, "the README's banner block").toBeDefined();
      expect(bannerLines(p.out()).map((l) => l.replaceAll(url, DOC_URL))).toEqual(shown!.code.trim().split("\n"));
      const dashboard = await fetch(`${url}/_emulator/dashboard`);
      expect(dashboard.status).toBe(200);
      expect(dashboard.headers.get("content-type")).toMatch(/text\/html/);
      // The banner's second line, run as printed, then the official client.
      const exportLine = /Point the official client at it: (export .+)/.exec(p.out())![1];
      const r = await runScript(`${exportLine}\ninference rf-cloud data-staging list-batches`, scratch("client"), userEnv(root));
      expectClientOk({ args: ["(banner export line) data-staging list-batches"], ...r, ms: 0 });
    } finally {
      await stopGroup(p);
    }
    expect(p.out()).toContain("SIGTERM received, closing");
  });

  it("`npx roboflow-batch-emulator --port 0` from a checkout", async () => {
    const [cmd] = RUN_HERE.npxFromCheckout();
    const p = startShell(cmd.text, checkout, userEnv(scratch("home"), NPX_ENV));
    try {
      const url = await listening(p);
      await healthy(url);
      await waitFor(() => p.out().includes(`Dashboard: ${url}/_emulator/dashboard`), 10_000, "the dashboard line");
    } finally {
      await stopGroup(p);
    }
  });

  it("without Docker: `npx … --port 9010 --time-scale max &`, then the `curl --retry` wait, as one script (on a free port)", async () => {
    const port = String(await freePort());
    const script = RUN_HERE.withoutDocker()
      .map((c) => c.text.replaceAll("9010", port))
      .join("\n");
    const p = startShell(script, checkout, userEnv(scratch("home"), NPX_ENV));
    const guard = setTimeout(() => signalGroup(p, "SIGKILL"), 40_000);
    try {
      expect(await p.exited, `${p.out()}\n${p.err()}`).toBe(0);
      expect(JSON.parse(p.out().slice(p.out().indexOf("{"), p.out().lastIndexOf("}") + 1)).status).toBe("ok");
      await waitFor(() => p.out().includes(`time-scale=max`), 10_000, "the banner");
    } finally {
      clearTimeout(guard);
      await stopGroup(p);
    }
  });

  it("--quiet (and EMULATOR_QUIET=1) prints only the first line, not even the closing line; --help and the flag table document it", async () => {
    for (const [args, env] of [
      ["--quiet", {}],
      ["", { EMULATOR_QUIET: "1" }],
    ] as const) {
      const p = startShell(`exec node bin/roboflow-batch-emulator.js --port 0 --data-dir :memory: ${args}`, checkout, userEnv(root, env));
      const url = await listening(p);
      await healthy(url);
      await new Promise((r) => setTimeout(r, 300));
      signalGroup(p, "SIGTERM");
      expect(await p.exited).toBe(0);
      await p.closed;
      const lines = p.out().split("\n").filter(Boolean);
      expect(lines, p.out()).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^Roboflow batch emulator listening on http:\/\/127\.0\.0\.1:\d+ {2}workspace=\S+ {2}api_key=\S+ {2}data=\S+ {2}time-scale=\S+$/,
      );
      expect(p.err()).toBe("");
    }
    const help = spawnSync(process.execPath, ["bin/roboflow-batch-emulator.js", "--help"], { cwd: checkout, encoding: "utf8" });
    expect(help.stdout).toMatch(/^ {2}--quiet\s+\[EMULATOR_QUIET=1\]\s+print only/m);
    const config = README_TEXT.slice(README_TEXT.indexOf("\n## Configuration\n"), README_TEXT.indexOf("\n## Pointing clients at it\n"));
    const table = [...config.matchAll(/^\|\s*`(--[a-z-]+)`\s*\|\s*`([A-Z_=0-9]+)`\s*\|/gm)].map((m) => [m[1], m[2]]);
    expect(table).toContainEqual(["--quiet", "EMULATOR_QUIET=1"]);
    // Every flag the table documents is one the CLI knows, under the same variable.
    for (const [flag, variable] of table) expect(help.stdout, flag).toMatch(new RegExp(`^ {2}${flag}\\b.*\\[${variable}\\]`, "m"));
  });
});

// ---- (a) pointing clients at it ---------------------------------------------------------------------------------

describe("README: pointing clients at it", () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator();
    // The README's lines name the default workspace and key: the test emulator has them too.
    expect([emu.workspace, emu.apiKey]).toEqual(["emulator-workspace", "emulator-api-key"]);
  });
  afterAll(async () => emu?.close());

  const blockScript = (cmds: Command[]) => cmds[0].block!.code.replaceAll(DOC_URL, emu.url);

  it("the official client block: exports, create-batch-of-images from ./images, process-images-with-workflow; the job finishes", async () => {
    const work = scratch("client");
    imageFolder(work, "images", 3);
    const r = await runScript(blockScript(RUN_HERE.officialClient()), work, userEnv(work));
    expectClientOk({ args: ["(README official client block)"], ...r, ms: 0 });
    const count = await emu.call("GET", `${emu.staging("my-batch")}/count`);
    expect(count.json.count).toBe(3);
    const jobs = (await emu.call("GET", emu.jobs())).json.jobs;
    expect(jobs).toHaveLength(1);
    expect(jobs[0].jobDefinition.processingSpecification.workflowId).toBe("my-workflow");
    const job = await waitFor(
      async () => {
        const j = (await emu.call("GET", emu.jobs(jobs[0].jobId))).json.job;
        return j.isTerminal ? j : undefined;
      },
      30_000,
      "the job to finish",
    );
    expect(job.error).toBe(false);
  });

  it("the Python users block: export both variables on one line, list-batches shows the batch", async () => {
    const r = await runScript(blockScript(RUN_HERE.pythonUsers()), scratch("client"), userEnv(root));
    expectClientOk({ args: ["(README Python users block)"], ...r, ms: 0 });
    expect(r.stdout).toContain("my-batch");
  });

  it("the curl block, with real curl: the upload (query in the URL) answers 200, then count is 1", async () => {
    const fresh = await startTestEmulator();
    try {
      const work = scratch("curl");
      fs.writeFileSync(path.join(work, "cat.jpg"), jpeg());
      fs.writeFileSync(path.join(work, ".curlrc"), 'silent\nshow-error\nwrite-out = "\\n@@HTTP %{http_code}@@\\n"\n');
      const cmds = RUN_HERE.curl();
      const r = await runScript(cmds[0].block!.code.replaceAll(DOC_URL, fresh.url), work, userEnv(work, { CURL_HOME: work }));
      expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
      const answers = r.stdout.split(/@@HTTP (\d{3})@@/);
      expect(
        answers.filter((_, i) => i % 2 === 1),
        r.stdout,
      ).toEqual(cmds.map(() => "200"));
      expect(JSON.parse(answers[answers.length - 3]).count).toBe(1);
      const files = await fresh.call("GET", `${fresh.staging("my-batch")}/list`);
      expect(files.json.filesMetadata.map((f: { fileName: string }) => f.fileName)).toEqual(["cat.jpg"]);
    } finally {
      await fresh.close();
    }
  });

  it("the GitHub Actions block's `run:` step answers", async () => {
    const cmds = RUN_HERE.workflowStep();
    expect(cmds.map((c) => c.text)).toEqual([`curl -fsS ${DOC_URL}/health`]);
    const r = await runScript(cmds.map((c) => c.text.replaceAll(DOC_URL, emu.url)).join("\n"), root, userEnv(root));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe("ok");
  });
});

// ---- the errors the README describes ------------------------------------------------------------------------------

describe("README: errors it describes", () => {
  let emu: TestEmulator;
  const SLASH = "API_BASE_URL must not end with '/'";
  beforeAll(async () => {
    emu = await startTestEmulator();
  });
  afterAll(async () => emu?.close());

  it("API_BASE_URL with a trailing slash: the official client's //data-staging/… request gets a 404 that names the slash", async () => {
    expect(README_TEXT).toContain(`\`${SLASH}\``);
    const run = await runClient(`${emu.url}/`, ["data-staging", "list-batches", "--api-key", emu.apiKey]);
    const out = `${run.stdout}\n${run.stderr}`;
    expect(run.code, out).not.toBe(0);
    expect(out).toContain("404");
    expect(out).toContain(SLASH);
  });

  it("over raw HTTP: //data-staging, //batch-processing and /%20/ paths say so, with the base URL to use; other unknown paths do not", async () => {
    for (const [method, p] of [
      ["GET", `/${emu.staging()}`],
      ["POST", `/${emu.jobs("job-1")}`],
      ["GET", `/%20${emu.jobs()}`],
    ]) {
      const r = await emu.call(method, p, { json: method === "POST" ? {} : undefined });
      expect(r.status, p).toBe(404);
      expect(r.json.error.type).toBe("route-not-found");
      expect(r.json.message, p).toContain(SLASH);
      expect(r.json.error.hint).toContain(`API_BASE_URL=${emu.url} (no trailing slash)`);
    }
    const other = await emu.call("GET", "/no/such/route");
    expect(other.status).toBe(404);
    expect(other.json.message).toBe("No route for GET /no/such/route");
    expect(other.json.error.hint).toContain("GET /openapi.json");
  });

  it("a body of the wrong type gets a 415 naming the type the endpoint takes, as the README says", async () => {
    expect(README_TEXT).toContain("gets a 415 that names the type the endpoint takes");
    const r = await emu.call("POST", emu.jobs("job-415"), { body: "{}", headers: { "content-type": "text/plain" } });
    expect(r.status).toBe(415);
    expect(r.json.message).toContain("send Content-Type: application/json");
  });
});
