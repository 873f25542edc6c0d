// What the journal keeps of a body: bounded and never the raw bytes of a file. JSON and text bodies
// keep their first bytes (api keys masked); multipart bodies become part names, sizes and sha256;
// anything else (uploads, downloads, archives) becomes a size and a sha256 computed as it streams.
// A request body is observed as the HTTP parser hands it to the request stream, so the routes read
// it exactly as before (uploads stream from the socket); a response body is observed as node
// writes it (through a counting stream when there is no node response), so a download is never buffered.
import { Busboy, type BusboyFileStream } from "@fastify/busboy";
import crypto from "node:crypto";
import type { IncomingMessage } from "node:http";

/** Bytes always looked at (whatever the stored limit) so the contract report can read error answers and job definitions. */
export const CLASSIFY_BYTES = 64 * 1024;
/** Text kept of a non-file multipart field. */
const FIELD_BYTES = 1024;

export interface PartSummary {
  name: string;
  fileName: string | null;
  contentType: string | null;
  size: number;
  /** Files: hash of the part's bytes; fields: null (their value is kept instead). */
  sha256: string | null;
  value?: string;
}

export type BodySummary =
  | { kind: "json" | "text"; contentType: string | null; size: number; text: string; truncated: boolean; complete: boolean }
  | { kind: "binary"; contentType: string | null; size: number; sha256: string | null; complete: boolean }
  | { kind: "multipart"; contentType: string | null; size: number; parts: PartSummary[]; complete: boolean };

const mediaOf = (contentType: string | null) => (contentType ?? "").split(";")[0].trim().toLowerCase();
const isJsonMedia = (m: string) => m === "application/json" || m.endsWith("+json");
const isTextMedia = (m: string) =>
  m.startsWith("text/") || ["application/x-www-form-urlencoded", "application/x-ndjson", "application/jsonl", "application/xml"].includes(m);

/** api_key values inside captured text (reference URLs, JSON fields) are masked like the query string. */
export function maskSecrets(text: string): string {
  return text.replace(/([?&]api_key=)[^&"'\s]*/gi, "$1***").replace(/("api_?key"\s*:\s*")[^"]*/gi, "$1***");
}

/** Collects one body as it passes: its first bytes, its size, its sha256, or its multipart parts. */
export class BodyTap {
  private head: Buffer[] = [];
  private headBytes = 0;
  private size = 0;
  private readonly hash: crypto.Hash | null;
  private readonly parts: PartSummary[] | null;
  private parser: ReturnType<typeof Busboy> | null = null;
  ended = false;
  /** Bytes went by before the tap was in place (the summary says it is not complete). */
  missedStart = false;

  constructor(
    readonly contentType: string | null,
    /** Bytes of text kept in the summary (0: no summary at all). */
    private readonly keep: number,
    /** Bytes looked at (at least `keep`). */
    private readonly look: number = Math.max(keep, CLASSIFY_BYTES),
  ) {
    const media = mediaOf(contentType);
    this.parts = media === "multipart/form-data" && keep > 0 ? [] : null;
    this.hash = keep > 0 && !this.parts && !isJsonMedia(media) && !isTextMedia(media) ? crypto.createHash("sha256") : null;
    if (this.parts) this.parser = multipartParser(contentType!, this.parts);
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.size;
  }

  write(chunk: Buffer): void {
    if (this.ended) return;
    this.size += chunk.length;
    this.hash?.update(chunk);
    if (this.parser) {
      try {
        this.parser.write(chunk);
      } catch {
        this.parser = null; // a broken multipart body: the route answers for it; the sizes stay
      }
    } else if (this.headBytes < this.look) {
      const piece = chunk.subarray(0, this.look - this.headBytes);
      this.head.push(Buffer.from(piece));
      this.headBytes += piece.length;
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.parser?.end();
    } catch {
      /* the parts seen so far stay */
    }
  }

  /** The first bytes seen, as text (for classification: error answers, job definitions). */
  text(): string {
    return Buffer.concat(this.head).toString("utf8");
  }

  /** JSON of the body when it is (complete) JSON, else undefined. */
  json(): unknown {
    if (this.parts || this.headBytes === 0 || this.headBytes < this.size) return undefined;
    try {
      return JSON.parse(this.text());
    } catch {
      return undefined;
    }
  }

  summary(): BodySummary | null {
    if (this.keep <= 0 || (this.size === 0 && !this.missedStart)) return null;
    const complete = this.ended && !this.missedStart;
    const media = mediaOf(this.contentType);
    if (this.parts) return { kind: "multipart", contentType: this.contentType, size: this.size, parts: this.parts, complete };
    const texty = isJsonMedia(media) || isTextMedia(media);
    if (!texty)
      return {
        kind: "binary",
        contentType: this.contentType,
        size: this.size,
        sha256: this.ended && this.hash ? this.hash.copy().digest("hex") : null,
        complete,
      };
    const all = Buffer.concat(this.head);
    const kept = all.subarray(0, this.keep);
    return {
      kind: isJsonMedia(media) ? "json" : "text",
      contentType: this.contentType,
      size: this.size,
      text: maskSecrets(kept.toString("utf8")),
      truncated: this.size > kept.length,
      complete,
    };
  }
}

/** A passive multipart parser: part names, file names, sizes and sha256; field values bounded. */
function multipartParser(contentType: string, parts: PartSummary[]): ReturnType<typeof Busboy> | null {
  let bb: ReturnType<typeof Busboy>;
  try {
    bb = Busboy({ headers: { "content-type": contentType }, limits: { fieldSize: FIELD_BYTES } });
  } catch {
    return null;
  }
  bb.on("file", (name: string, stream: BusboyFileStream, fileName: string, _enc: string, mime: string) => {
    const part: PartSummary = { name, fileName: fileName || null, contentType: mime || null, size: 0, sha256: null };
    parts.push(part);
    const hash = crypto.createHash("sha256");
    stream.on("data", (d: Buffer) => {
      part.size += d.length;
      hash.update(d);
    });
    stream.on("end", () => (part.sha256 = hash.digest("hex")));
    // A part cut off mid-way errors here; the summary just stays without a hash.
    stream.on("error", () => {});
  });
  bb.on("field", (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
    parts.push({
      name,
      fileName: null,
      contentType: null,
      size: Buffer.byteLength(value),
      sha256: null,
      value: maskSecrets(value) + (valueTruncated ? "…" : ""),
    });
  });
  bb.on("error", () => {});
  return bb;
}

/**
 * Feeds the request body to `tap` as the HTTP parser pushes it into the request stream (whoever
 * reads it, and however: the socket stream for uploads, the Web body for JSON). Returns the undo.
 */
export function tapIncoming(incoming: IncomingMessage, tap: BodyTap): () => void {
  const state = (incoming as unknown as { _readableState?: { length?: number; buffer?: Iterable<Buffer> } })._readableState;
  // Bytes the parser already pushed before this request reached the middleware.
  if (state?.length) {
    try {
      for (const b of state.buffer ?? []) tap.write(Buffer.from(b));
    } catch {
      tap.missedStart = true;
    }
  }
  if (incoming.readableEnded || incoming.complete) tap.end();
  const own = incoming as unknown as { push: (chunk: unknown, encoding?: BufferEncoding) => boolean };
  const original = own.push;
  own.push = function (chunk: unknown, encoding?: BufferEncoding) {
    if (chunk === null) tap.end();
    else if (chunk !== undefined) tap.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding));
    return original.call(this, chunk, encoding);
  };
  return () => {
    delete (own as { push?: unknown }).push;
  };
}

/**
 * Feeds a response body to `tap` as node writes it to the socket, so the answer itself is left
 * alone (a JSON answer keeps the server's one-write fast path instead of becoming a stream);
 * `done` runs once the body is written: at the write that completes its Content-Length, or at the
 * end. Not later: a client that has every byte may read the journal at once, while the end of a
 * file streamed from disk still waits for one more read on the thread pool.
 * The response object lives for this request only.
 */
export function tapOutgoing(
  outgoing: { write: (...args: never[]) => unknown; end: (...args: never[]) => unknown },
  tap: BodyTap,
  contentLength: number | null,
  done: () => void,
): void {
  const own = outgoing as unknown as { write: (chunk: unknown, ...rest: unknown[]) => unknown; end: (chunk?: unknown, ...rest: unknown[]) => unknown };
  const write = own.write;
  const end = own.end;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    tap.end();
    done();
  };
  const feed = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === "string") tap.write(Buffer.from(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8"));
    else if (chunk instanceof Uint8Array) tap.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  };
  own.write = function (chunk: unknown, ...rest: unknown[]) {
    feed(chunk, rest[0]);
    const out = write.call(this, chunk, ...rest);
    if (contentLength !== null && tap.bytes >= contentLength) finish();
    return out;
  };
  own.end = function (chunk?: unknown, ...rest: unknown[]) {
    feed(chunk, rest[0]);
    const out = end.call(this, chunk, ...rest);
    finish();
    return out;
  };
}

/** The same response, its body passed through `tap`; `done` runs once, when the body ended, failed or was cancelled. */
export function tapResponse(res: Response, tap: BodyTap, done: () => void): Response {
  if (!res.body) {
    tap.end();
    done();
    return res;
  }
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done();
  };
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            tap.end();
            finish();
            controller.close();
            return;
          }
          tap.write(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          controller.enqueue(value);
        } catch (err) {
          finish();
          controller.error(err);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}
