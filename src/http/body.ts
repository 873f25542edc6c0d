// Raw request bodies as streams. Uploads can be gigabytes: they are read from the socket chunk by
// chunk and written to a temp file with a byte counter, never buffered (Hono's bodyLimit and
// parseBody both buffer, so neither is used for uploads).
import { isStorageFull } from "../state/storage-full.js";
import type { Context } from "hono";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { ApiError, badRequest, tooLarge } from "../errors.js";
import { BlobTooLargeError, type BlobStore, type TempFile } from "../state/blobs.js";

/** The request body as a Node stream: the socket itself under @hono/node-server, else the Web body. */
export function requestBodyStream(c: Context): Readable | null {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && typeof incoming.pipe === "function" && !incoming.readableDidRead) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>) : null;
}

/** Declared Content-Length, or null when the body is chunked or the header is unusable. */
export function declaredLength(c: Context): number | null {
  const raw = c.req.header("content-length");
  if (raw === undefined || !/^\d{1,16}$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${n} bytes (${(n / 1024 ** 3).toFixed(2)} GiB)`;
  if (n >= 1024 ** 2) return `${n} bytes (${(n / 1024 ** 2).toFixed(2)} MiB)`;
  return `${n} bytes`;
}

/** A request body as the services see it: opened lazily, so a request refused before its body is read leaves it alone. */
export interface IncomingBody {
  contentType: string | undefined;
  /** Declared Content-Length, or null when the body is chunked or the header is unusable. */
  declaredLength: number | null;
  open(): Readable | null;
}

export function incomingBody(c: Context): IncomingBody {
  return { contentType: c.req.header("content-type"), declaredLength: declaredLength(c), open: () => requestBodyStream(c) };
}

/**
 * Streams the whole request body into a temp file, refusing it (413) past `limit` bytes: early
 * when Content-Length already says so, otherwise as soon as the counter passes the limit.
 */
export async function receiveBodyToTemp(body: IncomingBody, blobs: BlobStore, limit: number, what: string): Promise<TempFile> {
  const declared = body.declaredLength;
  if (declared !== null && declared > limit) {
    throw tooLarge(`${what} is ${formatBytes(declared)}; the limit is ${formatBytes(limit)}`, "Split the data or request a new upload URL for a smaller file.");
  }
  const source = body.open();
  if (!source) throw badRequest(`The request has no body: send the ${what} bytes as the PUT body`);
  try {
    return await blobs.receive(source, limit);
  } catch (err) {
    if (err instanceof BlobTooLargeError) {
      throw tooLarge(
        `${what} exceeds the limit of ${formatBytes(limit)}; nothing was stored`,
        "Split the data or request a new upload URL for a smaller file.",
      );
    }
    if (err instanceof ApiError || isStorageFull(err)) throw err;
    // The client went away or the stream broke: nothing is kept; the answer will likely never be read.
    throw new ApiError(
      400,
      "upload-interrupted",
      `The upload was interrupted before the body was complete (${(err as Error)?.message ?? String(err)}); nothing was stored`,
    );
  }
}
