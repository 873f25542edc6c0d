// Test data made on the fly, one implementation of each: images of every format the official client
// selects (PNG through the emulator's own writer), a tiny MP4, uncompressed tar archives written byte
// by byte (so hostile members and PAX headers can be crafted), multipart bodies, and one loopback HTTP
// server that records requests, answers webhooks with scripted statuses and serves files.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { makePng } from "../../src/controls/png.js";

// ---- images and video -----------------------------------------------------------------------------

/** A side×side RGB PNG whose first pixel is `seed`'s three low bytes, so every seed gives different bytes. */
export function png(seed = 0, side = 4): Buffer {
  return makePng(side, side, [seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff]);
}

/** PNG-signature bytes padded to exactly `size` bytes (content detection only looks at the start). */
export function bigPng(size: number): Buffer {
  const b = Buffer.alloc(size, 7);
  png(1).copy(b, 0, 0, Math.min(size, 64));
  return b;
}

/** Writes `count` distinct PNGs named img-000.png... into a fresh folder; returns the folder. */
export function imageFolder(root: string, name: string, count: number, seedBase = 0): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dir, `img-${String(i).padStart(3, "0")}.png`), png(seedBase + i));
  return dir;
}

/** A minimal ISO-BMFF (MP4) file: an ftyp box and an mdat box with `seed` in it, padded to `size` bytes when given. */
export function mp4(seed: number, size?: number): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypisom"), Buffer.from([0, 0, 2, 0]), Buffer.from("isomiso2")]);
  const text = Buffer.from(`emulator-test-video-${seed}`);
  const payload = Buffer.concat([text, Buffer.alloc(Math.max(0, (size ?? 0) - ftyp.length - 8 - text.length), seed & 0xff)]);
  const mdatHead = Buffer.alloc(8);
  mdatHead.writeUInt32BE(8 + payload.length);
  mdatHead.write("mdat", 4, "ascii");
  return Buffer.concat([ftyp, mdatHead, payload]);
}

/** A valid baseline JPEG: 8×8 grey pixels, greyscale, one DC and one AC Huffman code. */
export function jpeg(): Buffer {
  const seg = (marker: number, body: number[]) => [0xff, marker, ((body.length + 2) >> 8) & 0xff, (body.length + 2) & 0xff, ...body];
  const jfif = seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const dqt = seg(0xdb, [0x00, ...new Array<number>(64).fill(1)]);
  const sof = seg(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]);
  const oneCode = (tableClassId: number) => seg(0xc4, [tableClassId, 1, ...new Array<number>(15).fill(0), 0x00]);
  const sos = seg(0xda, [1, 1, 0x00, 0, 63, 0]);
  // DC difference 0 (code "0"), then end-of-block (code "0"), padded with ones.
  return Buffer.from([0xff, 0xd8, ...jfif, ...dqt, ...sof, ...oneCode(0x00), ...oneCode(0x10), ...sos, 0x3f, 0xff, 0xd9]);
}

// The other image formats the official client selects (IMAGES_EXTENSIONS: bmp, dib, jpeg, jpg, jpe, jp2, png, webp).
const box = (type: string, body: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(8 + body.length);
  return Buffer.concat([len, Buffer.from(type, "latin1"), body]);
};
const u16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const marker = (code: number, body: Buffer) => Buffer.concat([Buffer.from([0xff, code]), u16(body.length + 2), body]);

/** A JPEG 2000 codestream (.j2k/.j2c, also what a .jp2 holds): 1×1, one 8-bit component, one tile, no wavelet levels, one empty packet; `seed` in the pixel-free comment. */
export function j2k(seed = 0): Buffer {
  const siz = marker(0x51, Buffer.concat([u16(0), u32(1), u32(1), u32(0), u32(0), u32(1), u32(1), u32(0), u32(0), u16(1), Buffer.from([7, 1, 1])]));
  const cod = marker(0x52, Buffer.from([0, 0, 0, 1, 0, 0, 4, 4, 0, 1]));
  const qcd = marker(0x5c, Buffer.from([0x40, 0x40]));
  const com = marker(0x64, Buffer.concat([u16(1), Buffer.from(`emulator-test-${seed}`)]));
  const tileData = Buffer.from([0x00]);
  const sot = marker(0x90, Buffer.concat([u16(0), u32(12 + 2 + tileData.length), Buffer.from([0, 1])]));
  return Buffer.concat([Buffer.from([0xff, 0x4f]), siz, cod, qcd, com, sot, Buffer.from([0xff, 0x93]), tileData, Buffer.from([0xff, 0xd9])]);
}

/** A JP2 file: signature box, ftyp (brand "jp2 "), jp2h (ihdr + greyscale colr), then the codestream in jp2c. */
export function jp2(seed = 0): Buffer {
  const signature = box("jP  ", Buffer.from([0x0d, 0x0a, 0x87, 0x0a]));
  const ftyp = box("ftyp", Buffer.concat([Buffer.from("jp2 "), u32(0), Buffer.from("jp2 ")]));
  const ihdr = box("ihdr", Buffer.concat([u32(1), u32(1), u16(1), Buffer.from([7, 7, 0, 0])]));
  const colr = box("colr", Buffer.concat([Buffer.from([1, 0, 0]), u32(17)]));
  return Buffer.concat([signature, ftyp, box("jp2h", Buffer.concat([ihdr, colr])), box("jp2c", j2k(seed))]);
}

/** A device-independent bitmap: 1×1 24-bit BITMAPINFOHEADER and pixels; with `fileHeader` the "BM" file header a .bmp (and most .dib files) starts with. */
export function dib(seed = 0, fileHeader = false): Buffer {
  const info = Buffer.alloc(40);
  info.writeUInt32LE(40, 0);
  info.writeInt32LE(1, 4);
  info.writeInt32LE(1, 8);
  info.writeUInt16LE(1, 12);
  info.writeUInt16LE(24, 14);
  info.writeUInt32LE(4, 20);
  info.writeInt32LE(2835, 24);
  info.writeInt32LE(2835, 28);
  const pixels = Buffer.from([seed & 0xff, (seed >> 8) & 0xff, (seed >> 16) & 0xff, 0]);
  if (!fileHeader) return Buffer.concat([info, pixels]);
  const head = Buffer.alloc(14);
  head.write("BM", 0, "latin1");
  head.writeUInt32LE(14 + 40 + pixels.length, 2);
  head.writeUInt32LE(14 + 40, 10);
  return Buffer.concat([head, info, pixels]);
}

/** A lossless WebP (RIFF....WEBPVP8L) of one pixel. */
export function webp(): Buffer {
  const vp8l = Buffer.from([0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00]);
  const chunk = (type: string, body: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(body.length);
    return Buffer.concat([Buffer.from(type, "latin1"), len, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
  };
  const body = Buffer.concat([Buffer.from("WEBP"), chunk("VP8L", vp8l.subarray(0, 13))]);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(body.length);
  return Buffer.concat([Buffer.from("RIFF"), size, body]);
}

/** A minimal little-endian TIFF: 1×1 8-bit greyscale, uncompressed. */
export function tiff(seed = 0): Buffer {
  const entries: [number, number, number, number][] = [
    [256, 3, 1, 1],
    [257, 3, 1, 1],
    [258, 3, 1, 8],
    [259, 3, 1, 1],
    [262, 3, 1, 1],
    [273, 4, 1, 0],
    [277, 3, 1, 1],
    [278, 3, 1, 1],
    [279, 4, 1, 1],
  ];
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const dataOffset = ifdOffset + ifdSize;
  const b = Buffer.alloc(dataOffset + 1);
  b.write("II", 0, "latin1");
  b.writeUInt16LE(42, 2);
  b.writeUInt32LE(ifdOffset, 4);
  b.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifdOffset + 2 + i * 12;
    b.writeUInt16LE(tag, at);
    b.writeUInt16LE(type, at + 2);
    b.writeUInt32LE(count, at + 4);
    if (type === 3) b.writeUInt16LE(value, at + 8);
    else b.writeUInt32LE(tag === 273 ? dataOffset : value, at + 8);
  });
  b[dataOffset] = seed & 0xff;
  return b;
}

// ---- tar ------------------------------------------------------------------------------------------

export interface TarMember {
  name: string;
  data?: Buffer;
  /** ustar type flag: "0" file, "1" hard link, "2" symlink, "3" char device, "4" block device, "5" dir, "6" fifo, "x" PAX header. */
  type?: string;
  linkName?: string;
  /** Size written in the header (defaults to data length): lets a test lie about it. */
  claimedSize?: number;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

/** One 512-byte ustar header (names over 100 bytes go in the prefix field when they can); a fixed mtime keeps archives reproducible. */
export function tarHeader(m: TarMember): Buffer {
  const h = Buffer.alloc(512);
  let name = m.name;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut > 0) {
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
  }
  h.write(name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(m.claimedSize ?? m.data?.length ?? 0, 12), 124, "ascii");
  h.write(octal(1_700_000_000, 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(m.type ?? "0", 156, "ascii");
  if (m.linkName) h.write(m.linkName, 157, 100, "utf8");
  h.write("ustar\u000000", 257, "ascii");
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

/** An uncompressed tar archive of the members, ending with the two zero blocks. */
export function tar(members: TarMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(tarHeader(m));
    const data = m.data ?? Buffer.alloc(0);
    if (data.length) {
      parts.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** PAX extended header record block for `path` (lets the next member have a name longer than ustar allows). */
export function paxFor(path: string): TarMember {
  const body = (len: number) => `${len} path=${path}\n`;
  let len = body(0).length;
  while (body(len).length !== len) len = body(len).length;
  return { name: "PaxHeader/x", type: "x", data: Buffer.from(body(len)) };
}

/** The notification_config.json member of a shard archive. */
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

// ---- the loopback HTTP server: webhook receiver and file server -----------------------------------

export interface Recorded {
  method: string;
  /** Path and query as received. */
  url: string;
  /** Path without the query. */
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The body as received. */
  text: string;
  /** The body parsed as JSON, undefined when it is not JSON. */
  json: any;
  /** The parsed JSON when the body is JSON, else the text (what a webhook test reads). */
  body: any;
  /** What it was answered; 0 while held without an answer. */
  status: number;
}

export interface LoopbackServer {
  /** http://127.0.0.1:<port>, no trailing slash. */
  url: string;
  /** Every request, in arrival order. */
  requests: Recorded[];
  /** Answers the next POSTs with these statuses (then `answer`, by default 200). */
  failNext(...statuses: number[]): void;
  /** Leaves the next `count` POSTs without an answer (in flight until close). */
  holdNext(count?: number): void;
  /** Serves `body` at `path` (GET answers it; other methods get the status only). */
  serve(path: string, body: Buffer | string, opts?: { status?: number; delayMs?: number; headers?: Record<string, string> }): void;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** The status of a POST that failNext / holdNext did not script (default 200): e.g. a receiver failing a share of deliveries. */
  answer?: (req: Recorded) => number;
}

const HELD = -1;

/** A node:http server on 127.0.0.1:0 that records every request, answers POSTs (webhooks) and serves configured paths. */
export async function startLoopbackServer(opts: LoopbackOptions = {}): Promise<LoopbackServer> {
  const requests: Recorded[] = [];
  const scripted: number[] = [];
  const held: http.ServerResponse[] = [];
  const routes = new Map<string, { body: Buffer; status: number; delayMs: number; headers: Record<string, string> }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const url = req.url ?? "/";
      const route = routes.get(url.split("?")[0]);
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const rec: Recorded = { method: req.method ?? "", url, path: url.split("?")[0], headers: req.headers, text, json, body: json ?? text, status: 0 };
      const post = req.method === "POST";
      const status = post && scripted.length ? scripted.shift()! : route ? route.status : post ? (opts.answer?.(rec) ?? 200) : 404;
      requests.push(rec);
      if (status === HELD) return void held.push(res);
      rec.status = status;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, { "content-type": route ? "application/octet-stream" : "application/json", ...(route?.headers ?? {}) });
        res.end(route ? (req.method === "GET" ? route.body : "") : post ? "{}" : "");
      };
      if (route?.delayMs) setTimeout(send, route.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    failNext: (...statuses) => void scripted.push(...statuses),
    holdNext: (count = 1) => void scripted.push(...new Array<number>(count).fill(HELD)),
    serve: (p, body, o = {}) =>
      void routes.set(p, {
        body: Buffer.isBuffer(body) ? body : Buffer.from(body),
        status: o.status ?? 200,
        delayMs: o.delayMs ?? 0,
        headers: o.headers ?? {},
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** event_ids of the webhooks a receiver answered with 2xx. */
export function acceptedEvents(server: LoopbackServer): Set<string> {
  return new Set(
    server.requests.filter((r) => r.status >= 200 && r.status < 300 && typeof r.json?.event_id === "string").map((r) => r.json.event_id as string),
  );
}
