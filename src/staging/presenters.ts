// Store rows → the JSON the real service sends. Pure functions, shared by every staging service.
import { iso } from "../clock.js";
import type { BatchJson, FileMetadataJson, PartJson, ShardJson } from "../contract/staging.js";
import type { BatchRow, FileRow, PartRow } from "../state/batches.js";
import type { ShardRow } from "../state/shards.js";
import { downloadUrl, type SigningContext } from "./signed-urls.js";

export function presentBatch(b: BatchRow): BatchJson {
  return {
    displayName: b.display_name,
    batchId: b.batch_id,
    batchType: b.batch_type,
    batchContentType: b.content_type,
    createdDate: iso(b.created_at),
    expiryDate: iso(b.expires_at),
  };
}

export function presentFile(f: FileRow, ctx: SigningContext): FileMetadataJson {
  return {
    downloadURL: downloadUrl(f, ctx),
    fileName: f.file_name,
    partName: f.part_name === "" ? null : f.part_name,
    shardId: f.shard_id,
    contentType: f.content_type,
    nestedContentType: f.nested_content_type,
  };
}

export function presentPart(p: PartRow): PartJson {
  return {
    partName: p.part_name,
    partType: p.part_type,
    contentType: p.content_type,
    partDescription: p.description,
    nestedContentType: p.nested_content_type,
  };
}

export function presentShard(s: ShardRow): ShardJson {
  return {
    shardId: s.shard_id,
    statusName: s.status_name,
    statusType: s.status_type,
    eventTimestamp: iso(s.event_at),
    shardObjectsCount: s.objects_count,
    statusMetadata: s.status_metadata ? (JSON.parse(s.status_metadata) as Record<string, unknown>) : null,
  };
}
