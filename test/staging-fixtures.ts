// Test data for the staging ingestion tests: real PNG bytes, hand-made tar archives (so hostile
// members can be written exactly), multipart bodies, and a webhook receiver on loopback.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { makePng } from "../src/controls/png.js";

// ---- PNG ------------------------------------------------------------------------------------------

/** A valid 1×1 RGB PNG whose pixel colour is derived from `seed` (so every seed gives different bytes). */
export function png(seed = 0): Buffer {
  return makePng(1, 1, [seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff]);
}

/** PNG-signature bytes padded to exactly `size` bytes (content detection only looks at the start). */
export function bigPng(size: number): Buffer {
  const b = Buffer.alloc(size, 7);
  png(1).copy(b, 0, 0, Math.min(size, 64));
  return b;
}

// ---- tar ------------------------------------------------------------------------------------------

export interface TarMember {
  name: string;
  data?: Buffer;
  /** '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' fifo, 'x' PAX header. */
  type?: string;
  linkname?: string;
  /** Size written in the header when it should lie about the data. */
  declaredSize?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

export function tarHeader(m: TarMember): Buffer {
  const h = Buffer.alloc(512);
  const size = m.declaredSize ?? m.data?.length ?? 0;
  h.write(m.name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(1_700_000_000, 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(m.type ?? "0", 156, "latin1");
  if (m.linkname) h.write(m.linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return h;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest ? Buffer.concat([data, Buffer.alloc(512 - rest)]) : data;
}

/** PAX extended header record block for `path` (lets a member have a name longer than 100 bytes). */
export function paxFor(path: string): TarMember {
  const body = (len: number) => `${len} path=${path}\n`;
  let len = body(0).length;
  while (body(len).length !== len) len = body(len).length;
  return { name: "PaxHeader/x", type: "x", data: Buffer.from(body(len)) };
}

/** A ustar archive of `members`, ending with the two zero blocks. */
export function tarOf(members: TarMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(tarHeader(m));
    if (m.data && m.data.length) parts.push(padded(m.data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function notificationConfig(ingestId: string, notificationsURL: string, extra: Record<string, unknown> = {}): TarMember {
  return { name: "notification_config.json", data: Buffer.from(JSON.stringify({ ingestId, notificationsURL, ...extra })) };
}

// ---- multipart ------------------------------------------------------------------------------------

export interface Part {
  field: string;
  filename?: string;
  contentType?: string;
  data: Buffer | string;
}

/** Builds a multipart/form-data body; `close: false` leaves out the closing boundary (a truncated body). */
export function multipart(parts: Part[], opts: { boundary?: string; close?: boolean } = {}): { body: Buffer; contentType: string } {
  const boundary = opts.boundary ?? `----emulatortest${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += "\r\n";
    if (p.contentType) head += `Content-Type: ${p.contentType}\r\n`;
    head += "\r\n";
    chunks.push(Buffer.from(head, "utf8"), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from("\r\n"));
  }
  if (opts.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---- loopback HTTP servers ------------------------------------------------------------------------

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  status: number;
}

export interface LoopbackServer {
  url: string;
  requests: Recorded[];
  /** Answers the next requests with these statuses (then 200). */
  failNext(...statuses: number[]): void;
  /** Serves `body` at `path` (for reference ingests). */
  serve(path: string, body: Buffer | string, opts?: { status?: number; delayMs?: number; headers?: Record<string, string> }): void;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1:0 that records every request and serves configured paths. */
export async function startLoopbackServer(): Promise<LoopbackServer> {
  const requests: Recorded[] = [];
  const queue: number[] = [];
  const routes = new Map<string, { body: Buffer; status: number; delayMs: number; headers: Record<string, string> }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const path = (req.url ?? "/").split("?")[0];
      const route = routes.get(path);
      const status = req.method === "POST" && queue.length ? queue.shift()! : (route?.status ?? (route ? 200 : req.method === "POST" ? 200 : 404));
      let json: any;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body, json, status });
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": "application/octet-stream", ...(route?.headers ?? {}) });
        res.end(route && req.method === "GET" ? route.body : "");
      };
      if (route?.delayMs) setTimeout(send, route.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (...statuses) => queue.push(...statuses),
    serve: (path, body, opts = {}) => routes.set(path, { body: Buffer.isBuffer(body) ? body : Buffer.from(body), status: opts.status ?? 200, delayMs: opts.delayMs ?? 0, headers: opts.headers ?? {} }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
