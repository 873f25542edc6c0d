// Records or compares: runs the chosen scenarios against a target, then either writes each run as the
// scenario's snapshot (`record`) or compares it with the stored one. Used by the CLI and by the tests.
import crypto from "node:crypto";
import { ALLOWANCES } from "./allowances.js";
import { compareScenario, isDrift, type Allowance, type Diff } from "./compare.js";
import { startFileServer, type FileServer } from "./files.js";
import { isLoopbackUrl, send, type Target } from "./http.js";
import { runScenario, type RunOptions } from "./runner.js";
import { pickScenarios } from "./scenarios/index.js";
import { readSnapshot, writeSnapshot, type ScenarioSnapshot } from "./snapshot.js";

export interface ParityOptions {
  target: Target;
  record: boolean;
  snapshotDir: string;
  scenarios?: string[];
  workflowId?: string;
  otherWorkspace?: string;
  /** Image URLs the target can download; none + a loopback target = served by a local file server. */
  referenceUrls?: string[];
  runTag?: string;
  /** Label written as `source` when recording (default: `emulator <version>` or `service <host>`). */
  source?: string;
  pollTimeoutMs?: number;
  pollMaxIntervalMs?: number;
  allowances?: Allowance[];
  log?: (line: string) => void;
}

export interface ScenarioResult {
  scenario: string;
  skipped?: string;
  run?: ScenarioSnapshot;
  file?: string;
  diffs: Diff[];
}

export interface ParityResult {
  source: string;
  results: ScenarioResult[];
  /** Differences that are not covered by an allowance (the CLI exits 1 when there are any). */
  drift: Diff[];
}

const NOTE_EMULATOR =
  "Recorded from the emulator itself, NOT from the real service: these snapshots only pin the emulator's current behaviour. Re-record against the real service with a real key (see parity/README.md): npm run parity -- --target https://api.roboflow.com --api-key KEY --workspace WS --workflow-id WORKFLOW --reference-url URL --record";
const NOTE_SERVICE =
  "Recorded from the real service; the emulator is compared against it with: npm run parity -- --target http://127.0.0.1:9010 --api-key emulator-api-key --workspace emulator-workspace";

/** `emulator <version>` when the target answers the emulator's /health, else `service <host>`. */
export async function detectSource(target: Target): Promise<string> {
  try {
    const { res } = await send(target, { method: "GET", path: "/health", apiKey: null }, 10_000);
    if (res.status === 200 && typeof res.json?.version === "string" && typeof res.json?.uptimeSeconds === "number") return `emulator ${res.json.version}`;
  } catch {
    // no /health: not the emulator
  }
  return `service ${new URL(target.baseUrl).host}`;
}

/** A fresh run tag: 6 characters, starting with a letter outside a-f so it never reads as hex. */
export const newRunTag = () => "r" + crypto.randomBytes(3).toString("hex").slice(0, 5);

const referenceName = (url: string, i: number) => `ref-${i + 1}${/\.(jpe?g|png|bmp|gif|webp|tiff?)$/i.exec(new URL(url).pathname)?.[0] ?? ".jpg"}`;

export async function runParity(o: ParityOptions): Promise<ParityResult> {
  const log = o.log ?? (() => {});
  const scenarios = pickScenarios(o.scenarios);
  const source = o.source ?? (await detectSource(o.target));
  let files: FileServer | undefined;
  let references = (o.referenceUrls ?? []).map((url, i) => ({ name: referenceName(url, i), url }));
  if (!references.length && isLoopbackUrl(o.target.baseUrl) && scenarios.some((s) => s.name === "image-references-ingest")) {
    files = await startFileServer();
    references = files.references;
  }
  const runOpts: RunOptions = {
    target: o.target,
    runTag: o.runTag ?? newRunTag(),
    workflowId: o.workflowId ?? "parity-workflow",
    otherWorkspace: o.otherWorkspace ?? "parity-not-your-workspace",
    references,
    pollTimeoutMs: o.pollTimeoutMs ?? 30 * 60_000,
    pollMaxIntervalMs: o.pollMaxIntervalMs ?? 10_000,
    log,
  };
  const note = source.startsWith("emulator") ? NOTE_EMULATOR : NOTE_SERVICE;
  const results: ScenarioResult[] = [];
  try {
    for (const scenario of scenarios) {
      const skipped = scenario.skip?.(runOpts);
      if (skipped) {
        log(`- ${scenario.name}: skipped (${skipped})`);
        results.push({ scenario: scenario.name, skipped, diffs: [] });
        continue;
      }
      log(`- ${scenario.name} (run tag ${runOpts.runTag})`);
      const run = await runScenario(scenario, runOpts, source, note);
      if (o.record) {
        results.push({ scenario: scenario.name, run, file: writeSnapshot(o.snapshotDir, run), diffs: [] });
        continue;
      }
      const expected = readSnapshot(o.snapshotDir, scenario.name);
      const diffs = expected
        ? compareScenario(expected, run, o.allowances ?? ALLOWANCES)
        : [
            {
              scenario: scenario.name,
              step: "(scenario)",
              path: "snapshot",
              expected: `a recorded ${scenario.name}.json in ${o.snapshotDir}`,
              actual: "none (run with --record first)",
            },
          ];
      results.push({ scenario: scenario.name, run, diffs });
    }
  } finally {
    await files?.close();
  }
  return { source, results, drift: results.flatMap((r) => r.diffs.filter(isDrift)) };
}
