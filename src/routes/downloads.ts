// Signed download URLs served by the emulator: signature and expiry checked on the emulator clock,
// Range requests supported, bytes streamed from disk.
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { Readable } from "node:stream";
import type { AppEnv, Emulator } from "../context.js";
import { ApiError, forbidden, notFound } from "../errors.js";
import { getFileBySeq } from "../state/batches.js";
import { verify } from "../signing.js";
import { downloadPath } from "./present.js";

const downloadRoute = createRoute({
  method: "get",
  path: "/_signed/files/{seq}/{fileName}",
  tags: ["Signed URLs"],
  summary: "Download a staged file (URL from the list endpoint)",
  description: "No api_key: the URL's signature authorises the download. Supports Range.",
  request: { params: z.object({ seq: z.string(), fileName: z.string() }) },
  responses: {
    // Served with the file's own media type (image/png, video/mp4, application/jsonl, ...).
    200: { description: "File bytes.", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) }, "*/*": { schema: z.string().openapi({ format: "binary" }) } } },
    206: { description: "Requested range." },
    403: { description: "Missing, invalid or expired signature." },
    404: { description: "The file no longer exists." },
    416: { description: "Range not satisfiable." },
  },
});

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

export function checkSignature(emu: Emulator, method: string, url: URL): void {
  const check = verify(emu.signingSecret, method, url.pathname, url.searchParams, emu.clock.now());
  if (!check.ok) {
    const why = { missing: "has no signature", malformed: "has a malformed signature", invalid: "has a signature that does not match", expired: "has expired" }[check.reason];
    throw forbidden(`Signed URL ${why}`, check.reason === "expired" ? "Signed URLs are valid for a limited time: list the batch again for fresh URLs." : "Use the URL exactly as the API returned it.");
  }
}

export function downloadRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(downloadRoute, async (c) => {
    const url = new URL(c.req.url);
    checkSignature(emu, "GET", url);
    const seq = Number(c.req.param("seq"));
    const file = Number.isInteger(seq) ? getFileBySeq(emu.db, seq) : undefined;
    if (!file || downloadPath(file) !== url.pathname) throw notFound("The file behind this URL no longer exists (the batch was reset or expired)");
    const size = emu.blobs.sizeOf(file.blob);
    if (size === null) throw notFound("The file behind this URL no longer exists");
    const headers: Record<string, string> = {
      "content-type": file.media_type,
      "accept-ranges": "bytes",
      etag: `"${file.sha256}"`,
      "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(file.file_name)}`,
    };
    const range = parseRange(c.req.header("range"), size);
    if (range === "invalid") {
      throw new ApiError(416, "range-not-satisfiable", `Range "${c.req.header("range")}" cannot be served for a ${size}-byte file`, undefined, undefined, { "content-range": `bytes */${size}` });
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    headers["content-length"] = String(size === 0 ? 0 : end - start + 1);
    if (range) headers["content-range"] = `bytes ${start}-${end}/${size}`;
    if (c.req.method === "HEAD" || size === 0) return new Response(null, { status: range ? 206 : 200, headers });
    const stream = Readable.toWeb(emu.blobs.openRead(file.blob, { start, end })) as ReadableStream;
    return new Response(stream, { status: range ? 206 : 200, headers });
  });
  return app;
}
