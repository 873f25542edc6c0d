// Seeds: a JSON world loaded at start (--seed FILE) or by POST /_emulator/seed. Workspaces and keys,
// batches with files (inline base64/text or generated PNG images, parts for multipart batches), jobs
// in a given state (through the jobs simulator), and an optional "deterministic" block (seeded ids,
// clock start time). Validated by the same zod schema the control API publishes.
import fs from "node:fs";
import path from "node:path";
import type { Emulator } from "./context.js";
import { SeedBody, type JobScriptT, type SeedBatchT, type SeedBodyT, type SeedJobT } from "./contract/controls.js";
import { badRequest, validationError } from "./errors.js";
import { ensureWorkspace, setInternalId, workspaceExists, workspaceWithInternalId } from "./state/workspaces.js";
import { colorOf, makePng, parseColor } from "./controls/png.js";
import { startScriptedJob } from "./controls/scripted-jobs.js";
import { importBatch, type BatchImport, type ImportedFile, type ImportedPart } from "./staging/batch-import.js";

export type SeedFile = SeedBodyT;

export interface SeedSummary {
  workspaces: number;
  batches: number;
  files: number;
  jobs: number;
}

/** Reads and parses a seed file; a clear error names the file when it is not JSON. */
export function readSeedFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read seed file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`seed file ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** The clock start time a seed asks for (deterministic.startTime), in ms. */
export function startTimeOf(seed: unknown): number | undefined {
  const t = (seed as SeedBodyT | undefined)?.deterministic?.startTime;
  if (t === undefined) return undefined;
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Whether a seed asks for a clock stopped at its start time (deterministic.clock = manual). */
export function startsManual(seed: unknown): boolean {
  return (seed as SeedBodyT | undefined)?.deterministic?.clock === "manual";
}

export function parseSeed(seed: unknown): SeedBodyT {
  if (!seed || typeof seed !== "object" || Array.isArray(seed)) throw badRequest("seed must be a JSON object");
  const r = SeedBody.safeParse(seed);
  if (!r.success) throw validationError(r.error, SeedBody, seed, "seed");
  return r.data;
}

/** Applies a seed: workspaces, then batches (blobs, then rows), then jobs through the simulator's startJob. */
export function applySeedFile(emu: Emulator, raw: unknown): SeedSummary {
  const seed = parseSeed(raw);
  const now = emu.clock.now();
  const summary: SeedSummary = { workspaces: 0, batches: 0, files: 0, jobs: 0 };
  for (const w of seed.workspaces ?? []) {
    if (!w.apiKeys?.length) ensureWorkspace(emu.db, w.id, undefined, now);
    for (const key of w.apiKeys ?? []) ensureWorkspace(emu.db, w.id, key, now);
    if (w.internalId !== undefined) giveInternalId(emu, w.id, w.internalId);
    summary.workspaces++;
  }
  for (const b of seed.batches ?? []) {
    summary.files += seedBatch(emu, b, now);
    summary.batches++;
  }
  for (const j of seed.jobs ?? []) {
    const ws = j.workspace ?? emu.config.workspace;
    requireWorkspace(emu, ws, "jobs");
    const script = scriptFor(j);
    startScriptedJob(emu, ws, j.jobId, j.definition, { name: j.name, script });
    summary.jobs++;
  }
  return summary;
}

/** The seed's script, with the `state` shortcut folded in. */
function scriptFor(j: SeedJobT): JobScriptT | undefined {
  if (!j.state) return j.script;
  const script: JobScriptT = { ...(j.script ?? {}) };
  if (j.state === "succeeded") script.finalState = "success";
  else if (j.state === "failed") script.finalState = "fail";
  // "running": the first stage takes ~30 emulated years, so the job stays mid-processing until reset.
  else script.stageDurationsMs = { ...(script.stageDurationsMs ?? {}), processing: 1e12 };
  return script;
}

function giveInternalId(emu: Emulator, ws: string, internalId: string): void {
  const holder = workspaceWithInternalId(emu.db, internalId, ws);
  if (holder)
    throw badRequest(`seed workspace "${ws}": internalId "${internalId}" is already the internal id of workspace "${holder}"`, [
      { field: "internalId", problem: "already used by another workspace", received: internalId },
    ]);
  setInternalId(emu.db, ws, internalId);
}

function requireWorkspace(emu: Emulator, ws: string, where: string): void {
  if (!workspaceExists(emu.db, ws))
    throw badRequest(
      `seed ${where} name workspace "${ws}", which does not exist`,
      undefined,
      `Add {"id": "${ws}", "apiKeys": [...]} to the seed's "workspaces".`,
    );
}

const MEDIA_TYPES: Record<string, [mediaType: string, contentType: string]> = {
  ".png": ["image/png", "image"],
  ".jpg": ["image/jpeg", "image"],
  ".jpeg": ["image/jpeg", "image"],
  ".gif": ["image/gif", "image"],
  ".bmp": ["image/bmp", "image"],
  ".webp": ["image/webp", "image"],
  ".tif": ["image/tiff", "image"],
  ".tiff": ["image/tiff", "image"],
  ".mp4": ["video/mp4", "video"],
  ".mov": ["video/quicktime", "video"],
  ".avi": ["video/x-msvideo", "video"],
  ".mkv": ["video/x-matroska", "video"],
  ".webm": ["video/webm", "video"],
  ".json": ["application/json", "metadata"],
  ".jsonl": ["application/x-ndjson", "metadata"],
  ".csv": ["text/csv", "metadata"],
  ".txt": ["text/plain", "metadata"],
  ".tar": ["application/x-tar", "archive"],
  ".gz": ["application/gzip", "archive"],
  ".zip": ["application/zip", "archive"],
};

export function typesOf(fileName: string): { mediaType: string; contentType: string } {
  const t = MEDIA_TYPES[path.extname(fileName).toLowerCase()];
  return t ? { mediaType: t[0], contentType: t[1] } : { mediaType: "application/octet-stream", contentType: "other" };
}

const BATCH_CONTENT: Record<string, "images" | "videos" | "metadata" | "archives"> = {
  image: "images",
  video: "videos",
  metadata: "metadata",
  archive: "archives",
};

function planFiles(b: SeedBatchT): ImportedFile[] {
  const out: ImportedFile[] = [];
  for (const [i, f] of (b.files ?? []).entries()) {
    const sources = [f.base64, f.text, f.image].filter((x) => x !== undefined).length;
    if (sources !== 1) throw badRequest(`seed batch "${b.batchId}" file #${i} ("${f.name}") needs exactly one of base64, text or image`);
    let bytes: Buffer;
    if (f.base64 !== undefined) bytes = Buffer.from(f.base64, "base64");
    else if (f.text !== undefined) bytes = Buffer.from(f.text, "utf8");
    else bytes = makePng(f.image!.width ?? 64, f.image!.height ?? 48, f.image!.color ? parseColor(f.image!.color) : colorOf(`${b.batchId}/${f.name}`));
    const t = typesOf(f.name);
    out.push({
      name: f.name,
      bytes,
      partName: f.partName ?? "",
      contentType: f.contentType ?? t.contentType,
      mediaType: f.mediaType ?? t.mediaType,
      shardId: f.shardId ?? null,
    });
  }
  if (b.images) {
    const { count, width = 64, height = 48, prefix = "image-", partName = "" } = b.images;
    const digits = String(count).length;
    for (let i = 1; i <= count; i++) {
      const name = `${prefix}${String(i).padStart(Math.max(3, digits), "0")}.png`;
      out.push({ name, bytes: makePng(width, height, colorOf(`${b.batchId}/${name}`)), partName, contentType: "image", mediaType: "image/png", shardId: null });
    }
  }
  return out;
}

function seedBatch(emu: Emulator, b: SeedBatchT, now: number): number {
  const ws = b.workspace ?? emu.config.workspace;
  requireWorkspace(emu, ws, `batch "${b.batchId}"`);
  const files = planFiles(b);
  const parts = b.parts ?? [];
  const partNames = new Set([...parts.map((p) => p.name), ...files.map((f) => f.partName).filter((p) => p !== "")]);
  const kinds = new Set(files.map((f) => BATCH_CONTENT[f.contentType] ?? "mixed"));
  const contentType = b.contentType ?? (kinds.size === 1 ? [...kinds][0] : kinds.size === 0 ? "images" : "mixed");
  const batchType = b.batchType ?? (partNames.size ? "multipart-batch" : "simple-batch");
  const declared = new Map(parts.map((p) => [p.name, p]));
  const importedParts: ImportedPart[] = [...partNames].map((name) => {
    const p = declared.get(name);
    const partKinds = new Set(files.filter((f) => f.partName === name).map((f) => f.contentType));
    return {
      name,
      type: p?.type ?? "simple-part",
      contentType: p?.contentType ?? (partKinds.size === 1 ? (BATCH_CONTENT[[...partKinds][0]] ?? "mixed") : "mixed"),
      description: p?.description ?? null,
      nestedContentType: p?.nestedContentType ?? null,
    };
  });
  const batch: BatchImport["batch"] = {
    display_name: b.displayName ?? b.batchId,
    batch_type: batchType,
    content_type: contentType,
    origin: b.origin ?? "user",
  };
  importBatch(emu, { ws, batchId: b.batchId, batch, parts: importedParts, files }, now);
  return files.length;
}
