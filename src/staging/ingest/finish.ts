// Ends a shard: moves its staged files into the blob tree (fsync + rename), then in ONE transaction
// inserts the file rows, sets the shard's final status and enqueues its notifications. A crash
// before the commit leaves the shard "info", so a restarted worker simply does it again.
import type { Core } from "../../context.js";
import { ApiError } from "../../errors.js";
import { upsertFile } from "../../state/batches.js";
import { deleteFilesOfShard, listShardsOfIngest, setShardNotifications } from "../../state/ingests.js";
import { ensureBatch, type BatchTarget } from "../targets.js";
import { getShard, updateShardStatus, type ShardRow } from "../../state/shards.js";
import { errorDetailsOf, notifyFilesStatus, notifyIngestStatus, type ErrorDetails, type FailedFile, type NotificationTarget } from "./notify.js";
import type { NotificationConfig } from "./tar.js";

export interface StagedFile {
  fileName: string;
  /** Complete temp file (not yet fsynced). */
  tmp: string;
  size: number;
  sha256: string;
  mediaType: string;
  contentType: "image" | "video";
}

export interface ShardResult {
  files: StagedFile[];
  failed: FailedFile[];
  shardError: ErrorDetails | null;
  /** Settings read from the shard itself (notification_config.json). */
  notificationConfig?: NotificationConfig | null;
}

export interface FinishOptions {
  target: BatchTarget;
  /** shardId written on the file rows (null for simple batches). */
  fileShardId: string | null;
  /** Tar shards report ingest status per shard; reference ingests once, when their last shard ends. */
  ingestStatusPerShard: boolean;
  /**
   * The uploaded tar this result was read from, deleted once the shard is final. When the shard
   * names another archive by then (its URL was PUT again), the result is stale and not applied.
   */
  consumedBlob?: string;
  /** The shard's earlier files are replaced by this result's (a tar shard indexed again after a new PUT). */
  replaceShardFiles?: boolean;
}

/** The archive a tar shard currently names (its latest PUT). */
const tarBlobOf = (s: ShardRow): string | undefined => (JSON.parse(s.payload ?? "{}") as { tarBlob?: string }).tarBlob;

/** Failures kept in a shard's statusMetadata (the files-status webhook carries up to 1000). */
export const MAX_FAILURES_IN_METADATA = 100;

interface ShardMetadata {
  ingestedFiles: number;
  failedFilesCount: number;
  failedFiles: FailedFile[];
  errorDetails?: ErrorDetails;
}

export function statusOf(result: { files: unknown[]; failed: FailedFile[]; shardError: ErrorDetails | null }): { name: string; type: string } {
  if (result.shardError) return { name: result.shardError.type, type: "error" };
  if (!result.files.length) return { name: "no-files-ingested", type: "error" };
  if (result.failed.length) return { name: "ingested-with-failures", type: "success" };
  return { name: "ingested", type: "success" };
}

function targetOf(s: ShardRow): NotificationTarget {
  return {
    workspaceId: s.workspace_id,
    batchId: s.batch_id,
    ingestId: s.ingest_id,
    url: s.notifications_url,
    categories: s.notification_categories ? (JSON.parse(s.notification_categories) as string[]) : null,
  };
}

/** Ingest-level error across all shards of an ingest (null when every file of every shard went in). */
function ingestErrorOf(shards: ShardRow[]): ErrorDetails | null {
  let first: ErrorDetails | null = null;
  let failures = 0;
  for (const s of shards) {
    const meta = s.status_metadata ? (JSON.parse(s.status_metadata) as Partial<ShardMetadata>) : {};
    if (meta.errorDetails) {
      failures += Math.max(1, meta.failedFilesCount ?? 0);
      first ??= meta.errorDetails;
    } else if (meta.failedFilesCount) {
      failures += meta.failedFilesCount;
      const f = meta.failedFiles?.[0];
      if (f) first ??= { type: f.type, reason: f.reason };
    }
  }
  if (!first) return null;
  return failures > 1 ? { type: first.type, reason: `${first.reason} (and ${failures - 1} more failure${failures > 2 ? "s" : ""} in this ingest)` } : first;
}

/** Applies a shard's outcome. Returns false when the shard vanished or already ended (nothing applied). */
export async function finishShard(emu: Core, shardId: string, result: ShardResult, opts: FinishOptions): Promise<boolean> {
  let committed: { file: StagedFile; blob: string }[];
  try {
    const blobs = await emu.blobs.commitMany(
      result.files.map((f) => f.tmp),
      "files",
    );
    committed = result.files.map((file, i) => ({ file, blob: blobs[i] }));
  } catch (err) {
    for (const f of result.files) emu.blobs.discard(f.tmp);
    throw err;
  }

  const replaced: string[] = [];
  const used = new Set<string>();
  let applied = false;
  try {
    emu.db.transaction(() => {
      const shard = getShard(emu.db, shardId);
      if (!shard || shard.status_type !== "info") return;
      if (opts.consumedBlob !== undefined && tarBlobOf(shard) !== opts.consumedBlob) return;
      if (result.notificationConfig) setShardNotifications(emu.db, shardId, result.notificationConfig);
      const now = emu.clock.now();
      let shardError = result.shardError;
      if (!shardError && committed.length) {
        try {
          ensureBatch(emu.db, shard.workspace_id, shard.batch_id, opts.target, undefined, now);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          shardError = { type: "batch-conflict", reason: err.message };
        }
      }
      const files = shardError ? [] : committed;
      if (opts.replaceShardFiles) replaced.push(...deleteFilesOfShard(emu.db, shard.workspace_id, shard.batch_id, shardId));
      for (const { file, blob } of files) {
        const r = upsertFile(emu.db, {
          workspace_id: shard.workspace_id,
          batch_id: shard.batch_id,
          part_name: "",
          file_name: file.fileName,
          content_type: file.contentType,
          nested_content_type: null,
          shard_id: opts.fileShardId,
          blob,
          size: file.size,
          sha256: file.sha256,
          media_type: file.mediaType,
          created_at: now,
        });
        used.add(blob);
        if (r.replacedBlob) replaced.push(r.replacedBlob);
      }
      const status = statusOf({ files, failed: result.failed, shardError });
      const errorDetails =
        shardError ??
        (files.length
          ? null
          : (errorDetailsOf(null, result.failed) ?? { type: "no-files-ingested", reason: "The shard contained no file that could be ingested." }));
      const metadata: ShardMetadata = {
        ingestedFiles: files.length,
        failedFilesCount: result.failed.length,
        failedFiles: result.failed.slice(0, MAX_FAILURES_IN_METADATA),
        ...(errorDetails ? { errorDetails } : {}),
      };
      updateShardStatus(emu.db, shardId, { name: status.name, type: status.type, count: files.length, metadata, at: now });

      const finished = getShard(emu.db, shardId)!;
      const target = targetOf(finished);
      notifyFilesStatus(
        emu,
        target,
        shardId,
        files.map((f) => f.file.fileName),
        result.failed,
        errorDetails !== null && files.length === 0,
      );
      if (opts.ingestStatusPerShard) {
        notifyIngestStatus(emu, target, shardId, errorDetailsOf(errorDetails, result.failed));
      } else if (finished.ingest_id) {
        const all = listShardsOfIngest(emu.db, finished.workspace_id, finished.batch_id, finished.ingest_id);
        if (all.every((s) => s.status_type !== "info")) notifyIngestStatus(emu, target, null, ingestErrorOf(all));
      }
      applied = true;
    })();
  } catch (err) {
    for (const c of committed) emu.blobs.remove(c.blob);
    throw err;
  }
  // Blobs the transaction did not reference (shard vanished, or a late batch conflict) are dropped.
  for (const c of committed) if (!used.has(c.blob)) emu.blobs.remove(c.blob);
  if (!applied) return false;
  for (const blob of replaced) emu.blobs.remove(blob);
  if (opts.consumedBlob) emu.blobs.remove(opts.consumedBlob);
  return true;
}
