// The README's test-helper section, run as written: its TypeScript block is copied into a scratch
// folder (node_modules linked to this repository's, "roboflow-batch-emulator/testing" resolved to
// src/testing.ts, as the package's own export would), type-checked with tsc, and run with vitest in a
// subprocess, like a user's suite would be.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const HEADING = "### In-process test helper";

let dir: string;
let blocks: string[];

/** The ```ts blocks of the README section that starts with `heading` (up to the next ## heading). */
function sectionBlocks(readme: string, heading: string): string[] {
  const start = readme.indexOf(heading);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const rest = readme.slice(start + heading.length);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].map((m) => {
    if (m[1] !== "ts") throw new Error(`a \`\`\`${m[1] || "(plain)"} block in "${heading}" that this test cannot run`);
    return m[2];
  });
}

beforeAll(() => {
  blocks = sectionBlocks(fs.readFileSync(path.join(REPO, "README.md"), "utf8"), HEADING);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-readme-helper-"));
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
  const testing = path.join(REPO, "src", "testing.ts");
  fs.writeFileSync(
    path.join(dir, "vitest.config.mts"),
    `import { defineConfig } from "vitest/config";\nexport default defineConfig({ resolve: { alias: { "roboflow-batch-emulator/testing": ${JSON.stringify(testing)} } }, test: { include: ["*.test.ts"], testTimeout: 60000 } });\n`,
  );
  fs.writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
        paths: { "roboflow-batch-emulator/testing": [testing] },
      },
      files: blocks.map((_, i) => `readme-${i}.test.ts`),
    }),
  );
  blocks.forEach((b, i) => fs.writeFileSync(path.join(dir, `readme-${i}.test.ts`), b));
  // A package.json of a user's ESM project (the README's imports are ESM).
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "readme-check", private: true, type: "module" }));
});

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("README: in-process test helper", () => {
  it("has one vitest block with the imports it needs, resetting to the start seed and waiting for a job", () => {
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain('import { beforeAll, afterAll, beforeEach, it, expect } from "vitest";');
    expect(blocks[0]).toContain("reset({ reseed: true })");
    expect(blocks[0]).toContain("waitForJob(");
  });

  it("type-checks", async () => {
    const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
    const out = await run(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { cwd: dir }).then(
      () => "",
      (err: { stdout: string; stderr: string }) => `${err.stdout}${err.stderr}`,
    );
    // Only the README's own lines: the emulator's sources are type-checked by the project's tsc run.
    expect(out.split("\n").filter((l) => l.startsWith("readme-"))).toEqual([]);
  }, 120_000);

  it("runs with vitest and passes", async () => {
    const vitest = path.join(REPO, "node_modules", "vitest", "vitest.mjs");
    // A fresh vitest, not a worker of this one.
    const env: NodeJS.ProcessEnv = { ...process.env, CI: "1", NO_COLOR: "1" };
    for (const k of ["VITEST", "VITEST_POOL_ID", "VITEST_WORKER_ID"]) delete env[k];
    const r = await run(process.execPath, [vitest, "run", "--config", path.join(dir, "vitest.config.mts"), "--root", dir], {
      cwd: dir,
      env,
      maxBuffer: 16 * 1024 * 1024,
    }).then(
      (ok) => ({ code: 0, out: `${ok.stdout}${ok.stderr}` }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: `${err.stdout}${err.stderr}` }),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Tests\s+2 passed \(2\)/);
  }, 180_000);
});
