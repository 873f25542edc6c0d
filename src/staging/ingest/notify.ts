// Data staging webhooks: the real roboflow-data-staging-notification-v1 payloads (integration guide,
// seed 002), filtered by the ingest's notificationCategories and handed to the durable sender.
import type { Core } from "../../context.js";

export const NOTIFICATION_TYPE = "roboflow-data-staging-notification-v1";
export const DEFAULT_CATEGORIES = ["ingest-status"];
/** Entries per files-status notification before `content_truncated` is set. */
export const MAX_FILES_IN_NOTIFICATION = 1000;

export interface FailedFile {
  type: string;
  file_name: string;
  reason: string;
}

export interface ErrorDetails {
  type: string;
  reason: string;
}

export interface NotificationTarget {
  workspaceId: string;
  batchId: string;
  ingestId: string | null;
  url: string | null;
  categories: string[] | null;
}

export function ingestStatusPayload(t: NotificationTarget, shardId: string | null, success: boolean, errorDetails?: ErrorDetails) {
  return {
    type: NOTIFICATION_TYPE,
    ingest_id: t.ingestId,
    batch_id: t.batchId,
    shard_id: shardId,
    notification: { type: "ingest-status-notification-v1", success, ...(errorDetails ? { error_details: errorDetails } : {}) },
  };
}

export function filesStatusPayload(t: NotificationTarget, shardId: string | null, ingested: string[], failed: FailedFile[], shardFailed = false) {
  const room = MAX_FILES_IN_NOTIFICATION;
  const ingestedFiles = ingested.slice(0, room);
  const failedFiles = failed.slice(0, Math.max(0, room - ingestedFiles.length));
  return {
    type: NOTIFICATION_TYPE,
    ingest_id: t.ingestId,
    batch_id: t.batchId,
    shard_id: shardId,
    notification: {
      type: "ingest-files-status-notification-v1",
      success: failed.length === 0 && !shardFailed,
      ingested_files: ingestedFiles,
      failed_files: failedFiles,
      content_truncated: ingestedFiles.length < ingested.length || failedFiles.length < failed.length,
    },
  };
}

function wants(t: NotificationTarget, category: string): boolean {
  return !!t.url && (t.categories ?? DEFAULT_CATEGORIES).includes(category);
}

/** Summarises what went wrong for an ingest-status notification (null when nothing did). */
export function errorDetailsOf(shardError: ErrorDetails | null, failed: FailedFile[]): ErrorDetails | null {
  if (shardError) return shardError;
  if (!failed.length) return null;
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more failed file${failed.length > 2 ? "s" : ""})` : "";
  return { type: failed[0].type, reason: `${failed[0].reason}${more}` };
}

/** Enqueues a files-status notification for one finished shard, if the ingest asked for it. Call inside the shard's final transaction. */
export function notifyFilesStatus(emu: Core, t: NotificationTarget, shardId: string, ingested: string[], failed: FailedFile[], shardFailed: boolean): void {
  if (!wants(t, "files-status")) return;
  emu.webhooks.enqueue({
    workspaceId: t.workspaceId,
    url: t.url!,
    category: "files-status",
    subject: t.batchId,
    payload: filesStatusPayload(t, shardId, ingested, failed, shardFailed),
  });
}

/** Enqueues an ingest-status notification, if the ingest asked for it. Call inside the final transaction. */
export function notifyIngestStatus(emu: Core, t: NotificationTarget, shardId: string | null, error: ErrorDetails | null): void {
  if (!wants(t, "ingest-status")) return;
  emu.webhooks.enqueue({
    workspaceId: t.workspaceId,
    url: t.url!,
    category: "ingest-status",
    subject: t.batchId,
    payload: ingestStatusPayload(t, shardId, error === null, error ?? undefined),
  });
}
