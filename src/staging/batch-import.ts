// A whole batch stored at once from bytes in hand (seeds): blobs first (complete files before any row
// names them), then the batch, its parts and its file rows in one transaction. A failed import leaves
// no blob behind; a re-imported file name replaces the old file and its blob.
import type { Core } from "../context.js";
import { getBatch, insertBatch, listParts, upsertFile, upsertPart, type BatchRow } from "../state/batches.js";
import { retireExpired } from "./expiry.js";

export interface ImportedFile {
  name: string;
  bytes: Buffer;
  partName: string;
  contentType: string;
  mediaType: string;
  shardId: string | null;
}

export interface ImportedPart {
  name: string;
  type: string;
  contentType: string;
  description: string | null;
  nestedContentType: string | null;
}

export interface BatchImport {
  ws: string;
  batchId: string;
  /** Used only when the batch does not exist yet. */
  batch: Pick<BatchRow, "display_name" | "batch_type" | "content_type" | "origin">;
  parts: ImportedPart[];
  files: ImportedFile[];
}

export function importBatch(emu: Core, spec: BatchImport, now: number): void {
  const { ws, batchId } = spec;
  const stored = spec.files.map((f) => ({ f, blob: emu.blobs.write(`${ws}/${batchId}`, f.bytes) }));
  const replaced: string[] = [];
  const commit = emu.db.transaction(() => {
    const existing = getBatch(emu.db, ws, batchId);
    // An expired batch under this id is retired: the import starts a new batch.
    if (existing && existing.expires_at <= now) retireExpired(emu.db, existing);
    if (!existing || existing.expires_at <= now) insertBatch(emu.db, { workspace_id: ws, batch_id: batchId, ...spec.batch, created_at: now });
    const existingParts = listParts(emu.db, ws, batchId).length;
    spec.parts.forEach((p, i) => {
      upsertPart(emu.db, {
        workspace_id: ws,
        batch_id: batchId,
        part_name: p.name,
        part_type: p.type,
        content_type: p.contentType,
        description: p.description,
        nested_content_type: p.nestedContentType,
        seq: existingParts + i,
      });
    });
    for (const { f, blob } of stored) {
      const r = upsertFile(emu.db, {
        workspace_id: ws,
        batch_id: batchId,
        part_name: f.partName,
        file_name: f.name,
        content_type: f.contentType,
        nested_content_type: null,
        shard_id: f.shardId,
        blob: blob.blob,
        size: blob.size,
        sha256: blob.sha256,
        media_type: f.mediaType,
        created_at: now,
      });
      if (r.replacedBlob) replaced.push(r.replacedBlob);
    }
  });
  try {
    commit();
  } catch (err) {
    // No row names these blobs: remove them so a failed import leaves nothing behind.
    for (const { blob } of stored) emu.blobs.remove(blob.blob);
    throw err;
  }
  for (const rel of replaced) emu.blobs.remove(rel);
}
