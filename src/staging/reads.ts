// The read side of Data Staging: batches, their metadata, counts, parts, files (with signed download
// URLs) and shards. Each answer is the JSON body minus its "status". An expired batch is neither
// listed nor read (src/staging/expiry.ts).
import type { Core } from "../context.js";
import type { BatchJson, FileMetadataJson, PartJson, ShardJson } from "../contract/staging.js";
import { notFound } from "../errors.js";
import { countFiles, getBatch, listBatches, listFiles, listParts, type BatchRow } from "../state/batches.js";
import { decodeToken } from "../state/pagination.js";
import { listShards } from "../state/shards.js";
import { presentBatch, presentFile, presentPart, presentShard } from "./presenters.js";
import { signingContext } from "./signed-urls.js";
import { batchExpired, expiredBatch } from "./expiry.js";

export interface PageQuery {
  pageSize: number;
  nextPageToken?: string;
}

type Page<K extends string, T> = { [P in K]: T[] } & { nextPageToken: string | null };

/** The batch while it has not expired; 404 saying when it expired, or naming where batches come from. */
export function requireBatch(emu: Core, ws: string, batchId: string): BatchRow {
  const now = emu.clock.now();
  const b = getBatch(emu.db, ws, batchId);
  if (b && b.expires_at > now) return b;
  const expired = expiredBatch(emu.db, ws, batchId, now);
  if (expired) throw batchExpired(`Batch "${batchId}" in workspace "${ws}"`, expired);
  throw notFound(
    `Batch "${batchId}" not found in workspace "${ws}"`,
    "Batches are created by their first upload; list them with GET /data-staging/v1/external/{workspace}/batches.",
  );
}

export function batchesPage(emu: Core, ws: string, q: PageQuery): Page<"batches", BatchJson> {
  const page = listBatches(emu.db, ws, decodeToken(q.nextPageToken), q.pageSize, emu.clock.now());
  return { batches: page.items.map(presentBatch), nextPageToken: page.nextPageToken };
}

export function batchDetails(emu: Core, ws: string, batchId: string): { batch: BatchJson } {
  return { batch: presentBatch(requireBatch(emu, ws, batchId)) };
}

export function fileCount(emu: Core, ws: string, batchId: string, partName: string | undefined): { count: number } {
  requireBatch(emu, ws, batchId);
  return { count: countFiles(emu.db, ws, batchId, partName) };
}

export function batchParts(emu: Core, ws: string, batchId: string): { batchParts: PartJson[] } {
  requireBatch(emu, ws, batchId);
  return { batchParts: listParts(emu.db, ws, batchId).map(presentPart) };
}

export function filesPage(emu: Core, ws: string, batchId: string, q: PageQuery & { partName?: string }): Page<"filesMetadata", FileMetadataJson> {
  requireBatch(emu, ws, batchId);
  const page = listFiles(emu.db, ws, batchId, q.partName, decodeToken(q.nextPageToken), q.pageSize);
  const ctx = signingContext(emu);
  return { filesMetadata: page.items.map((f) => presentFile(f, ctx)), nextPageToken: page.nextPageToken };
}

export function shardsPage(emu: Core, ws: string, batchId: string, q: PageQuery): Page<"shards", ShardJson> {
  requireBatch(emu, ws, batchId);
  const page = listShards(emu.db, ws, batchId, decodeToken(q.nextPageToken), q.pageSize);
  return { shards: page.items.map(presentShard), nextPageToken: page.nextPageToken };
}
