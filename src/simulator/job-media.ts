// What the simulated Workflow "sees" in an input file: whether it decodes as an image (or video),
// its dimensions, and plausible predictions derived only from the file's sha256, so the same bytes
// always give the same results. Nothing is really decoded; headers and trailers are checked the
// way a decoder would fail on them.
import fs from "node:fs";
import zlib from "node:zlib";
import { randomStream } from "../controls/prng.js";
import { isHeaderlessDib } from "../http/sniff.js";

export const HEAD_BYTES = 64 * 1024;
const TAIL_BYTES = 32;

export type MediaFailure = {
  ok: false;
  reason: "empty-file" | "unreadable-file" | "unsupported-format" | "corrupted-image" | "corrupted-video";
  message: string;
};
export type ImageInfo = { ok: true; format: string; width: number; height: number };
export type VideoInfo = { ok: true; format: string; durationSeconds: number };

export interface FileBytes {
  head: Buffer;
  tail: Buffer;
  size: number;
}

/** Reads the first 64 KiB and the last bytes of a file with one open; `scratch` is reused between calls. */
export function readFileBytes(absPath: string, scratch: Buffer): FileBytes | MediaFailure {
  let fd: number;
  try {
    fd = fs.openSync(absPath, "r");
  } catch (err) {
    return { ok: false, reason: "unreadable-file", message: `input file could not be read (${(err as NodeJS.ErrnoException).code ?? "error"})` };
  }
  try {
    const size = fs.fstatSync(fd).size;
    const n = fs.readSync(fd, scratch, 0, Math.min(scratch.length, size), 0);
    const head = Buffer.from(scratch.subarray(0, n));
    let tail: Buffer;
    if (size <= n) tail = head.subarray(Math.max(0, n - TAIL_BYTES));
    else {
      tail = Buffer.alloc(Math.min(TAIL_BYTES, size));
      fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    }
    return { head, tail, size };
  } finally {
    fs.closeSync(fd);
  }
}

const ascii = (b: Buffer, s: number, e: number) => b.subarray(s, e).toString("latin1");
const corrupt = (format: string, why: string): MediaFailure => ({ ok: false, reason: "corrupted-image", message: `corrupted ${format} image: ${why}` });

function inspectPng(b: FileBytes): ImageInfo | MediaFailure {
  const h = b.head;
  if (h.length < 33 || ascii(h, 12, 16) !== "IHDR" || h.readUInt32BE(8) !== 13) return corrupt("PNG", "the IHDR header chunk is missing");
  if (zlib.crc32(h.subarray(12, 29)) >>> 0 !== h.readUInt32BE(29)) return corrupt("PNG", "the IHDR chunk fails its CRC check");
  const width = h.readUInt32BE(16);
  const height = h.readUInt32BE(20);
  if (!width || !height) return corrupt("PNG", "zero width or height");
  if (ascii(b.tail, b.tail.length - 8, b.tail.length - 4) !== "IEND") return corrupt("PNG", "the file is truncated (no IEND chunk at the end)");
  return { ok: true, format: "png", width, height };
}

function inspectJpeg(b: FileBytes): ImageInfo | MediaFailure {
  const h = b.head;
  let i = 2;
  let dims: { width: number; height: number } | undefined;
  while (i + 4 <= h.length) {
    if (h[i] !== 0xff) return corrupt("JPEG", `bad marker at byte ${i}`);
    const marker = h[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    const len = h.readUInt16BE(i + 2);
    if (len < 2) return corrupt("JPEG", `bad segment length at byte ${i}`);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > h.length) break;
      dims = { height: h.readUInt16BE(i + 5), width: h.readUInt16BE(i + 7) };
      break;
    }
    if (marker === 0xda) break; // start of scan before any frame header
    i += 2 + len;
  }
  if (!dims) return corrupt("JPEG", "no frame header (SOF) before the image data");
  if (!dims.width || !dims.height) return corrupt("JPEG", "zero width or height");
  if (!b.tail.includes(Buffer.from([0xff, 0xd9]))) return corrupt("JPEG", "the file is truncated (no end-of-image marker)");
  return { ok: true, format: "jpeg", ...dims };
}

function inspectWebp(b: FileBytes): ImageInfo | MediaFailure {
  const h = b.head;
  if (h.length < 30) return corrupt("WEBP", "the header is truncated");
  const riffSize = h.readUInt32LE(4) + 8;
  if (riffSize > b.size) return corrupt("WEBP", `the file is truncated (${b.size} of ${riffSize} bytes)`);
  const kind = ascii(h, 12, 16);
  if (kind === "VP8 ") return { ok: true, format: "webp", width: h.readUInt16LE(26) & 0x3fff, height: h.readUInt16LE(28) & 0x3fff };
  if (kind === "VP8L") {
    const bits = h.readUInt32LE(21);
    return { ok: true, format: "webp", width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (kind === "VP8X") return { ok: true, format: "webp", width: h.readUIntLE(24, 3) + 1, height: h.readUIntLE(27, 3) + 1 };
  return corrupt("WEBP", `unknown chunk "${kind}"`);
}

function inspectTiff(b: FileBytes): ImageInfo | MediaFailure {
  const h = b.head;
  const le = h[0] === 0x49;
  const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
  const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
  const ifd = h.length >= 8 ? u32(4) : 0;
  if (!ifd || ifd + 2 > h.length) return corrupt("TIFF", "the first image directory is missing");
  let width = 0;
  let height = 0;
  const n = u16(ifd);
  for (let k = 0; k < n && ifd + 2 + k * 12 + 12 <= h.length; k++) {
    const e = ifd + 2 + k * 12;
    const tag = u16(e);
    const value = u16(e + 2) === 3 ? u16(e + 8) : u32(e + 8);
    if (tag === 256) width = value;
    if (tag === 257) height = value;
  }
  if (!width || !height) return corrupt("TIFF", "no image width/height tags");
  return { ok: true, format: "tiff", width, height };
}

function inspectJp2(b: FileBytes): ImageInfo | MediaFailure {
  const at = b.head.indexOf("ihdr", 0, "latin1");
  if (at < 0 || at + 12 > b.head.length) return corrupt("JPEG 2000", "no image header box");
  return { ok: true, format: "jp2", height: b.head.readUInt32BE(at + 4), width: b.head.readUInt32BE(at + 8) };
}

/** Decides whether the bytes decode as an image the Workflow can run on. */
export function inspectImage(b: FileBytes): ImageInfo | MediaFailure {
  const h = b.head;
  if (b.size === 0) return { ok: false, reason: "empty-file", message: "the input file is empty" };
  if (h.length >= 8 && h.readUInt32BE(0) === 0x89504e47 && h.readUInt32BE(4) === 0x0d0a1a0a) return inspectPng(b);
  if (h.length >= 3 && h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff) return inspectJpeg(b);
  if (ascii(h, 0, 6) === "GIF87a" || ascii(h, 0, 6) === "GIF89a") {
    if (h.length < 10) return corrupt("GIF", "the header is truncated");
    if (b.tail[b.tail.length - 1] !== 0x3b) return corrupt("GIF", "the file is truncated (no trailer)");
    return { ok: true, format: "gif", width: h.readUInt16LE(6), height: h.readUInt16LE(8) };
  }
  if (ascii(h, 0, 4) === "RIFF" && ascii(h, 8, 12) === "WEBP") return inspectWebp(b);
  if (ascii(h, 0, 2) === "BM" && h.length >= 26) {
    const width = Math.abs(h.readInt32LE(18));
    const height = Math.abs(h.readInt32LE(22));
    if (!width || !height) return corrupt("BMP", "zero width or height");
    if (h.readUInt32LE(2) > b.size) return corrupt("BMP", "the file is truncated");
    return { ok: true, format: "bmp", width, height };
  }
  if ((h[0] === 0x49 && h[1] === 0x49 && h[2] === 0x2a && h[3] === 0) || (h[0] === 0x4d && h[1] === 0x4d && h[2] === 0 && h[3] === 0x2a)) return inspectTiff(b);
  if (h.length >= 12 && h.readUInt32BE(0) === 0x0c && ascii(h, 4, 8) === "jP  ") return inspectJp2(b);
  // A raw JPEG 2000 codestream (SOC, SIZ: size minus offset) and a DIB without its "BM" header (.jp2 / .dib files staging accepts).
  if (h.length >= 24 && h.readUInt32BE(0) === 0xff4fff51)
    return { ok: true, format: "jp2", width: h.readUInt32BE(8) - h.readUInt32BE(16), height: h.readUInt32BE(12) - h.readUInt32BE(20) };
  if (isHeaderlessDib(h))
    return {
      ok: true,
      format: "bmp",
      width: h.readUInt32LE(0) === 12 ? h.readUInt16LE(4) : h.readInt32LE(4),
      height: Math.abs(h.readUInt32LE(0) === 12 ? h.readUInt16LE(6) : h.readInt32LE(8)),
    };
  return {
    ok: false,
    reason: "unsupported-format",
    message: `not a supported image (${describeBytes(h)}); supported: JPEG, PNG, BMP, GIF, WEBP, TIFF, JPEG 2000`,
  };
}

/** Decides whether the bytes look like a video container and estimates its duration. */
export function inspectVideo(b: FileBytes): VideoInfo | MediaFailure {
  const h = b.head;
  if (b.size === 0) return { ok: false, reason: "empty-file", message: "the input file is empty" };
  // Without an explicit duration, assume ~2 Mbit/s: a plausible duration that grows with the file.
  const estimated = Math.max(1, Math.round(b.size / 250_000));
  if (ascii(h, 4, 8) === "ftyp") {
    const at = h.indexOf("mvhd", 0, "latin1");
    if (at >= 0 && at + 24 <= h.length) {
      const version = h[at + 4];
      const timescale = version === 1 ? h.readUInt32BE(at + 24) : h.readUInt32BE(at + 16);
      const duration = version === 1 ? Number(h.readBigUInt64BE(at + 28)) : h.readUInt32BE(at + 20);
      if (timescale > 0 && duration > 0) return { ok: true, format: "mp4", durationSeconds: Math.max(0.04, duration / timescale) };
    }
    return { ok: true, format: "mp4", durationSeconds: estimated };
  }
  if (h.length >= 4 && h.readUInt32BE(0) === 0x1a45dfa3) return { ok: true, format: "matroska", durationSeconds: estimated };
  if (ascii(h, 0, 4) === "RIFF" && ascii(h, 8, 11) === "AVI") return { ok: true, format: "avi", durationSeconds: estimated };
  if (ascii(h, 0, 3) === "FLV") return { ok: true, format: "flv", durationSeconds: estimated };
  if (h.length >= 4 && h.readUInt32BE(0) === 0x3026b275) return { ok: true, format: "wmv", durationSeconds: estimated };
  return {
    ok: false,
    reason: "unsupported-format",
    message: `not a supported video (${describeBytes(h)}); supported: MP4, MOV, M4V, MKV, WEBM, AVI, FLV, WMV`,
  };
}

function describeBytes(h: Buffer): string {
  if (!h.length) return "empty";
  const printable = [...h.subarray(0, 64)].every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
  if (printable) return "looks like text";
  return `starts with bytes ${h.subarray(0, 4).toString("hex")}`;
}

// ---- deterministic predictions -----------------------------------------------------------------

export const CLASSES = ["car", "person", "truck", "bicycle", "dog", "license-plate", "bus", "motorcycle"] as const;

export interface Prediction {
  x: number;
  y: number;
  width: number;
  height: number;
  confidence: number;
  class: string;
  class_id: number;
  detection_id: string;
}

const round = (v: number, digits: number) => Number(v.toFixed(digits));

/** 0-4 boxes inside the image, their class, confidence and id all derived from `sha256` (and the frame number for videos). */
export function predictionsFor(sha256: string, width: number, height: number, frame = 0): Prediction[] {
  const rnd = randomStream(parseInt(sha256.slice(0, 8), 16) ^ Math.imul(frame + 1, 0x9e3779b1));
  const count = Math.floor(rnd() * 5);
  const out: Prediction[] = [];
  for (let i = 0; i < count; i++) {
    const w = Math.max(1, width * (0.05 + rnd() * 0.3));
    const h = Math.max(1, height * (0.05 + rnd() * 0.3));
    const classId = Math.floor(rnd() * CLASSES.length);
    const idHex = Array.from({ length: 4 }, () =>
      Math.floor(rnd() * 0x100000000)
        .toString(16)
        .padStart(8, "0"),
    ).join("");
    out.push({
      x: round(w / 2 + rnd() * (width - w), 1),
      y: round(h / 2 + rnd() * (height - h), 1),
      width: round(w, 1),
      height: round(h, 1),
      confidence: round(0.3 + rnd() * 0.69, 4),
      class: CLASSES[classId],
      class_id: classId,
      detection_id: `${idHex.slice(0, 8)}-${idHex.slice(8, 12)}-4${idHex.slice(13, 16)}-a${idHex.slice(17, 20)}-${idHex.slice(20, 32)}`,
    });
  }
  return out;
}

/** Frame size assumed for videos (nothing is decoded): 1280x720 or 1920x1080, picked by the hash. */
export function videoFrameSize(sha256: string): { width: number; height: number } {
  return parseInt(sha256.slice(8, 10), 16) % 2 ? { width: 1920, height: 1080 } : { width: 1280, height: 720 };
}
