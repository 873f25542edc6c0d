// Video and tar-shard uploads go through signed URLs: a request creates an upload slot (a single-use
// token with a size limit, valid for a day) and answers its URL; the PUT to that URL is checked
// against the slot and committed: a video becomes a batch file, a tar shard is queued for indexing.
import crypto from "node:crypto";
import type { Emulator } from "../context.js";
import { MAX_IMAGES_PER_SHARD, MAX_SHARD_BYTES, MAX_VIDEO_BYTES } from "../contract/staging-uploads.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { receiveBodyToTemp, type IncomingBody } from "../http/body.js";
import { assertFileName } from "../http/file-names.js";
import { videoMediaType } from "../http/sniff.js";
import { consumeUploadSlot, getUploadSlot, insertUploadSlot, type UploadSlotRow } from "../state/ingests.js";
import { storeGeneration } from "../state/generation.js";
import { insertShard } from "../state/shards.js";
import { scheduleShard, type TarShardPayload } from "./ingest/worker.js";
import { beforeReset, checkGeneration, checkSignature, extensionHeadersFor, signingContext, UPLOAD_URL_TTL_MS, uploadUrl } from "./signed-urls.js";
import { BULK_IMAGES, ensureBatch, VIDEOS, type BatchTarget } from "./targets.js";
import { commitUploadedFile, commitWith, type UploadedFile } from "./uploads.js";

interface SlotRequest {
  kind: UploadSlotRow["kind"];
  target: BatchTarget;
  maxSize: number;
  fileName: string | null;
}

/** A PUT to a signed upload URL, as the route hands it over (the parts of its path, then the rest). */
export interface SignedPut {
  generation: string;
  workspace: string;
  batchId: string;
  token: string;
  /** The full request URL (path and signature). */
  url: URL;
  header(name: string): string | undefined;
  body: IncomingBody;
}

/** Upload slots with a PUT in progress; one set per emulator instance (a second PUT on the same slot is refused meanwhile). */
export class UploadsInFlight {
  private readonly tokens = new Set<string>();

  /** Marks the slot busy; 409 when another PUT already holds it. */
  hold(token: string): void {
    if (this.tokens.has(token)) throw new ApiError(409, "upload-in-progress", "Another upload through this URL is in progress", undefined, "Wait for it to finish; if it fails, this URL can be used again.");
    this.tokens.add(token);
  }

  release(token: string): void {
    this.tokens.delete(token);
  }
}

function createSlot(emu: Emulator, ws: string, batchId: string, displayName: string | undefined, req: SlotRequest) {
  const now = emu.clock.now();
  const token = crypto.randomBytes(24).toString("hex");
  const shardId = req.kind === "shard" ? emu.ids.uuid() : null;
  const slot: UploadSlotRow = { token, workspace_id: ws, batch_id: batchId, kind: req.kind, file_name: req.fileName, shard_id: shardId, max_size: req.maxSize, expires_at: now + UPLOAD_URL_TTL_MS, used_at: null };
  emu.db.transaction(() => {
    ensureBatch(emu.db, ws, batchId, req.target, displayName, now);
    insertUploadSlot(emu.db, slot);
  })();
  return { shardId, uploadURL: uploadUrl(slot, signingContext(emu)), extensionHeaders: extensionHeadersFor(req.maxSize) };
}

/** upload/video: a slot for one video named `fileName`; answers signedURLDetails. */
export function createVideoSlot(emu: Emulator, ws: string, batchId: string, q: { fileName: string; displayName?: string }) {
  assertFileName(q.fileName, "fileName");
  const slot = createSlot(emu, ws, batchId, q.displayName, { kind: "video", target: VIDEOS, maxSize: MAX_VIDEO_BYTES, fileName: q.fileName });
  return { uploadURL: slot.uploadURL, method: "PUT" as const, extensionHeaders: slot.extensionHeaders, maxFileSize: MAX_VIDEO_BYTES };
}

/** bulk-upload/image-files: a slot for one tar shard; answers signedURLDetails. */
export function createShardSlot(emu: Emulator, ws: string, batchId: string, displayName: string | undefined) {
  const slot = createSlot(emu, ws, batchId, displayName, { kind: "shard", target: BULK_IMAGES, maxSize: MAX_SHARD_BYTES, fileName: null });
  return {
    shardId: slot.shardId!, uploadURL: slot.uploadURL, method: "PUT" as const, extensionHeaders: slot.extensionHeaders,
    maxNumberOfImages: MAX_IMAGES_PER_SHARD, maxShardSize: MAX_SHARD_BYTES,
  };
}

function checkExtensionHeaders(put: SignedPut, slot: UploadSlotRow): void {
  const expected = extensionHeadersFor(slot.max_size);
  const issues = Object.entries(expected)
    .filter(([k, v]) => put.header(k)?.trim() !== v)
    .map(([k, v]) => ({ field: k, problem: `header must be exactly "${v}"`, received: put.header(k) ?? "(missing)" }));
  if (issues.length) {
    throw badRequest(
      `The upload must carry the extensionHeaders it was given: ${issues.map((i) => `${i.field}: ${JSON.stringify(expected[i.field])} (got ${JSON.stringify(i.received)})`).join("; ")}`,
      issues,
      "Send every header of signedURLDetails.extensionHeaders with the PUT, unchanged.",
    );
  }
}

/** The slot behind a PUT, when the URL may still be used (404 after a reset, 409 once used). */
function usableSlot(emu: Emulator, put: SignedPut): UploadSlotRow {
  checkGeneration(emu, put.generation, "upload");
  const slot = getUploadSlot(emu.db, put.token);
  if (!slot || slot.workspace_id !== put.workspace || slot.batch_id !== put.batchId) {
    throw notFound("This upload URL no longer exists (its workspace was reset or the batch expired)", "Request a new upload URL.");
  }
  if (slot.used_at !== null) {
    throw new ApiError(409, "upload-url-used", `This upload URL was already used (at ${new Date(slot.used_at).toISOString()}); upload URLs are single-use`, undefined, "Request a new upload URL for another upload.");
  }
  return slot;
}

/**
 * Consumes the slot inside the commit's transaction. A reset may have come while the body streamed:
 * then the slot is gone and the answer says so (404), never "already used" (409).
 */
function claimSlot(emu: Emulator, put: SignedPut, now: number): void {
  if (storeGeneration(emu.db) !== put.generation) throw beforeReset("upload");
  const slot = getUploadSlot(emu.db, put.token);
  if (!slot) throw notFound("This upload URL no longer exists: its workspace was reset (or the batch expired) while the body was being sent; nothing was stored", "Request a new upload URL.");
  if (!consumeUploadSlot(emu.db, put.token, now)) throw new ApiError(409, "upload-url-used", "This upload URL was already used; upload URLs are single-use");
}

/** Receives the body of a signed PUT and commits it; resolves once the video is durable or the shard is durable and queued. */
export async function receiveSignedPut(emu: Emulator, inFlight: UploadsInFlight, put: SignedPut): Promise<void> {
  checkSignature(emu, "PUT", put.url);
  const slot = usableSlot(emu, put);
  inFlight.hold(put.token);
  try {
    checkExtensionHeaders(put, slot);
    const got = await receiveBodyToTemp(put.body, emu.blobs, slot.max_size, slot.kind === "video" ? "The video" : "The shard archive");
    try {
      if (got.size === 0) throw badRequest(`The upload body is empty: PUT the ${slot.kind === "video" ? "video" : ".tar archive"} bytes (e.g. curl --upload-file <path>)`);
      const now = emu.clock.now();
      const claim = () => claimSlot(emu, put, now);
      if (slot.kind === "video") {
        const mediaType = videoMediaType(emu.blobs.tempHead(got.tmp), slot.file_name ?? "");
        const f: UploadedFile = { ws: slot.workspace_id, batchId: slot.batch_id, target: VIDEOS, fileName: slot.file_name ?? slot.token, contentType: "video", mediaType };
        commitUploadedFile(emu, got, f, now, claim);
      } else {
        const shardId = slot.shard_id!;
        commitWith(emu, got.tmp, "uploads", (blob) => {
          claim();
          ensureBatch(emu.db, slot.workspace_id, slot.batch_id, BULK_IMAGES, undefined, now);
          insertShard(emu.db, {
            shard_id: shardId, workspace_id: slot.workspace_id, batch_id: slot.batch_id, ingest_id: null, kind: "tar-upload",
            status_name: "uploaded", status_type: "info", objects_count: 0, status_metadata: null, notifications_url: null, notification_categories: null,
            payload: JSON.stringify({ tarBlob: blob, size: got.size, sha256: got.sha256 } satisfies TarShardPayload), created_at: now, event_at: now,
          });
        });
        scheduleShard(emu, { shard_id: shardId, kind: "tar-upload" });
      }
    } finally {
      emu.blobs.discard(got.tmp);
    }
  } finally {
    inFlight.release(put.token);
  }
}
