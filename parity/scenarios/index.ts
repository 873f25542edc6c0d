// Every parity scenario, in the order they run (each one is independent: it makes its own batches and jobs).
import type { Scenario } from "../runner.js";
import { errors } from "./errors.js";
import { jobAbortRestart, jobCsv, jobJsonl } from "./jobs.js";
import { imageReferencesIngest, listingPagination, singleImageUpload, tarShardUpload, videoUpload } from "./staging.js";

export const SCENARIOS: Scenario[] = [
  singleImageUpload,
  tarShardUpload,
  videoUpload,
  imageReferencesIngest,
  listingPagination,
  jobJsonl,
  jobCsv,
  jobAbortRestart,
  errors,
];

export function pickScenarios(names: string[] | undefined): Scenario[] {
  if (!names?.length) return SCENARIOS;
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(", ")} (known: ${SCENARIOS.map((s) => s.name).join(", ")})`);
  return SCENARIOS.filter((s) => names.includes(s.name));
}
