// File bytes on disk, owned by one BlobStore per emulator. Every write lands in the temp folder
// first, is fsynced, then renamed into the blob tree, so a blob path that the database names is
// always complete. Nothing else in the emulator touches these folders directly.
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import type { Readable } from "node:stream";
import type { Db } from "./db.js";
import { emptyGroupStats, GroupCommitter, type GroupCommitStats } from "./group-commit.js";

export interface StoredBlob {
  /** Path relative to the blob root. */
  blob: string;
  size: number;
  sha256: string;
}

/** A complete file in the temp folder, not yet part of the blob tree. */
export interface TempFile {
  tmp: string;
  size: number;
  sha256: string;
  /** Already fsynced (data and size) as it was closed: a commit need not sync it again. */
  synced?: boolean;
  /** Its first bytes (up to 512), when it was received as a stream. */
  head?: Buffer;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`body exceeds ${limit} bytes`);
  }
}

/** Bytes of a received file kept in memory for content sniffing. */
const HEAD_BYTES = 512;
/** Received bytes gathered before one write (a small upload is one write). */
const WRITE_BATCH_BYTES = 256 * 1024;

/** Disk writes in flight at once while committing many files together. */
const FSYNC_CONCURRENCY = 8;

export class BlobStore {
  /** Made on the first grouped commit (see group-commit.ts); one per store. */
  private grouped?: GroupCommitter;

  constructor(
    /** Folder of committed blobs. */
    readonly root: string,
    /** Folder of half-written files; emptied at start-up, so nothing half-written survives. */
    readonly tmpRoot: string,
  ) {}

  /** Absolute path of a blob; refuses names that would escape the blob root. */
  path(rel: string): string {
    const abs = path.resolve(this.root, rel);
    // Defence in depth: names never come from clients, but a blob must never escape its root.
    if (!abs.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`blob path escapes the blob root: ${rel}`);
    return abs;
  }

  /** A fresh, unique blob name under `prefix` (spread over 256 folders, or in the `fanout` one). */
  newName(prefix: string, fanout?: string): string {
    const id = crypto.randomUUID();
    return path.join(prefix, fanout ?? id.slice(0, 2), id);
  }

  /** One of the 256 fan-out folder names, at random (a commit group puts its files in one). */
  newFanout(): string {
    return crypto.randomBytes(1).toString("hex");
  }

  /** Identifies the blob tree folder itself: it changes when a reset or an import swaps the tree. */
  treeId(): string {
    const st = fs.statSync(this.root, { bigint: true });
    return `${st.ino}:${st.birthtimeNs}`;
  }

  /**
   * Links a temp file into the tree under `rel` (the temp name stays until discarded, so it can be
   * linked again); returns the folders whose entries changed, to fsync before the rows name it.
   */
  linkTemp(tmpFile: string, rel: string): string[] {
    const dest = this.path(rel);
    const dir = path.dirname(dest);
    let created: string | undefined;
    try {
      fs.linkSync(tmpFile, dest);
    } catch (err) {
      // The fan-out folder does not exist yet (made once, not checked on every link).
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !fs.existsSync(tmpFile)) throw err;
      created = fs.mkdirSync(dir, { recursive: true });
      fs.linkSync(tmpFile, dest);
    }
    const dirs = [dir];
    // A folder made just now must be durable in its parent too.
    if (created) for (let d = dir; d !== path.dirname(created);) dirs.push((d = path.dirname(d)));
    return dirs;
  }

  /** fsync of any file on the thread pool (the database's write-ahead log after a group commit). */
  async syncFile(file: string): Promise<void> {
    await fsyncPath(file);
  }

  /** fsync of a folder on the thread pool; filesystems that refuse it are fine (the file fsyncs cover the data). */
  async syncDir(dir: string): Promise<void> {
    await fsyncPath(dir).catch(() => {});
  }

  /** fsync of a folder, now. */
  syncDirNow(dir: string): void {
    fsyncDir(dir);
  }

  /**
   * Commits `tmp` under `prefix` and runs `write` (the rows naming the blob) together with the
   * other commits in flight: one fsync round and one transaction per group (group-commit.ts).
   * Resolves with what `write` returned once durable; when it throws, its rows and blob are undone.
   */
  commitGrouped<T>(db: Db, tmp: TempFile | string, prefix: string, write: (blob: string) => T): Promise<T> {
    this.grouped ??= new GroupCommitter(db, this);
    if (this.grouped.db !== db) throw new Error("one blob store commits with one database");
    return typeof tmp === "string" ? this.grouped.commit(tmp, prefix, write) : this.grouped.commit(tmp.tmp, prefix, write, tmp.synced);
  }

  /** Group sizes reached by grouped commits so far. */
  groupStats(): GroupCommitStats {
    return this.grouped ? structuredClone(this.grouped.stats) : emptyGroupStats();
  }

  /** A fresh, unique temp path; the label only helps a human reading the folder. */
  tempPath(label = "tmp"): string {
    return path.join(this.tmpRoot, `${label}-${crypto.randomUUID()}`);
  }

  /**
   * Streams `source` into a temp file, counting bytes, hashing and keeping its first bytes (for
   * content sniffing); throws BlobTooLargeError past `limit`. The file is fsynced before it is closed
   * (on the thread pool, while other requests go on), so committing it later costs only the link and
   * the folder's fsync. Written through a file handle in batches: a stream pipeline per small upload
   * cost the event loop several times more.
   */
  async receive(source: Readable | AsyncIterable<Uint8Array>, limit: number): Promise<TempFile> {
    const tmp = this.tempPath("upload");
    const hash = crypto.createHash("sha256");
    const head: Buffer[] = [];
    let headBytes = 0;
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    // Take the iterator before the first await: it listens for the source's errors from now on, so a
    // part that ends early while the file opens is an error of this call, not an uncaught one.
    const chunks = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const fh = await fs.promises.open(tmp, "w").catch(async (err: unknown) => {
      await chunks.return?.();
      throw err;
    });
    const writePending = async () => {
      const out = pending;
      pending = [];
      pendingBytes = 0;
      await writeAll(fh, out);
    };
    try {
      try {
        for await (const c of { [Symbol.asyncIterator]: () => chunks }) {
          const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
          size += chunk.length;
          if (size > limit) throw new BlobTooLargeError(limit);
          hash.update(chunk);
          if (headBytes < HEAD_BYTES) {
            head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
            headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
          }
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BATCH_BYTES) await writePending();
        }
        await writePending();
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.discard(tmp);
      throw err;
    }
    return { tmp, size, sha256: hash.digest("hex"), synced: true, head: Buffer.concat(head) };
  }

  /** Moves a complete temp file into the blob tree under `rel` (fsync, rename, directory fsync). */
  commitAt(tmpFile: string, rel: string): void {
    const dest = this.path(rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fsyncFile(tmpFile);
    fs.renameSync(tmpFile, dest);
    fsyncDir(path.dirname(dest));
  }

  /** Moves a complete temp file into the blob tree under a new name; returns that name. */
  commit(tmpFile: string, prefix: string): string {
    const rel = this.newName(prefix);
    this.commitAt(tmpFile, rel);
    return rel;
  }

  /**
   * Commits `tmp`, then runs `write` (which inserts the rows naming the blob). When `write` throws,
   * the blob is removed again, so no blob outlives a failed commit.
   */
  commitWith<T>(tmpFile: string, prefix: string, write: (blob: string) => T): T {
    const blob = this.commit(tmpFile, prefix);
    try {
      return write(blob);
    } catch (err) {
      this.remove(blob);
      throw err;
    }
  }

  /**
   * Commits many temp files durably at once: all are fsynced in parallel off the event loop, then
   * renamed, then each blob directory is fsynced once. The same guarantee as `commit` per file,
   * far fewer waits. On failure, nothing committed by this call stays.
   */
  async commitMany(tmpFiles: string[], prefix: string): Promise<string[]> {
    const planned = tmpFiles.map((tmp) => ({ tmp, blob: this.newName(prefix) }));
    let next = 0;
    const lane = async () => {
      while (next < planned.length) await fsyncPath(planned[next++].tmp);
    };
    await Promise.all(Array.from({ length: FSYNC_CONCURRENCY }, lane));
    const dirs = new Set<string>();
    const done: string[] = [];
    try {
      for (const p of planned) {
        const dest = this.path(p.blob);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.renameSync(p.tmp, dest);
        dirs.add(path.dirname(dest));
        done.push(p.blob);
      }
    } catch (err) {
      for (const b of done) this.remove(b);
      throw err;
    }
    await Promise.all(
      [...dirs].map((d) =>
        fsyncPath(d).catch(() => {
          // Some filesystems refuse fsync on directories; the file fsyncs already cover the data.
        }),
      ),
    );
    return done;
  }

  /** Writes bytes as a new blob under `prefix` (temp, fsync, rename). */
  write(prefix: string, data: Buffer | string): StoredBlob {
    const tmp = this.tempPath("write");
    fs.writeFileSync(tmp, data);
    const blob = this.commit(tmp, prefix);
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    return { blob, size: buf.length, sha256: crypto.createHash("sha256").update(buf).digest("hex") };
  }

  /** Writes bytes to a new temp file (not yet fsynced), counting and hashing them. */
  writeTemp(data: Buffer, label = "tmp"): TempFile {
    const tmp = this.tempPath(label);
    fs.writeFileSync(tmp, data);
    return { tmp, size: data.length, sha256: crypto.createHash("sha256").update(data).digest("hex") };
  }

  /** Appends to a temp file, creating it when missing (job results written slice by slice). */
  appendTemp(tmpFile: string, data: string | Buffer): void {
    fs.appendFileSync(tmpFile, data);
  }

  /** Reads a whole temp file (small files only: a downloaded references list). */
  readTemp(tmpFile: string): Buffer {
    return fs.readFileSync(tmpFile);
  }

  /** The first bytes of a temp file (content sniffing before the commit). */
  tempHead(tmpFile: string, bytes = 512): Buffer {
    return readHead(tmpFile, bytes);
  }

  /** The first bytes of a committed blob. */
  head(rel: string, bytes = 512): Buffer {
    return readHead(this.path(rel), bytes);
  }

  /** fsync of a temp file on the thread pool, so a slow disk does not stall requests. */
  async syncTemp(tmpFile: string): Promise<void> {
    await fsyncPath(tmpFile);
  }

  /** Size of a committed blob, or null when it is missing. */
  sizeOf(rel: string): number | null {
    try {
      return fs.statSync(this.path(rel)).size;
    } catch {
      return null;
    }
  }

  /** Reads a whole blob (small files only: seeds, snapshots, job inputs). */
  read(rel: string): Buffer {
    return fs.readFileSync(this.path(rel));
  }

  /** A read stream over a blob, optionally a byte range (inclusive end) and a chunk size. */
  openRead(rel: string, opts?: { start?: number; end?: number; highWaterMark?: number }): fs.ReadStream {
    return fs.createReadStream(this.path(rel), opts);
  }

  /** Removes a committed blob; already gone is fine. */
  remove(rel: string): void {
    try {
      fs.rmSync(this.path(rel), { force: true });
    } catch {
      // Already gone is fine.
    }
  }

  /** Removes blobs off the request path (their rows are already gone, so nothing reads them). */
  removeLater(rels: Iterable<string>): void {
    for (const rel of rels) {
      let abs: string;
      try {
        abs = this.path(rel);
      } catch {
        continue;
      }
      void fs.promises.rm(abs, { force: true }).catch(() => {});
    }
  }

  /** Removes a temp file; already gone is fine. */
  discard(tmpFile: string): void {
    fs.rmSync(tmpFile, { force: true });
  }

  /**
   * Empties the blob tree in O(1): it is renamed aside and deleted in the background, so a reset
   * costs the same with 5 files or 5000.
   */
  discardAll(): void {
    const parent = path.dirname(this.root);
    const trash = path.join(parent, `.trash-${process.pid}-${Date.now()}-${crypto.randomUUID().slice(0, 8)}`);
    try {
      fs.renameSync(this.root, trash);
    } catch {
      fs.rmSync(this.root, { recursive: true, force: true });
    }
    fs.mkdirSync(this.root, { recursive: true });
    for (const e of fs.readdirSync(parent)) {
      // Earlier resets' leftovers too.
      if (e.startsWith(".trash-")) void fs.promises.rm(path.join(parent, e), { recursive: true, force: true }).catch(() => {});
    }
  }

  /**
   * Removes blobs that no row names: a kill -9 between the rename into the tree and the commit of
   * the row leaves one behind. Runs in the background after start; blobs written since `startedAt`
   * (by this process) are never touched, so it cannot race new uploads. Returns how many it removed.
   */
  async sweepOrphans(inUse: ReadonlySet<string>, startedAt: number): Promise<number> {
    let removed = 0;
    for (const rel of this.list()) {
      if (inUse.has(rel)) continue;
      try {
        const abs = this.path(rel);
        if ((await fs.promises.stat(abs)).mtimeMs >= startedAt) continue;
        await fs.promises.rm(abs, { force: true });
        removed++;
      } catch {
        // Gone meanwhile, or not ours to judge: leave it.
      }
    }
    return removed;
  }

  /** Every committed blob, as names relative to the root. */
  *list(): Generator<string> {
    yield* walk(this.root, "");
  }
}

function* walk(root: string, rel: string): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) yield* walk(root, r);
    else if (e.isFile()) yield r;
  }
}

/** Writes every buffer (a short write is continued, as fs.writeFile does). */
async function writeAll(fh: fs.promises.FileHandle, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length) {
    const { bytesWritten } = await fh.writev(rest);
    let skip = bytesWritten;
    while (rest.length && skip >= rest[0].length) skip -= rest.shift()!.length;
    if (rest.length && skip > 0) rest = [rest[0].subarray(skip), ...rest.slice(1)];
  }
}

function readHead(file: string, bytes: number): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, fs.readSync(fd, buf, 0, bytes, 0));
  } finally {
    fs.closeSync(fd);
  }
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
    fsyncFile(dir);
  } catch {
    // Some filesystems refuse fsync on directories; the file fsync already covers the data.
  }
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.promises.open(p, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
