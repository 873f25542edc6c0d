// Which kind of batch an upload may go to, and creating the batch on its first upload. A batch is
// one kind for life: single images, bulk images or videos never mix, and job outputs take no uploads.
import { conflict } from "../errors.js";
import { getBatch, insertBatch, type BatchContentType, type BatchRow, type BatchType } from "../state/batches.js";
import type { Db } from "../state/db.js";
import { retireExpired } from "./expiry.js";

/** What an ingestion route needs the batch to be. */
export interface BatchTarget {
  type: BatchType;
  content: BatchContentType;
  /** How this upload is described in errors, e.g. "single-image uploads". */
  what: string;
}

export const SINGLE_IMAGES: BatchTarget = { type: "simple-batch", content: "images", what: "single-image uploads (upload/image)" };
export const BULK_IMAGES: BatchTarget = {
  type: "sharded-batch",
  content: "images",
  what: "bulk image ingests (bulk-upload/image-files, image-references, roboql-ingest)",
};
export const VIDEOS: BatchTarget = { type: "simple-batch", content: "videos", what: "video uploads (upload/video, bulk-upload/video-references)" };

function describeBatch(b: BatchRow): string {
  if (b.origin === "job-output") return `the output of a job (${b.batch_type} of ${b.content_type})`;
  if (b.batch_type === "sharded-batch") return `a sharded-batch of ${b.content_type} (filled by bulk ingests)`;
  if (b.batch_type === "simple-batch" && b.content_type === "images") return "a simple-batch of images (filled by single-image uploads)";
  return `a ${b.batch_type} of ${b.content_type}`;
}

/** Throws 409 when `b` cannot take data of kind `target`. */
export function assertBatchAccepts(b: BatchRow, target: BatchTarget): void {
  if (b.origin === "job-output") {
    throw conflict(`Batch "${b.batch_id}" is ${describeBatch(b)}; uploads to job output batches are refused`, "Stage input data in a new batch id.");
  }
  if (b.batch_type !== target.type || b.content_type !== target.content) {
    throw conflict(
      `Batch "${b.batch_id}" is ${describeBatch(b)}; ${target.what} cannot be added to it`,
      "Single-image and bulk uploads cannot be mixed in one batch, nor images and videos: use a new batch id for this data.",
    );
  }
}

/**
 * Returns the batch, creating it (with `displayName`) when absent or expired (an expired batch is
 * retired first, so the new one starts empty); 409 when it is of another kind. Call inside a transaction.
 */
export function ensureBatch(db: Db, ws: string, batchId: string, target: BatchTarget, displayName: string | undefined, now: number): BatchRow {
  const existing = getBatch(db, ws, batchId);
  if (existing && existing.expires_at > now) {
    assertBatchAccepts(existing, target);
    return existing;
  }
  if (existing) retireExpired(db, existing);
  return insertBatch(db, {
    workspace_id: ws,
    batch_id: batchId,
    display_name: displayName || batchId,
    batch_type: target.type,
    content_type: target.content,
    origin: "user",
    created_at: now,
  });
}

/** Checks without creating (used before reading a body, so a doomed upload fails fast). */
export function checkBatchTarget(db: Db, ws: string, batchId: string, target: BatchTarget): void {
  const existing = getBatch(db, ws, batchId);
  if (existing) assertBatchAccepts(existing, target);
}
