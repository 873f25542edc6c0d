// Video and tar-shard uploads go through signed URLs: a request creates an upload slot (a token with
// a size limit, valid for a day) and answers its URL; a PUT to that URL is checked against the slot
// and committed: a video becomes a batch file, a tar shard is queued for indexing. Like the
// cloud-storage URLs of the real service, a URL takes any number of PUTs until it expires: each body
// lands in its own temp file and is committed whole, so the last complete body wins atomically.
import crypto from "node:crypto";
import type { Emulator } from "../context.js";
import { MAX_IMAGES_PER_SHARD, MAX_SHARD_BYTES, MAX_VIDEO_BYTES } from "../contract/staging-uploads.js";
import { badRequest, notFound } from "../errors.js";
import { receiveBodyToTemp, type IncomingBody } from "../http/body.js";
import { assertFileName, assertVideoFileName } from "../http/file-names.js";
import { videoMediaType } from "../http/sniff.js";
import { getUploadSlot, insertUploadSlot, markUploadSlotUsed, reopenShardUpload, type UploadSlotRow } from "../state/ingests.js";
import type { TempFile } from "../state/blobs.js";
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

function createSlot(emu: Emulator, ws: string, batchId: string, displayName: string | undefined, req: SlotRequest) {
  const now = emu.clock.now();
  const token = crypto.randomBytes(24).toString("hex");
  const shardId = req.kind === "shard" ? emu.ids.uuid() : null;
  const slot: UploadSlotRow = {
    token,
    workspace_id: ws,
    batch_id: batchId,
    kind: req.kind,
    file_name: req.fileName,
    shard_id: shardId,
    max_size: req.maxSize,
    expires_at: now + UPLOAD_URL_TTL_MS,
    used_at: null,
  };
  emu.db.transaction(() => {
    ensureBatch(emu.db, ws, batchId, req.target, displayName, now);
    insertUploadSlot(emu.db, slot);
  })();
  return { shardId, uploadURL: uploadUrl(slot, signingContext(emu)), extensionHeaders: extensionHeadersFor(req.maxSize) };
}

/** upload/video: a slot for one video named `fileName`; answers signedURLDetails. */
export function createVideoSlot(emu: Emulator, ws: string, batchId: string, q: { fileName: string; displayName?: string }) {
  assertFileName(q.fileName, "fileName");
  assertVideoFileName(q.fileName);
  const slot = createSlot(emu, ws, batchId, q.displayName, { kind: "video", target: VIDEOS, maxSize: MAX_VIDEO_BYTES, fileName: q.fileName });
  return { uploadURL: slot.uploadURL, method: "PUT" as const, extensionHeaders: slot.extensionHeaders, maxFileSize: MAX_VIDEO_BYTES };
}

/** bulk-upload/image-files: a slot for one tar shard; answers signedURLDetails. */
export function createShardSlot(emu: Emulator, ws: string, batchId: string, displayName: string | undefined) {
  const slot = createSlot(emu, ws, batchId, displayName, { kind: "shard", target: BULK_IMAGES, maxSize: MAX_SHARD_BYTES, fileName: null });
  return {
    shardId: slot.shardId!,
    uploadURL: slot.uploadURL,
    method: "PUT" as const,
    extensionHeaders: slot.extensionHeaders,
    maxNumberOfImages: MAX_IMAGES_PER_SHARD,
    maxShardSize: MAX_SHARD_BYTES,
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

/** The slot behind a PUT (404 after a reset or once the batch is gone). Used slots stay usable, as cloud-storage URLs do. */
function usableSlot(emu: Emulator, put: SignedPut): UploadSlotRow {
  checkGeneration(emu, put.generation, "upload");
  const slot = getUploadSlot(emu.db, put.token);
  if (!slot || slot.workspace_id !== put.workspace || slot.batch_id !== put.batchId) {
    throw notFound("This upload URL no longer exists (its workspace was reset or the batch expired)", "Request a new upload URL.");
  }
  return slot;
}

/**
 * Re-checks the slot inside the commit's transaction and records the PUT. A reset may have come
 * while the body streamed: then the slot is gone and the answer says so (404); nothing is stored.
 */
function claimSlot(emu: Emulator, put: SignedPut, now: number): void {
  if (storeGeneration(emu.db) !== put.generation) throw beforeReset("upload");
  if (!markUploadSlotUsed(emu.db, put.token, now)) {
    throw notFound(
      "This upload URL no longer exists: its workspace was reset (or the batch expired) while the body was being sent; nothing was stored",
      "Request a new upload URL.",
    );
  }
}

/**
 * Receives the body of a signed PUT and commits it; resolves once the video is durable or the shard
 * is durable and queued. PUTs through one URL may overlap: each streams into its own temp file and
 * the commits (grouped with other uploads, each in its own savepoint) happen in the order the bodies
 * complete, so the last one wins.
 */
export async function receiveSignedPut(emu: Emulator, put: SignedPut): Promise<void> {
  checkSignature(emu, "PUT", put.url);
  const slot = usableSlot(emu, put);
  checkExtensionHeaders(put, slot);
  const got = await receiveBodyToTemp(put.body, emu.blobs, slot.max_size, slot.kind === "video" ? "The video" : "The shard archive");
  try {
    if (got.size === 0)
      throw badRequest(`The upload body is empty: PUT the ${slot.kind === "video" ? "video" : ".tar archive"} bytes (e.g. curl --upload-file <path>)`);
    const now = emu.clock.now();
    const claim = () => claimSlot(emu, put, now);
    if (slot.kind === "video") {
      const mediaType = videoMediaType(emu.blobs.tempHead(got.tmp), slot.file_name ?? "");
      const f: UploadedFile = {
        ws: slot.workspace_id,
        batchId: slot.batch_id,
        target: VIDEOS,
        fileName: slot.file_name ?? slot.token,
        contentType: "video",
        mediaType,
      };
      // A video of the same name (the earlier body) is replaced in the same transaction.
      await commitUploadedFile(emu, got, f, now, claim);
    } else {
      await commitShardBody(emu, slot, got, now, claim);
    }
  } finally {
    emu.blobs.discard(got.tmp);
  }
}

/**
 * Commits a shard's archive. The first body creates the shard row; a later one replaces its archive
 * and sends the shard back to "uploaded", so it is indexed (again) from the last body only: the
 * worker does not apply a result read from an older body, and re-indexing replaces the shard's files.
 */
async function commitShardBody(emu: Emulator, slot: UploadSlotRow, got: TempFile, now: number, claim: () => void): Promise<void> {
  const shardId = slot.shard_id!;
  const previous = await commitWith(emu, got, "uploads", (blob) => {
    claim();
    ensureBatch(emu.db, slot.workspace_id, slot.batch_id, BULK_IMAGES, undefined, now);
    const payload = JSON.stringify({ tarBlob: blob, size: got.size, sha256: got.sha256 } satisfies TarShardPayload);
    const reopened = reopenShardUpload(emu.db, shardId, payload, now);
    if (reopened) return reopened.previousTarBlob;
    insertShard(emu.db, {
      shard_id: shardId,
      workspace_id: slot.workspace_id,
      batch_id: slot.batch_id,
      ingest_id: null,
      kind: "tar-upload",
      status_name: "uploaded",
      status_type: "info",
      objects_count: 0,
      status_metadata: null,
      notifications_url: null,
      notification_categories: null,
      payload,
      created_at: now,
      event_at: now,
    });
    return null;
  });
  // The earlier archive is no longer named by any row (already gone when it was indexed).
  if (previous) emu.blobs.remove(previous);
  scheduleShard(emu, { shard_id: shardId, kind: "tar-upload" });
}
