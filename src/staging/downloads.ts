// Serving a signed download URL: signature and expiry checked, the store generation checked (a URL
// from before a full reset or an import answers 404), the file looked up by the seq in the path and
// its workspace, batch and name compared with the path, its batch's expiry checked, Range requests
// answered, bytes streamed.
import { Readable } from "node:stream";
import type { Core } from "../context.js";
import { ApiError, notFound } from "../errors.js";
import { getFileBySeq } from "../state/batches.js";
import { batchExpired, expiredBatch } from "./expiry.js";
import { checkGeneration, checkSignature, downloadPath, DOWNLOAD_PATH_PREFIX } from "./signed-urls.js";

export interface DownloadRequest {
  /** The full request URL (path and signature). */
  url: URL;
  method: string;
  /** The store generation and the file's seq as they appear in the path. */
  generation: string;
  seq: string;
  range: string | undefined;
}

export interface DownloadAnswer {
  status: 200 | 206;
  headers: Record<string, string>;
  body: ReadableStream | null;
}

export function parseRange(header: string | undefined, size: number): { start: number; end: number } | "invalid" | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return "invalid";
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "invalid";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return "invalid";
  return { start, end };
}

/** The workspace and batch a (signature-checked) download path names. */
function batchOfPath(pathname: string): { ws: string; batchId: string } | undefined {
  const [ws, batchId] = pathname.slice(DOWNLOAD_PATH_PREFIX.length).split("/").slice(1, 3);
  try {
    return ws && batchId ? { ws: decodeURIComponent(ws), batchId: decodeURIComponent(batchId) } : undefined;
  } catch {
    return undefined;
  }
}

/** 404 saying when, when the URL's batch expired (whether or not the sweep has removed the file yet). */
function throwIfExpired(emu: Core, pathname: string): void {
  const at = batchOfPath(pathname);
  const b = at && expiredBatch(emu.db, at.ws, at.batchId, emu.clock.now());
  if (at && b) {
    throw batchExpired(
      `The file behind this URL belongs to batch "${at.batchId}" of workspace "${at.ws}", which`,
      b,
      "Expired batches cannot be downloaded; stage the data again and list the new batch for download URLs.",
    );
  }
}

export function serveDownload(emu: Core, req: DownloadRequest): DownloadAnswer {
  checkSignature(emu, "GET", req.url);
  checkGeneration(emu, req.generation, "download");
  const seq = Number(req.seq);
  const file = Number.isInteger(seq) ? getFileBySeq(emu.db, seq) : undefined;
  if (!file || downloadPath(file, req.generation) !== req.url.pathname) {
    throwIfExpired(emu, req.url.pathname);
    throw notFound(
      "The file behind this URL no longer exists (its batch or workspace was reset, or the batch expired)",
      "List the batch again for fresh download URLs.",
    );
  }
  throwIfExpired(emu, req.url.pathname);
  const size = emu.blobs.sizeOf(file.blob);
  if (size === null) throw notFound("The file behind this URL no longer exists");
  const headers: Record<string, string> = {
    "content-type": file.media_type,
    "accept-ranges": "bytes",
    etag: `"${file.sha256}"`,
    "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.file_name)}`,
  };
  const range = parseRange(req.range, size);
  if (range === "invalid") {
    throw new ApiError(416, "range-not-satisfiable", `Range "${req.range}" cannot be served for a ${size}-byte file`, undefined, undefined, {
      "content-range": `bytes */${size}`,
    });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  headers["content-length"] = String(size === 0 ? 0 : end - start + 1);
  if (range) headers["content-range"] = `bytes ${start}-${end}/${size}`;
  const status = range ? 206 : 200;
  if (req.method === "HEAD" || size === 0) return { status, headers, body: null };
  return { status, headers, body: Readable.toWeb(emu.blobs.openRead(file.blob, { start, end })) as ReadableStream };
}
