// The snapshot file of one scenario: a header saying where it was recorded, then every step's
// request (for reading) and normalized response (what is compared).
import fs from "node:fs";
import path from "node:path";
import type { Shape } from "./normalize.js";

export interface RecordedRequest {
  method: string;
  /** Path with the run tag and workspace replaced; absolute (signed) URLs become their token. */
  path: string;
  query?: Record<string, Shape>;
  headers?: Record<string, Shape>;
  /** JSON bodies as shapes; other bodies as `<multipart: …>` / `<bytes: …>` summaries. */
  body?: Shape;
}

export interface RecordedStep {
  name: string;
  request: RecordedRequest;
  response: { status: number; contentType: string; body: Shape };
}

export interface ScenarioSnapshot {
  /** `emulator <version>` or `service <host>`: who answered. */
  source: string;
  scenario: string;
  title: string;
  note?: string;
  /** Set when the scenario stopped before its last step (a precondition never came true). */
  failure?: string;
  steps: RecordedStep[];
}

export const DEFAULT_SNAPSHOT_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "snapshots");

export const snapshotPath = (dir: string, scenario: string) => path.join(dir, `${scenario}.json`);

export function readSnapshot(dir: string, scenario: string): ScenarioSnapshot | undefined {
  const file = snapshotPath(dir, scenario);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as ScenarioSnapshot) : undefined;
}

/** Header first (source, scenario, title, note), then the steps; shapes keep their sorted keys. */
export function writeSnapshot(dir: string, snap: ScenarioSnapshot): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = snapshotPath(dir, snap.scenario);
  const ordered: ScenarioSnapshot = {
    source: snap.source,
    scenario: snap.scenario,
    title: snap.title,
    note: snap.note,
    ...(snap.failure ? { failure: snap.failure } : {}),
    steps: snap.steps,
  };
  fs.writeFileSync(file, JSON.stringify(ordered, null, 2) + "\n");
  return file;
}
