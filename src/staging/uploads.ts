// Single-image upload (upload/image) and the one commit every uploaded file goes through: the bytes
// are fsynced and renamed into the blob tree and the file row is committed before the answer, so an
// acknowledged upload is durable.
import type { Core } from "../context.js";
import { MAX_IMAGE_BYTES } from "../contract/staging-uploads.js";
import { ApiError, badRequest, tooLarge } from "../errors.js";
import { formatBytes, type IncomingBody } from "../http/body.js";
import { assertFileName } from "../http/file-names.js";
import { receiveSingleFile } from "../http/multipart.js";
import { ACCEPTED_IMAGE_FORMATS, sniff } from "../http/sniff.js";
import { upsertFile } from "../state/batches.js";
import type { TempFile } from "../state/blobs.js";
import { checkBatchTarget, ensureBatch, SINGLE_IMAGES, type BatchTarget } from "./targets.js";

/** Room for multipart boundaries, part headers and small text fields around one image. */
const MULTIPART_OVERHEAD_BYTES = 2 * 1024 * 1024;

export interface ImageUpload {
  ws: string;
  batchId: string;
  /** ?fileName= (required, as in the reference; the part's own filename is not used). */
  fileName: string;
  displayName?: string;
  body: IncomingBody;
}

/** Where an uploaded file goes and what it is. */
export interface UploadedFile {
  ws: string;
  batchId: string;
  target: BatchTarget;
  /** Used only when this upload creates the batch. */
  displayName?: string;
  fileName: string;
  contentType: "image" | "video";
  mediaType: string;
}

/**
 * Moves a finished temp file into the blob tree and runs `write` (which inserts rows) in one
 * transaction, grouped with the other uploads committing at the same time (one fsync round and one
 * transaction per group, see src/state/group-commit.ts); resolves once durable, undoes the blob if `write` throws.
 */
export function commitWith<T>(emu: Core, tmp: TempFile, prefix: string, write: (blob: string) => T): Promise<T> {
  return emu.blobs.commitGrouped(emu.db, tmp, prefix, write);
}

/**
 * Commits an uploaded temp file as a batch file, creating the batch on first use; a file of the same
 * name is replaced and its old blob removed. `claim` runs first inside the transaction (a signed
 * slot is consumed there, so a lost race leaves nothing behind).
 */
export async function commitUploadedFile(emu: Core, got: TempFile, f: UploadedFile, now: number, claim?: () => void): Promise<void> {
  const replaced = await commitWith(emu, got, "files", (blob) => {
    claim?.();
    ensureBatch(emu.db, f.ws, f.batchId, f.target, f.displayName, now);
    return upsertFile(emu.db, {
      workspace_id: f.ws,
      batch_id: f.batchId,
      part_name: "",
      file_name: f.fileName,
      content_type: f.contentType,
      nested_content_type: null,
      shard_id: null,
      blob,
      size: got.size,
      sha256: got.sha256,
      media_type: f.mediaType,
      created_at: now,
    }).replacedBlob;
  });
  if (replaced) emu.blobs.remove(replaced);
}

/** Stores one multipart image; resolves once it is durable. */
export async function uploadImage(emu: Core, up: ImageUpload): Promise<void> {
  assertFileName(up.fileName, "fileName");
  // Fail fast, before reading the body, when the batch cannot take single images.
  checkBatchTarget(emu.db, up.ws, up.batchId, SINGLE_IMAGES);
  const declared = up.body.declaredLength;
  if (declared !== null && declared > MAX_IMAGE_BYTES + MULTIPART_OVERHEAD_BYTES) {
    throw tooLarge(
      `The request body is ${formatBytes(declared)}; a single image may be at most ${formatBytes(MAX_IMAGE_BYTES)}`,
      "Resize or recompress the image; the staging service refuses single images over 20 MiB.",
    );
  }
  const source = up.body.open();
  if (!source) throw badRequest("The request has no body: send the image as multipart/form-data", undefined, 'e.g. curl -F "image.jpg=@/path/to/image.jpg"');
  const got = await receiveSingleFile(source, { "content-type": up.body.contentType }, emu.blobs, MAX_IMAGE_BYTES);
  try {
    const fileName = up.fileName;
    // The first bytes were kept as the body streamed in (BlobStore.receive): no second read of the file.
    const received: TempFile = got;
    const detected = sniff(received.head ?? emu.blobs.tempHead(got.tmp));
    if (detected.kind !== "image") {
      throw new ApiError(
        400,
        "unsupported-file-type",
        `"${fileName}" is not an image: detected ${detected.label}; accepted formats are ${ACCEPTED_IMAGE_FORMATS}`,
        undefined,
        "Upload videos with upload/video; other files cannot be staged as images.",
      );
    }
    const f: UploadedFile = {
      ws: up.ws,
      batchId: up.batchId,
      target: SINGLE_IMAGES,
      displayName: up.displayName,
      fileName,
      contentType: "image",
      mediaType: detected.mediaType,
    };
    await commitUploadedFile(emu, got, f, emu.clock.now());
  } finally {
    emu.blobs.discard(got.tmp);
  }
}
