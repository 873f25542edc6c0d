// Group commit: concurrent uploads are made durable together. Each request hands over its finished
// temp file and the row writes that name it; a group's files are fsynced in parallel off the event
// loop (most already were as they were written, see BlobStore.receive), linked into the blob tree
// (one fan-out folder per prefix, fsynced once), and every item's rows run in ONE SQLite
// transaction whose log is fsynced once on the thread pool, each item in its own savepoint, so one
// item's failure (a 409, a lost slot) leaves the others. A request is answered once its group is
// durable: the same guarantee as committing alone (an acknowledged upload survives kill -9 and power
// loss; rows only ever name complete, synced files). There is no timer: while one group is being
// synced, the next one fills.
import type { BlobStore } from "./blobs.js";
import type { Db } from "./db.js";

/** Items in one group at most (bounds one transaction and one burst of fsyncs). */
const MAX_GROUP_ITEMS = 256;
/** fsyncs in flight at once: the rest of the thread pool stays free for the next group's body writes. */
const FSYNC_LANES = 3;
/** Upper bounds of the group-size histogram buckets. */
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, MAX_GROUP_ITEMS];

export interface GroupCommitStats {
  groups: number;
  items: number;
  /** Items that failed (their own rows or file, or their whole group). */
  failedItems: number;
  /** Groups where some items failed and the others committed. */
  partialGroups: number;
  /** Groups whose blob tree was swapped (reset, import) while they synced, so they linked again. */
  treeSwaps: number;
  largestGroup: number;
  lastGroup: number;
  /** Groups by size: "1", "2", "3-4", "5-8", ... */
  sizes: Record<string, number>;
}

interface Item {
  tmp: string;
  /** fsynced already (as it was written). */
  synced: boolean;
  prefix: string;
  write: (blob: string) => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  blob?: string;
  error?: unknown;
  result?: unknown;
}

export const emptyGroupStats = (): GroupCommitStats => ({
  groups: 0,
  items: 0,
  failedItems: 0,
  partialGroups: 0,
  treeSwaps: 0,
  largestGroup: 0,
  lastGroup: 0,
  sizes: {},
});

const bucketOf = (n: number): string => {
  const i = SIZE_BUCKETS.findIndex((b) => n <= b);
  const hi = SIZE_BUCKETS[i];
  const lo = i > 0 ? SIZE_BUCKETS[i - 1] + 1 : 1;
  return lo === hi ? String(hi) : `${lo}-${hi}`;
};

export class GroupCommitter {
  private queue: Item[] = [];
  private running = false;
  readonly stats = emptyGroupStats();

  /** The write-ahead log, fsynced after a group's transaction (null: not in WAL mode, e.g. in memory). */
  private readonly wal: string | null;

  constructor(
    readonly db: Db,
    private readonly blobs: BlobStore,
  ) {
    const walMode = String(db.pragma("journal_mode", { simple: true })).toLowerCase() === "wal";
    this.wal = walMode && !db.raw.memory ? `${db.raw.name}-wal` : null;
  }

  /**
   * Commits `tmp` under `prefix` and runs `write(blob)` (the rows naming it) with the other commits
   * queued meanwhile; resolves with what `write` returned once all is durable. When `write` throws,
   * its rows are rolled back, its blob removed, and the promise rejects with that error.
   */
  commit<T>(tmp: string, prefix: string, write: (blob: string) => T, synced = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ tmp, synced, prefix, write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      // Requests whose bodies completed in the same turn of the event loop join the first group.
      await new Promise<void>((r) => setImmediate(r));
      while (this.queue.length) await this.flush(this.queue.splice(0, MAX_GROUP_ITEMS));
    } finally {
      this.running = false;
    }
  }

  private async flush(group: Item[]): Promise<void> {
    try {
      await this.syncFiles(group);
      const live = group.filter((i) => i.error === undefined);
      const tree = this.blobs.treeId();
      const dirs = this.place(live);
      await Promise.all([...dirs].map((d) => this.blobs.syncDir(d)));
      // A reset or snapshot import may have swapped the blob tree (with our links) away meanwhile:
      // link again into the new one, synchronously, so the rows below never name a missing file.
      if (this.blobs.treeId() !== tree) {
        this.stats.treeSwaps++;
        for (const d of this.place(live)) this.blobs.syncDirNow(d);
      }
      this.writeRows(live);
      // The group's rows are durable once the log is: fsynced on the thread pool, before any answer.
      if (this.wal && live.some((i) => i.error === undefined)) await this.blobs.syncFile(this.wal);
    } catch (err) {
      // The group as a whole failed (e.g. the disk is full at the commit): nothing of it stays.
      for (const i of group) if (i.error === undefined) i.error = err;
    }
    this.settle(group);
  }

  /** fsync of every temp file not synced yet (data and size), a few at a time on the thread pool. */
  private async syncFiles(group: Item[]): Promise<void> {
    const todo = group.filter((i) => !i.synced);
    let next = 0;
    const lane = async () => {
      while (next < todo.length) {
        const item = todo[next++];
        await this.blobs.syncTemp(item.tmp).catch((err: unknown) => {
          item.error = err;
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(FSYNC_LANES, todo.length) }, lane));
  }

  /** Links each file into the tree (one fan-out folder per prefix); returns the folders to fsync. */
  private place(items: Item[]): Set<string> {
    const fanout = new Map<string, string>();
    const dirs = new Set<string>();
    for (const item of items) {
      if (item.error !== undefined) continue;
      if (!fanout.has(item.prefix)) fanout.set(item.prefix, this.blobs.newFanout());
      try {
        item.blob ??= this.blobs.newName(item.prefix, fanout.get(item.prefix));
        for (const d of this.blobs.linkTemp(item.tmp, item.blob)) dirs.add(d);
      } catch (err) {
        item.error = err;
      }
    }
    return dirs;
  }

  /**
   * One transaction; each item's rows in a savepoint, so a throwing item rolls back alone. In WAL
   * mode it commits without its own fsync (synchronous NORMAL, as advisoryWrite does) and the caller
   * fsyncs the log off the event loop before answering: the rows may be read before they are durable,
   * but they only name files that already are, and nobody is told "stored" before the fsync.
   */
  private writeRows(items: Item[]): void {
    if (this.wal) this.db.pragma("synchronous = NORMAL");
    try {
      this.commitRows(items);
    } finally {
      if (this.wal) this.db.pragma("synchronous = FULL");
    }
  }

  private commitRows(items: Item[]): void {
    this.db.transaction(() => {
      for (const item of items) {
        if (item.error !== undefined) continue;
        try {
          item.result = this.db.transaction(() => item.write(item.blob!))();
        } catch (err) {
          item.error = err;
          // SQLite rolled the whole transaction back (e.g. disk full): the group fails as one.
          if (!this.db.inTransaction) throw err;
        }
      }
    })();
  }

  private settle(group: Item[]): void {
    let failed = 0;
    for (const item of group) {
      if (item.error === undefined) continue;
      failed++;
      if (item.blob) this.blobs.remove(item.blob);
    }
    const s = this.stats;
    s.groups++;
    s.items += group.length;
    s.failedItems += failed;
    if (failed > 0 && failed < group.length) s.partialGroups++;
    s.lastGroup = group.length;
    s.largestGroup = Math.max(s.largestGroup, group.length);
    const bucket = bucketOf(group.length);
    s.sizes[bucket] = (s.sizes[bucket] ?? 0) + 1;
    for (const item of group) {
      if (item.error === undefined) item.resolve(item.result);
      else item.reject(item.error);
    }
  }
}
