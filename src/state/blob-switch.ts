// Replacing the whole blob tree at once (snapshot import), crash-safe: the new blobs are written
// completely into a staging folder beside `blobs/` (every file and folder fsynced), the rows that
// name them are committed together with a "pending switch" marker in settings, and only then the
// folders are swapped by rename. A restart finishes a recorded switch and discards an unrecorded
// staging folder, so after a kill -9 at any point the store is entirely the old world or the new.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { BlobStore } from "./blobs.js";
import type { Db } from "./db.js";
import { deleteSetting, getSetting, setSetting } from "./workspaces.js";

const PENDING_KEY = "pending_blob_switch";
const STAGING_PREFIX = "blobs.staging-";
const TRASH_PREFIX = ".trash-";
/** Files written and fsynced at once while staging. */
const WRITE_CONCURRENCY = 8;

export interface StagedBlobs {
  /** Folder name beside the blob root (what the marker records). */
  name: string;
  count: number;
}

export interface BlobToStage {
  rel: string;
  bytes: () => Buffer;
}

/** Steps of a switch, for the test-only crash seam of the import. */
export type SwitchStep = "after-aside" | "after-switch";

/** Refuses names that would escape the blob root (the staged tree becomes the blob root). */
export function checkBlobName(blobs: BlobStore, rel: string): void {
  blobs.path(rel);
}

/** Writes every blob into a fresh staging folder; resolves once all bytes and folders are on disk. `written(n)` is told after each file. */
export async function stageBlobs(blobs: BlobStore, entries: readonly BlobToStage[], written: (n: number) => void = () => {}): Promise<StagedBlobs> {
  const parent = path.dirname(blobs.root);
  const name = `${STAGING_PREFIX}${crypto.randomUUID().slice(0, 8)}`;
  const dir = path.join(parent, name);
  fs.mkdirSync(dir);
  try {
    const dirs = new Set<string>([dir]);
    for (const e of entries) {
      checkBlobName(blobs, e.rel);
      const d = path.dirname(path.join(dir, e.rel));
      if (!dirs.has(d)) fs.mkdirSync(d, { recursive: true });
      dirs.add(d);
    }
    let next = 0;
    let done = 0;
    const lane = async () => {
      while (next < entries.length) {
        const e = entries[next++];
        const fh = await fs.promises.open(path.join(dir, e.rel), "w");
        try {
          await fh.writeFile(e.bytes());
          await fh.sync();
        } finally {
          await fh.close();
        }
        written(++done);
      }
    };
    await Promise.all(Array.from({ length: WRITE_CONCURRENCY }, lane));
    for (const d of dirs) await fsyncDir(d);
    await fsyncDir(parent);
    return { name, count: entries.length };
  } catch (err) {
    discardStaged(blobs, { name, count: 0 });
    throw err;
  }
}

/** Removes a staging folder that will not be switched in. */
export function discardStaged(blobs: BlobStore, staged: StagedBlobs): void {
  fs.rmSync(path.join(path.dirname(blobs.root), staged.name), { recursive: true, force: true });
}

/** Records the switch; call inside the transaction that writes the rows naming the staged blobs. */
export function recordPendingSwitch(db: Db, staged: StagedBlobs): void {
  setSetting(db, PENDING_KEY, staged.name);
}

/** After the commit: the old tree is moved aside, the staged one takes its place, the marker goes. */
export function completeSwitch(db: Db, blobs: BlobStore, staged: StagedBlobs, step: (s: SwitchStep) => void = () => {}): void {
  swapIn(blobs.root, staged.name, step);
  step("after-switch");
  deleteSetting(db, PENDING_KEY);
  removeTrashLater(path.dirname(blobs.root));
}

/**
 * At start-up, before anything reads blobs: finishes a switch whose rows were committed (the
 * marker names a staging folder that is still there), clears the marker, and removes staging
 * folders no committed import names (a crash before the commit: the old world stays).
 */
export function recoverPendingSwitch(db: Db, blobRoot: string): void {
  const parent = path.dirname(blobRoot);
  const pending = getSetting(db, PENDING_KEY);
  if (pending !== undefined) {
    // Still there: the crash came before the staged tree was renamed in. Gone: it already was.
    if (pending.startsWith(STAGING_PREFIX) && !pending.includes(path.sep) && fs.existsSync(path.join(parent, pending))) swapIn(blobRoot, pending);
    deleteSetting(db, PENDING_KEY);
  }
  for (const e of fs.readdirSync(parent)) {
    if (e.startsWith(STAGING_PREFIX)) fs.rmSync(path.join(parent, e), { recursive: true, force: true });
  }
  fs.mkdirSync(blobRoot, { recursive: true });
  removeTrashLater(parent);
}

/** Moves the blob root aside (when there is one) and renames the staged folder into its place. */
function swapIn(root: string, stagedName: string, step: (s: SwitchStep) => void = () => {}): void {
  const parent = path.dirname(root);
  if (fs.existsSync(root)) fs.renameSync(root, path.join(parent, trashName()));
  step("after-aside");
  fs.renameSync(path.join(parent, stagedName), root);
  fsyncDirSync(parent);
}

const trashName = () => `${TRASH_PREFIX}${process.pid}-${Date.now()}-${crypto.randomUUID().slice(0, 8)}`;

/** Old trees are deleted off the request path (they may hold thousands of files). */
function removeTrashLater(parent: string): void {
  for (const e of fs.readdirSync(parent)) {
    if (e.startsWith(TRASH_PREFIX)) void fs.promises.rm(path.join(parent, e), { recursive: true, force: true }).catch(() => {});
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.promises.open(dir, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the file fsyncs already cover the data.
  }
}

function fsyncDirSync(dir: string): void {
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // As above.
  }
}
