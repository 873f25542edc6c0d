// Small PNG images generated on demand (seeds, tests): truecolour, a diagonal gradient over a base
// colour so that every generated image has different bytes. No image library needed.
import zlib from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Base colour derived from a name, so "a.png" and "b.png" look (and hash) different. */
export function colorOf(name: string): [number, number, number] {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return [(h & 0xff) | 0x20, ((h >>> 8) & 0xff) | 0x20, ((h >>> 16) & 0xff) | 0x20];
}

export function parseColor(hex: string): [number, number, number] {
  const h = hex.replace(/^#/, "");
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

export function makePng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const shade = Math.floor(((x + y) / Math.max(1, width + height - 2)) * 96);
      raw[row + 1 + x * 3] = Math.min(255, rgb[0] + shade);
      raw[row + 2 + x * 3] = Math.min(255, rgb[1] + shade);
      raw[row + 3 + x * 3] = Math.max(0, rgb[2] - shade);
    }
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
