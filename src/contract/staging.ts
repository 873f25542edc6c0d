// Data Staging request and response schemas (field names as the real service sends them; see
// ../shared/contract/real-client.md).
import { z } from "@hono/zod-openapi";
import { ApiKeyQuery, BatchIdParam, NextPageToken, PageSizeQuery, PageTokenQuery, Timestamp, WorkspaceParam } from "./common.js";

export const BatchPathParams = z.object({ workspace: WorkspaceParam, batchId: BatchIdParam });

export const Batch = z
  .object({
    displayName: z.string(),
    batchId: z.string(),
    batchType: z.enum(["simple-batch", "sharded-batch", "multipart-batch"]),
    batchContentType: z.enum(["images", "videos", "metadata", "archives", "mixed"]),
    createdDate: Timestamp,
    expiryDate: Timestamp,
  })
  .openapi("Batch");

export const ListBatchesQuery = z.object({ api_key: ApiKeyQuery, pageSize: PageSizeQuery, nextPageToken: PageTokenQuery });
export const ListBatchesResponse = z.object({ status: z.string(), batches: z.array(Batch), nextPageToken: NextPageToken }).openapi("ListBatchesResponse");
export const GetBatchResponse = z.object({ status: z.string(), batch: Batch }).openapi("GetBatchResponse");

export const CountQuery = z.object({
  api_key: ApiKeyQuery,
  partName: z.string().optional().openapi({ description: "Count only this part of a multipart batch." }),
});
export const CountResponse = z.object({ status: z.string(), count: z.number().int() }).openapi("CountResponse");

export const Part = z
  .object({
    partName: z.string(),
    partType: z.string(),
    contentType: z.string(),
    partDescription: z.string().nullable().optional(),
    nestedContentType: z.string().nullable().optional(),
  })
  .openapi("BatchPart");
export const PartsResponse = z.object({ status: z.string(), batchParts: z.array(Part) }).openapi("ListPartsResponse");

export const FileMetadata = z
  .object({
    downloadURL: z.string(),
    fileName: z.string(),
    partName: z.string().nullable().optional(),
    shardId: z.string().nullable().optional(),
    contentType: z.string(),
    nestedContentType: z.string().nullable().optional(),
  })
  .openapi("FileMetadata");
export const ListFilesQuery = z.object({ api_key: ApiKeyQuery, pageSize: PageSizeQuery, nextPageToken: PageTokenQuery, partName: z.string().optional() });
export const ListFilesResponse = z
  .object({ status: z.string(), filesMetadata: z.array(FileMetadata), nextPageToken: NextPageToken })
  .openapi("ListFilesResponse");

export const Shard = z
  .object({
    shardId: z.string(),
    statusName: z.string(),
    statusType: z.string(),
    eventTimestamp: Timestamp,
    shardObjectsCount: z.number().int(),
    statusMetadata: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .openapi("Shard");
export const ListShardsQuery = z.object({ api_key: ApiKeyQuery, pageSize: PageSizeQuery, nextPageToken: PageTokenQuery });
export const ListShardsResponse = z.object({ status: z.string(), shards: z.array(Shard), nextPageToken: NextPageToken }).openapi("ListShardsResponse");

export type BatchJson = z.infer<typeof Batch>;
export type FileMetadataJson = z.infer<typeof FileMetadata>;
export type ShardJson = z.infer<typeof Shard>;
export type PartJson = z.infer<typeof Part>;
