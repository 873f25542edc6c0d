// Deterministic test media for the scenarios: distinct small PNGs and plain ustar archives with a fixed
// mtime, so every run sends byte-identical bodies.
import zlib from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** A 16×16 RGB PNG whose pixels encode `seed` (different seeds, different bytes and hashes). */
export function png(seed: number, side = 16): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const row = 1 + side * 3;
  const raw = Buffer.alloc(side * row);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const o = y * row + 1 + x * 3;
      raw[o] = (seed * 37 + x * 11) & 0xff;
      raw[o + 1] = (seed * 91 + y * 13) & 0xff;
      raw[o + 2] = (seed * 53 + x * y) & 0xff;
    }
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

/** A minimal ISO-BMFF (MP4) file: an ftyp box and an mdat box holding `seed`. */
export function mp4(seed: number): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from("ftypisom"), Buffer.from([0, 0, 2, 0]), Buffer.from("isomiso2")]);
  const payload = Buffer.from(`parity-video-${seed}`);
  const mdat = Buffer.alloc(8);
  mdat.writeUInt32BE(8 + payload.length);
  mdat.write("mdat", 4, "ascii");
  return Buffer.concat([ftyp, mdat, payload]);
}

const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write(octal(0o644, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(1_704_067_200, 12), 136, "ascii"); // 2024-01-01: fixed, so archives are byte-identical
  h.write("        ", 148, "ascii");
  h.write("0", 156, "ascii");
  h.write("ustar\u000000", 257, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

/** An uncompressed tar of regular files, as the official client packs a shard. */
export function tar(files: { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(header(f.name, f.data.length), f.data);
    const pad = (512 - (f.data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** What a downloaded body is, from its first bytes and text. */
export function sniffKind(bytes: Buffer, fileName = ""): string {
  if (bytes.length === 0) return "empty";
  if (bytes[0] === 0x89 && bytes.subarray(1, 4).toString("ascii") === "PNG") return "png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "jpeg";
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return "gzip";
  if (bytes.length > 262 && bytes.subarray(257, 262).toString("ascii") === "ustar") return "tar";
  if (bytes.subarray(4, 8).toString("ascii") === "ftyp") return "mp4";
  if (bytes.subarray(0, 5).toString("ascii") === "<?xml" || bytes.subarray(0, 1).toString("ascii") === "<") return "xml-or-html";
  if (/\.jsonl$/i.test(fileName)) return "jsonl";
  if (/\.csv$/i.test(fileName)) return "csv";
  return "bytes";
}
