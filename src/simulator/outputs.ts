// Writers for what jobs produce: per-image / per-frame result records as JSONL or CSV, export
// archives as .tar.gz streams, and the multipart output batches (rows) that expose them for download.
import zlib from "node:zlib";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { Db } from "../state/db.js";
import { getBatch, insertBatch, upsertFile, upsertPart, type BatchContentType } from "../state/batches.js";
import type { Prediction } from "./job-media.js";

// ---- result records ----------------------------------------------------------------------------

export interface ImageResult {
  image_name: string;
  image_sha256: string;
  workflow_id: string;
  width?: number;
  height?: number;
  predictions?: Prediction[];
  error?: { type: string; message: string };
}

export interface FrameResult {
  video_name: string;
  video_sha256: string;
  workflow_id: string;
  frame_number?: number;
  frame_timestamp?: number;
  width?: number;
  height?: number;
  predictions?: Prediction[];
  error?: { type: string; message: string };
}

export const IMAGE_CSV_COLUMNS = ["image_name", "image_sha256", "workflow_id", "width", "height", "predictions_count", "predictions", "error"] as const;
export const VIDEO_CSV_COLUMNS = [
  "video_name",
  "video_sha256",
  "workflow_id",
  "frame_number",
  "frame_timestamp",
  "width",
  "height",
  "predictions_count",
  "predictions",
  "error",
] as const;

/** JSONL record: the shape of a Workflow's detection output (`{image: {width, height}, predictions: [...]}`). */
export function jsonlLine(r: ImageResult | FrameResult): string {
  const { predictions, width, height, error, ...ids } = r;
  const record: Record<string, unknown> = { ...ids };
  if (error) record.error = error;
  else record.predictions = { image: { width, height }, predictions: predictions ?? [] };
  return `${JSON.stringify(record)}\n`;
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = typeof v === "string" ? v : typeof v === "number" ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(kind: "image" | "video"): string {
  return `${(kind === "image" ? IMAGE_CSV_COLUMNS : VIDEO_CSV_COLUMNS).join(",")}\r\n`;
}

/** CSV row (RFC 4180): nested predictions are one JSON-encoded cell. */
export function csvLine(r: ImageResult | FrameResult, kind: "image" | "video"): string {
  const cols = kind === "image" ? IMAGE_CSV_COLUMNS : VIDEO_CSV_COLUMNS;
  const row: Record<string, unknown> = {
    ...r,
    predictions_count: r.error ? undefined : (r.predictions ?? []).length,
    error: r.error ? `${r.error.type}: ${r.error.message}` : undefined,
  };
  if (r.error) row.predictions = undefined;
  return `${cols.map((c) => csvCell(row[c])).join(",")}\r\n`;
}

// ---- tar.gz ------------------------------------------------------------------------------------

/** Fixed entry time, so the same results always give the same archive bytes. */
export const ARCHIVE_MTIME = Date.UTC(2024, 0, 1) / 1000;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** A POSIX ustar header for a regular file (names are short ASCII: results-00000.jsonl). */
export function tarHeader(name: string, size: number, mtime = ARCHIVE_MTIME): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, 8, "ascii");
  h.write(octal(0, 8), 108, 8, "ascii");
  h.write(octal(0, 8), 116, 8, "ascii");
  h.write(octal(size, 12), 124, 12, "ascii");
  h.write(octal(mtime, 12), 136, 12, "ascii");
  h.write("        ", 148, 8, "ascii");
  h.write("0", 156, 1, "ascii");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("roboflow", 265, 32, "ascii");
  h.write("roboflow", 297, 32, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

export interface ArchiveEntry {
  name: string;
  size: number;
  open(): AsyncIterable<Buffer>;
}

async function* tarStream(entries: ArchiveEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    yield tarHeader(e.name, e.size);
    let written = 0;
    for await (const chunk of e.open()) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== e.size) throw new Error(`${e.name} changed while archiving`);
    const pad = (512 - (e.size % 512)) % 512;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(1024);
}

/** The entries as a gzip-compressed tar stream; memory stays flat whatever the sizes. */
export function tarGz(entries: ArchiveEntry[]): Readable {
  const gzip = zlib.createGzip({ level: 6 });
  // pipeline destroys gzip with any stage's error, so whoever reads the archive sees the failure.
  pipeline(Readable.from(tarStream(entries)), gzip).catch(() => {});
  return gzip;
}

/** Records in a results file: JSONL lines, or CSV rows after the header (quoted cells may hold line breaks). */
export function countRecords(bytes: Buffer, format: "jsonl" | "csv"): number {
  let lines = 0;
  let quoted = false;
  for (const b of bytes) {
    if (format === "csv" && b === 0x22) quoted = !quoted;
    else if (b === 0x0a && !quoted) lines++;
  }
  return format === "csv" ? Math.max(0, lines - 1) : lines;
}

// ---- output batches ----------------------------------------------------------------------------

export interface OutputPart {
  partName: string;
  partType: string;
  contentType: string;
  description: string;
  nestedContentType: string | null;
}

/** Creates (once) the multipart output batch of a stage and its parts. Run inside the stage-start transaction. */
export function ensureOutputBatch(
  db: Db,
  ws: string,
  batchId: string,
  displayName: string,
  contentType: BatchContentType,
  parts: OutputPart[],
  now: number,
): void {
  if (!getBatch(db, ws, batchId)) {
    insertBatch(db, {
      workspace_id: ws,
      batch_id: batchId,
      display_name: displayName,
      batch_type: "multipart-batch",
      content_type: contentType,
      origin: "job-output",
      created_at: now,
    });
  }
  parts.forEach((p, i) =>
    upsertPart(db, {
      workspace_id: ws,
      batch_id: batchId,
      part_name: p.partName,
      part_type: p.partType,
      content_type: p.contentType,
      description: p.description,
      nested_content_type: p.nestedContentType,
      seq: i,
    }),
  );
}

export const RESULTS_PART: OutputPart = {
  partName: "results",
  partType: "workflow-results",
  contentType: "metadata",
  description: "Workflow results aggregated per processing task (JSONL or CSV, per aggregationFormat)",
  nestedContentType: null,
};

export const ARCHIVES_PART: OutputPart = {
  partName: "archives",
  partType: "results-archives",
  contentType: "archives",
  description: "Compressed archives (.tar.gz) of the processing results",
  nestedContentType: "metadata",
};

/** Adds (or replaces, by name) an output file row: re-running a task never duplicates its output. */
export function recordOutputFile(
  db: Db,
  f: {
    ws: string;
    batchId: string;
    partName: string;
    fileName: string;
    contentType: string;
    nestedContentType: string | null;
    blob: string;
    size: number;
    sha256: string;
    mediaType: string;
    now: number;
  },
): string | undefined {
  return upsertFile(db, {
    workspace_id: f.ws,
    batch_id: f.batchId,
    part_name: f.partName,
    file_name: f.fileName,
    content_type: f.contentType,
    nested_content_type: f.nestedContentType,
    shard_id: null,
    blob: f.blob,
    size: f.size,
    sha256: f.sha256,
    media_type: f.mediaType,
    created_at: f.now,
  }).replacedBlob;
}
