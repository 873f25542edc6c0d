// Content detection by magic bytes. The emulator decides "is this an image?" from the bytes, not
// from the file name or a client-sent Content-Type, and names what it found when it refuses.
export interface Sniffed {
  /** Short human description, e.g. "PNG image" or "PDF document". */
  label: string;
  /** MIME type served on download. */
  mediaType: string;
  kind: "image" | "video" | "other";
}

const ascii = (b: Buffer, start: number, end: number) => b.subarray(start, end).toString("latin1");
const startsWith = (b: Buffer, bytes: number[], at = 0) => b.length >= at + bytes.length && bytes.every((v, i) => b[at + i] === v);

const image = (label: string, mediaType: string): Sniffed => ({ label, mediaType, kind: "image" });

/** JPEG 2000: a JP2-family file (signature box, then ftyp naming jp2 / jpx / jpm) or a raw codestream (SOC then SIZ). */
function sniffJpeg2000(b: Buffer): Sniffed | null {
  if (startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])) {
    const brand = ascii(b, 16, 20) === "ftyp" ? ascii(b, 20, 24) : "";
    if (brand === "jpx ") return image("JPEG 2000 image (JPX)", "image/jpx");
    if (brand === "jpm ") return image("JPEG 2000 image (JPM)", "image/jpm");
    return image("JPEG 2000 image (JP2)", "image/jp2");
  }
  if (startsWith(b, [0xff, 0x4f, 0xff, 0x51])) return image("JPEG 2000 codestream", "image/j2c");
  return null;
}

const DIB_HEADER_SIZES = [12, 40, 52, 56, 64, 108, 124];

/**
 * A DIB without the 14-byte "BM" file header (what Pillow writes for .dib): the info header alone.
 * Its first bytes are just a header size, so the rest of the header must be plausible too.
 */
export function isHeaderlessDib(b: Buffer): boolean {
  if (b.length < 16) return false;
  const size = b.readUInt32LE(0);
  if (!DIB_HEADER_SIZES.includes(size) || b.length < size) return false;
  if (size === 12) return b.readUInt16LE(4) > 0 && b.readUInt16LE(6) > 0 && b.readUInt16LE(8) === 1 && [1, 4, 8, 24].includes(b.readUInt16LE(10));
  const width = b.readInt32LE(4);
  const height = b.readInt32LE(8);
  const compression = b.readUInt32LE(16);
  return width > 0 && height !== 0 && b.readUInt16LE(12) === 1 && [1, 4, 8, 16, 24, 32].includes(b.readUInt16LE(14)) && compression <= 6;
}

/** Image formats the staging service ingests: what the official client selects (bmp, dib, jpeg, jpg, jpe, jp2, png, webp), plus GIF and TIFF. */
function sniffImage(b: Buffer): Sniffed | null {
  if (startsWith(b, [0xff, 0xd8, 0xff])) return { label: "JPEG image", mediaType: "image/jpeg", kind: "image" };
  const jpeg2000 = sniffJpeg2000(b);
  if (jpeg2000) return jpeg2000;
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { label: "PNG image", mediaType: "image/png", kind: "image" };
  if (ascii(b, 0, 6) === "GIF87a" || ascii(b, 0, 6) === "GIF89a") return { label: "GIF image", mediaType: "image/gif", kind: "image" };
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP") return { label: "WEBP image", mediaType: "image/webp", kind: "image" };
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]))
    return { label: "TIFF image", mediaType: "image/tiff", kind: "image" };
  // "BM" alone is too weak (plenty of text starts with it): also require a known DIB header size.
  if (ascii(b, 0, 2) === "BM" && b.length >= 18 && DIB_HEADER_SIZES.includes(b.readUInt32LE(14))) {
    return { label: "BMP image", mediaType: "image/bmp", kind: "image" };
  }
  if (isHeaderlessDib(b)) return image("BMP image (DIB without file header)", "image/bmp");
  return null;
}

function sniffVideo(b: Buffer): Sniffed | null {
  if (ascii(b, 4, 8) === "ftyp") {
    const brand = ascii(b, 8, 12);
    if (/^(heic|heix|hevc|mif1|msf1)$/.test(brand)) return { label: `HEIF image (brand ${brand}, not supported)`, mediaType: "image/heif", kind: "other" };
    if (brand === "avif") return { label: "AVIF image (not supported)", mediaType: "image/avif", kind: "other" };
    if (brand === "qt  ") return { label: "QuickTime video", mediaType: "video/quicktime", kind: "video" };
    return { label: `MP4 video (brand ${brand.trim() || "?"})`, mediaType: "video/mp4", kind: "video" };
  }
  if (startsWith(b, [0x1a, 0x45, 0xdf, 0xa3])) {
    return b.includes(Buffer.from("webm"))
      ? { label: "WebM video", mediaType: "video/webm", kind: "video" }
      : { label: "Matroska video", mediaType: "video/x-matroska", kind: "video" };
  }
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 11) === "AVI") return { label: "AVI video", mediaType: "video/x-msvideo", kind: "video" };
  if (startsWith(b, [0x00, 0x00, 0x01, 0xba]) || startsWith(b, [0x00, 0x00, 0x01, 0xb3]))
    return { label: "MPEG video", mediaType: "video/mpeg", kind: "video" };
  if (b.length >= 189 && b[0] === 0x47 && b[188] === 0x47) return { label: "MPEG-TS video", mediaType: "video/mp2t", kind: "video" };
  return null;
}

function sniffOther(b: Buffer): Sniffed {
  const other = (label: string, mediaType = "application/octet-stream"): Sniffed => ({ label, mediaType, kind: "other" });
  if (b.length === 0) return other("empty file");
  if (ascii(b, 0, 5) === "%PDF-") return other("PDF document", "application/pdf");
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04])) return other("ZIP archive", "application/zip");
  if (startsWith(b, [0x1f, 0x8b])) return other("gzip archive", "application/gzip");
  if (ascii(b, 257, 262) === "ustar") return other("tar archive", "application/x-tar");
  if (startsWith(b, [0x42, 0x5a, 0x68])) return other("bzip2 archive");
  if (startsWith(b, [0x7f, 0x45, 0x4c, 0x46])) return other("ELF executable");
  if (ascii(b, 0, 4) === "RIFF") return other(`RIFF container (${ascii(b, 8, 12).trim() || "unknown"})`);
  if (ascii(b, 0, 4) === "OggS") return other("Ogg media");
  if (ascii(b, 0, 3) === "ID3" || startsWith(b, [0xff, 0xfb])) return other("MP3 audio");
  const head = b.subarray(0, Math.min(b.length, 512));
  const printable = [...head].every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0x80);
  if (printable) {
    const text = head.toString("utf8").trimStart();
    if (text.startsWith("{") || text.startsWith("[")) return other("JSON/text data", "application/json");
    if (/^<(\?xml|svg|!doctype|html)/i.test(text)) return other("XML/HTML/SVG text (SVG is not supported)", "text/plain");
    return other("text data", "text/plain");
  }
  return other("unrecognised binary data");
}

/** What the first bytes of a file are (pass up to 512 bytes: the tar and text checks look that far). */
export function sniff(head: Buffer): Sniffed {
  return sniffImage(head) ?? sniffVideo(head) ?? sniffOther(head);
}

export const ACCEPTED_IMAGE_FORMATS = "JPEG, JPEG 2000, PNG, GIF, BMP/DIB, WEBP or TIFF";

const VIDEO_TYPES_BY_EXTENSION: Record<string, string> = {
  mp4: "video/mp4",
  m4v: "video/mp4",
  mov: "video/quicktime",
  avi: "video/x-msvideo",
  mkv: "video/x-matroska",
  webm: "video/webm",
  mpeg: "video/mpeg",
  mpg: "video/mpeg",
  ts: "video/mp2t",
  wmv: "video/x-ms-wmv",
  flv: "video/x-flv",
};

/** MIME type for a staged video: from its bytes when recognisable, else from its extension. */
export function videoMediaType(head: Buffer, fileName: string): string {
  const s = sniffVideo(head);
  if (s?.kind === "video") return s.mediaType;
  const ext = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase();
  return (ext && VIDEO_TYPES_BY_EXTENSION[ext]) || "application/octet-stream";
}
