// File bytes on disk. Every write goes to the tmp folder first, is fsynced, then renamed into the
// blob tree, so a blob path that the database names is always complete.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Transform, type Readable } from "node:stream";

export interface StoredBlob {
  /** Path relative to the blob root. */
  blob: string;
  size: number;
  sha256: string;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

export function blobPath(blobRoot: string, rel: string): string {
  const abs = path.resolve(blobRoot, rel);
  // Defence in depth: names never come from clients, but a blob must never escape its root.
  if (!abs.startsWith(path.resolve(blobRoot) + path.sep)) throw new Error(`blob path escapes the blob root: ${rel}`);
  return abs;
}

export function newBlobName(prefix: string): string {
  const id = crypto.randomUUID();
  return path.join(prefix, id.slice(0, 2), id);
}

function fsyncFile(p: string): void {
  const fd = fs.openSync(p, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the file fsync already covers the data.
  }
}

/** Moves a complete, fsynced temp file into the blob tree. */
export function commitTemp(blobRoot: string, tmpFile: string, rel: string): void {
  const dest = blobPath(blobRoot, rel);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fsyncFile(tmpFile);
  fs.renameSync(tmpFile, dest);
  fsyncDir(path.dirname(dest));
}

export function writeBlob(blobRoot: string, tmpRoot: string, prefix: string, data: Buffer | string): StoredBlob {
  const rel = newBlobName(prefix);
  const tmp = path.join(tmpRoot, crypto.randomUUID());
  fs.writeFileSync(tmp, data);
  commitTemp(blobRoot, tmp, rel);
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return { blob: rel, size: buf.length, sha256: crypto.createHash("sha256").update(buf).digest("hex") };
}

/** Streams `source` into a temp file, counting bytes and hashing; throws BlobTooLargeError past `limit`. */
export async function streamToTemp(tmpRoot: string, source: Readable | AsyncIterable<Uint8Array>, limit: number): Promise<{ tmp: string; size: number; sha256: string }> {
  const tmp = path.join(tmpRoot, crypto.randomUUID());
  const hash = crypto.createHash("sha256");
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) return cb(new BlobTooLargeError(limit));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source as Readable, counter, fs.createWriteStream(tmp));
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return { tmp, size, sha256: hash.digest("hex") };
}

export function removeBlob(blobRoot: string, rel: string): void {
  try {
    fs.rmSync(blobPath(blobRoot, rel), { force: true });
  } catch {
    // Already gone is fine.
  }
}
