// The background side of ingestion: uploaded tar shards are indexed and reference ingests are
// downloaded after a short delay on the emulator clock (the real service indexes in the
// background too, so counts rise a little after the upload). Work lives in the store, never only
// in memory: on start the worker resumes every shard that is still "info".
import { isStorageFull } from "../../state/storage-full.js";
import type { Core, Emulator, Worker } from "../../context.js";
import { listUnfinishedShards, setShardPayload } from "../../state/ingests.js";
import { BULK_IMAGES, VIDEOS } from "../targets.js";
import { getShard, insertShard, updateShardStatus, type ShardRow } from "../../state/shards.js";
import { MAX_REFERENCES_PER_REQUEST } from "../../contract/staging-uploads.js";
import { finishShard, type FinishOptions, type ShardResult } from "./finish.js";
import { indexTar, refuseNotificationUrl } from "./tar.js";
import { CONTROL_API_LOOP, pointsAtControlApi } from "../../http/self-url.js";
import { DEFAULT_FETCH_LIMITS, fetchReferences, loadReferencesFile, type FetchLimits, type ReferencePayload } from "./references.js";
import { loadReferenceSources, openSession, type ReferenceSources } from "./sources.js";

export const INGEST_WORKER_NAME = "ingest";
/** Emulated time between a shard upload and the start of its indexing. */
export const INDEXING_DELAY_MS = 2_000;
/** Emulated time between a reference/RoboQL ingest request and the start of its downloads. */
export const FETCH_DELAY_MS = 1_000;
/** References per shard of a reference ingest. */
export const REFERENCES_PER_SHARD = 500;
/** Shards processed at once. */
const CONCURRENCY = 2;

export const ROBOQL_NOT_EMULATED =
  "RoboQL ingests are not emulated: the emulator has no RoboQL engine or Roboflow dataset to query, so this ingest stages no files. " +
  "Stage files with upload/image, bulk-upload/image-files or bulk-upload/image-references instead.";

export interface TarShardPayload {
  tarBlob: string;
  size: number;
  sha256: string;
}

export interface RoboqlPayload {
  query: string;
}

/** Pause before a shard that met a full disk is tried again. */
const STORAGE_RETRY_MS = 1000;

export class IngestWorker implements Worker {
  readonly name = INGEST_WORKER_NAME;
  /** Download limits for reference ingests (tests may shorten the timeout). */
  fetchLimits: FetchLimits = { ...DEFAULT_FETCH_LIMITS };
  private readonly timers = new Map<string, number>();
  private readonly ready: string[] = [];
  private readonly active = new Set<string>();
  /** Shards scheduled again while in progress (a tar shard PUT again): run once more, after `delayMs`, when the current run ends. */
  private readonly again = new Map<string, number>();
  private stopped = false;
  /** --url-map and --ca-file, read once at start-up. */
  private readonly sources: ReferenceSources;

  constructor(private readonly emu: Core) {
    this.sources = loadReferenceSources(emu.config);
  }

  start(): void {
    this.stopped = false;
    for (const s of listUnfinishedShards(this.emu.db)) this.schedule(s.shard_id, delayFor(s));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) this.emu.clock.clearTimeout(t);
    this.timers.clear();
    this.ready.length = 0;
    this.again.clear();
  }

  reload(): void {
    this.stop();
    this.start();
  }

  /** Runs the shard's ingestion after `delayMs` of emulated time (no-op if already queued; once more after the current run if in progress). */
  schedule(shardId: string, delayMs: number): void {
    if (this.stopped) return;
    if (this.active.has(shardId)) return void this.again.set(shardId, delayMs);
    if (this.timers.has(shardId) || this.ready.includes(shardId)) return;
    const id = this.emu.clock.setTimeout(() => {
      this.timers.delete(shardId);
      this.ready.push(shardId);
      this.pump();
    }, delayMs);
    this.timers.set(shardId, id);
  }

  /** True when no shard is waiting or in progress. */
  idle(): boolean {
    return this.timers.size === 0 && this.ready.length === 0 && this.active.size === 0;
  }

  private pump(): void {
    while (!this.stopped && this.active.size < CONCURRENCY && this.ready.length) {
      const shardId = this.ready.shift()!;
      this.active.add(shardId);
      void this.run(shardId).finally(() => {
        this.active.delete(shardId);
        const delayMs = this.again.get(shardId);
        if (delayMs !== undefined) {
          this.again.delete(shardId);
          this.schedule(shardId, delayMs);
        }
        this.pump();
      });
    }
  }

  private async run(shardId: string): Promise<void> {
    // The row as this run read it: its outcome only applies while the shard still names the same upload.
    let shard: ShardRow | undefined;
    try {
      shard = getShard(this.emu.db, shardId);
      if (!shard || shard.status_type !== "info") return;
      if (shard.kind === "tar-upload") await this.runTar(shard);
      else if (shard.kind === "references") await this.runReferences(shard);
      else await this.finish(shard, { files: [], failed: [], shardError: { type: "roboql-not-supported", reason: ROBOQL_NOT_EMULATED } });
    } catch (err) {
      if (this.stopped) return;
      if (isStorageFull(err)) {
        // Not the shard's fault: it stays queued ("info") and is tried again once space may be back.
        console.error(`[ingest] shard ${shardId} paused: the disk is full; retrying`);
        // Retried a second later on the emulator clock; under a no-waiting clock in real time too.
        if (this.emu.clock.state().mode === "max") await new Promise((r) => setTimeout(r, STORAGE_RETRY_MS));
        if (!this.stopped) setImmediate(() => this.schedule(shardId, STORAGE_RETRY_MS));
        return;
      }
      console.error(`[ingest] shard ${shardId} failed:`, err);
      try {
        if (shard)
          await this.finish(shard, {
            files: [],
            failed: [],
            shardError: { type: "internal-error", reason: `The emulator failed while ingesting this shard: ${(err as Error)?.message ?? String(err)}` },
          });
      } catch {
        // The store itself is failing; the shard stays "info" and is retried on the next start.
      }
    }
  }

  private optionsFor(shard: ShardRow): FinishOptions {
    if (shard.kind === "tar-upload") {
      const p = JSON.parse(shard.payload ?? "{}") as Partial<TarShardPayload>;
      return { target: BULK_IMAGES, fileShardId: shard.shard_id, ingestStatusPerShard: true, consumedBlob: p.tarBlob, replaceShardFiles: true };
    }
    if (shard.kind === "references" && (JSON.parse(shard.payload ?? "{}") as Partial<ReferencePayload>).kind === "video") {
      return { target: VIDEOS, fileShardId: null, ingestStatusPerShard: false };
    }
    return { target: BULK_IMAGES, fileShardId: shard.shard_id, ingestStatusPerShard: false };
  }

  private async finish(shard: ShardRow, result: ShardResult): Promise<void> {
    if (this.stopped) {
      for (const f of result.files) this.emu.blobs.discard(f.tmp);
      return;
    }
    await finishShard(this.emu, shard.shard_id, result, this.optionsFor(shard));
  }

  private setRunning(shard: ShardRow, name: string): void {
    updateShardStatus(this.emu.db, shard.shard_id, { name, type: "info", at: this.emu.clock.now() });
  }

  private async runTar(shard: ShardRow): Promise<void> {
    const payload = JSON.parse(shard.payload ?? "{}") as Partial<TarShardPayload>;
    if (!payload.tarBlob)
      return await this.finish(shard, {
        files: [],
        failed: [],
        shardError: { type: "upload-missing", reason: "The uploaded archive of this shard is missing." },
      });
    this.setRunning(shard, "indexing");
    // A newer body PUT, a reload (reset, import) or a stop meanwhile: stop reading early. The shard
    // stays "info" and the run queued in `again` (or the next start) indexes it from the start.
    const indexed = await indexTar(this.emu.blobs, payload.tarBlob, () => this.stopped || this.again.has(shard.shard_id));
    if (!indexed) return;
    await this.finish(
      shard,
      refuseNotificationUrl(indexed, (url) => (pointsAtControlApi(url, this.emu) ? CONTROL_API_LOOP : null)),
    );
  }

  private async runReferences(shard: ShardRow): Promise<void> {
    const session = await openSession(this.sources);
    try {
      let payload = JSON.parse(shard.payload ?? "{}") as ReferencePayload;
      const isStopped = () => this.stopped;
      if (!payload.references && payload.referencesURL) {
        this.setRunning(shard, "downloading-references-file");
        const loaded = await loadReferencesFile(payload.referencesURL, session, this.emu.blobs, this.fetchLimits, MAX_REFERENCES_PER_REQUEST);
        if (this.stopped) return;
        if (!loaded.ok) return await this.finish(shard, { files: [], failed: [], shardError: { type: loaded.type, reason: loaded.reason } });
        payload = this.splitReferences(shard, payload, loaded.references, loaded.problems);
      }
      this.setRunning(shard, "downloading");
      const { files, failed } = await fetchReferences(payload.references ?? [], payload.kind, session, this.emu.blobs, this.fetchLimits, isStopped);
      if (this.stopped) return;
      await this.finish(shard, { files, failed: [...(payload.problems ?? []), ...failed], shardError: null });
    } finally {
      await session.close();
    }
  }

  /** Keeps the first chunk of a downloaded references list in this shard and queues one new shard per further chunk. */
  private splitReferences(
    shard: ShardRow,
    payload: ReferencePayload,
    refs: NonNullable<ReferencePayload["references"]>,
    problems: ReferencePayload["problems"],
  ): ReferencePayload {
    const chunks: (typeof refs)[] = [];
    for (let i = 0; i < refs.length; i += REFERENCES_PER_SHARD) chunks.push(refs.slice(i, i + REFERENCES_PER_SHARD));
    if (!chunks.length) chunks.push([]);
    const mine: ReferencePayload = { kind: payload.kind, referencesURL: payload.referencesURL, references: chunks[0], problems };
    const now = this.emu.clock.now();
    const template: Omit<typeof shard, "seq"> & { seq?: number } = { ...shard };
    delete template.seq;
    const created: string[] = [];
    this.emu.db.transaction(() => {
      setShardPayload(this.emu.db, shard.shard_id, mine);
      for (const chunk of chunks.slice(1)) {
        const shardId = this.emu.ids.uuid();
        insertShard(this.emu.db, {
          ...template,
          shard_id: shardId,
          status_name: "queued",
          status_type: "info",
          objects_count: 0,
          status_metadata: null,
          payload: JSON.stringify({ kind: payload.kind, references: chunk } satisfies ReferencePayload),
          created_at: now,
          event_at: now,
        });
        created.push(shardId);
      }
    })();
    for (const id of created) this.schedule(id, 0);
    return mine;
  }
}

function delayFor(s: Pick<ShardRow, "kind">): number {
  return s.kind === "tar-upload" ? INDEXING_DELAY_MS : FETCH_DELAY_MS;
}

/** Asks the worker to process a newly created shard. */
export function scheduleShard(emu: Emulator, shard: Pick<ShardRow, "shard_id" | "kind">): void {
  emu.ingest.schedule(shard.shard_id, delayFor(shard));
}
