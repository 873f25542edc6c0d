// The scenarios' HTTP client: one request, read whole, with the body bytes kept for summaries. Bodies
// are built deterministically (multipart boundary from the content's hash) so the same scenario sends
// the same bytes every time, which is what the replay proxy matches on.
import crypto from "node:crypto";
import { request } from "undici";

export interface Target {
  /** No trailing slash, e.g. `https://api.roboflow.com` or `http://127.0.0.1:9010`. */
  baseUrl: string;
  apiKey: string;
  workspace: string;
}

export interface Req {
  method: string;
  /** Relative to the base URL, or an absolute URL (signed upload and download URLs). */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** `undefined`: the target's key; `null`: no api_key at all; a string: that key. Absolute URLs never get one. */
  apiKey?: string | null;
  json?: unknown;
  /** A body sent as is (malformed JSON, tar shards). */
  raw?: Buffer | string;
  multipart?: { field: string; fileName: string; data: Buffer };
  headers?: Record<string, string>;
}

export interface Res {
  status: number;
  headers: Record<string, string>;
  /** Media type without parameters, `""` when none. */
  contentType: string;
  bytes: Buffer;
  text: string;
  json: any;
}

export interface Sent {
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
  res: Res;
}

/** One multipart/form-data part, as the official client sends it: field name and filename both the file's name, no part Content-Type. */
export function multipartBody(field: string, fileName: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = `parity-${crypto.createHash("sha256").update(data).update(fileName).digest("hex").slice(0, 24)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${fileName}"\r\n\r\n`);
  return { body: Buffer.concat([head, data, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function urlOf(target: Target, req: Req): URL {
  const absolute = /^https?:\/\//.test(req.path);
  const url = new URL(absolute ? req.path : target.baseUrl + req.path);
  const key = req.apiKey === undefined ? target.apiKey : req.apiKey;
  if (!absolute && key !== null) url.searchParams.set("api_key", key);
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

export async function send(target: Target, req: Req, timeoutMs = 120_000): Promise<Sent> {
  const url = urlOf(target, req);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  let body: Buffer | undefined;
  if (req.json !== undefined) {
    body = Buffer.from(JSON.stringify(req.json));
    headers["content-type"] ??= "application/json";
  } else if (req.multipart) {
    const m = multipartBody(req.multipart.field, req.multipart.fileName, req.multipart.data);
    body = m.body;
    headers["content-type"] = m.contentType;
  } else if (req.raw !== undefined) {
    body = Buffer.from(req.raw);
  }
  const r = await request(url, { method: req.method as "GET", headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const bytes = Buffer.from(await r.body.arrayBuffer());
  const resHeaders = flatHeaders(r.headers);
  const text = bytes.toString("utf8");
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const contentType = (resHeaders["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  return { url, headers, body, res: { status: r.statusCode, headers: resHeaders, contentType, bytes, text, json } };
}

export const isLoopbackUrl = (u: string) => /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i.test(u);
