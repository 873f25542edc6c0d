// multipart/form-data with exactly one file part, streamed with busboy into a temp file. busboy
// silently truncates a file at `limits.fileSize`, so the `truncated` flag is checked explicitly.
import { isStorageFull } from "../state/storage-full.js";
import { Busboy, type BusboyFileStream } from "@fastify/busboy";
import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { ApiError, badRequest, tooLarge } from "../errors.js";
import type { BlobStore, TempFile } from "../state/blobs.js";
import { formatBytes } from "./body.js";

export interface ReceivedFile {
  tmp: string;
  size: number;
  sha256: string;
  fieldName: string;
  /** The part's filename parameter (busboy keeps only its last path component). */
  partFileName?: string;
  partContentType: string;
}

const CURL_HINT = 'Send one file part, e.g. curl -F "image.jpg=@/path/to/image.jpg" (the field name can be anything).';

export function isMultipart(contentType: string | undefined): boolean {
  return !!contentType && /^multipart\/form-data\b/i.test(contentType.trim());
}

/**
 * Reads a multipart body holding exactly one file part. Resolves once the part is fully on disk
 * (temp file); rejects with a 4xx ApiError, leaving nothing behind, on any other shape.
 */
export function receiveSingleFile(source: Readable, headers: IncomingHttpHeaders, blobs: BlobStore, maxFileSize: number): Promise<ReceivedFile> {
  const contentType = headers["content-type"];
  if (!isMultipart(contentType)) {
    return Promise.reject(
      new ApiError(
        415,
        "unsupported-media-type",
        `Expected a multipart/form-data body with one file part, ${contentType ? `got Content-Type "${contentType}"` : "but the request had no Content-Type"}`,
        undefined,
        CURL_HINT,
      ),
    );
  }
  let bb: ReturnType<typeof Busboy>;
  try {
    bb = Busboy({
      headers: headers as IncomingHttpHeaders & { "content-type": string },
      // Parts without a filename but with a binary content type are files too (some clients omit filename).
      isPartAFile: (_field, ct, fileName) => fileName !== undefined || (ct !== undefined && ct !== "text/plain"),
      limits: { fileSize: maxFileSize, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 40, headerPairs: 50 },
    });
  } catch (err) {
    return Promise.reject(badRequest(`Malformed multipart/form-data request: ${(err as Error).message}`, undefined, CURL_HINT));
  }

  return new Promise<ReceivedFile>((resolve, reject) => {
    let file: { stream: BusboyFileStream; fieldName: string; fileName?: string; contentType: string } | null = null;
    let written: Promise<TempFile> | null = null;
    let extraFiles = false;
    const fieldNames: string[] = [];
    let settled = false;

    const fail = async (err: Error) => {
      if (settled) return;
      settled = true;
      source.unpipe(bb);
      // Keep reading (and discarding) so the client gets the answer instead of a reset.
      source.resume();
      // A part cut off mid-way never ends by itself: end its temp-file pipeline so the file is removed.
      if (file && !file.stream.readableEnded) file.stream.destroy(new Error("upload abandoned"));
      const done = await written?.catch(() => null);
      if (done) blobs.discard(done.tmp);
      reject(err);
    };

    bb.on("file", (fieldName, stream, fileName, _enc, mimeType) => {
      file = { stream, fieldName, fileName, contentType: mimeType };
      // Busboy may still emit "Part terminated early" on the part after its reader finished; the
      // request's answer already says so (busboy's own 'error' below), so it must not go uncaught.
      stream.on("error", () => {});
      const receiving = blobs.receive(stream, Number.POSITIVE_INFINITY);
      // A broken part is reported by busboy's own 'error'; this only avoids an unhandled rejection.
      receiving.catch(() => {});
      written = receiving;
    });
    bb.on("field", (name) => fieldNames.push(name));
    bb.on("filesLimit", () => {
      extraFiles = true;
    });
    bb.on(
      "error",
      (err) => void fail(badRequest(`Malformed multipart/form-data body: ${(err as Error)?.message ?? String(err)}; nothing was stored`, undefined, CURL_HINT)),
    );
    bb.on(
      "finish",
      () =>
        void (async () => {
          if (settled) return;
          if (!file || !written) {
            const fields = fieldNames.length
              ? ` (got only text fields: ${fieldNames
                  .slice(0, 5)
                  .map((f) => JSON.stringify(f))
                  .join(", ")}; a part needs a filename to be a file)`
              : "";
            return void fail(badRequest(`The multipart body has no file part${fields}`, undefined, CURL_HINT));
          }
          if (extraFiles) return void fail(badRequest("The multipart body has more than one file part; upload one image per request", undefined, CURL_HINT));
          let done: TempFile;
          try {
            done = await written;
          } catch (err) {
            // A full disk is the server's problem (507), not a malformed request.
            if (isStorageFull(err)) return void fail(err as Error);
            return void fail(badRequest(`The file part could not be read: ${(err as Error)?.message ?? String(err)}`));
          }
          if (file.stream.truncated) {
            blobs.discard(done.tmp);
            return void fail(
              tooLarge(
                `The image is larger than the limit of ${formatBytes(maxFileSize)}; nothing was stored`,
                "Resize or recompress the image; the staging service refuses single images over 20 MiB.",
              ),
            );
          }
          settled = true;
          resolve({ ...done, fieldName: file.fieldName, partFileName: file.fileName, partContentType: file.contentType });
        })(),
    );
    source.on("error", (err) => void fail(new ApiError(400, "upload-interrupted", `The upload was interrupted: ${err.message}; nothing was stored`)));
    source.on(
      "aborted",
      () => void fail(new ApiError(400, "upload-interrupted", "The client closed the connection before the body was complete; nothing was stored")),
    );
    source.pipe(bb);
  });
}
