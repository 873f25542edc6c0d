// What the emulator promised the harness's client: every upload it answered 2xx (file name and
// sha256 in its batch), every job and ingest it accepted; and what may be in the store besides
// (everything sent in the current world). One Ledger lives for a whole run, across emulator
// restarts. A reset or snapshot import that was acknowledged changes the world; one cut off by a
// kill leaves the store in one of two states, resolved by reading the store afterwards.
import crypto from "node:crypto";
import { checkFacts, fileKey, type ExpectedFile, type ExpectedJob, type Expectations, type StoreFacts, type Violation } from "./store-check.js";

export interface World {
  present: Map<string, ExpectedFile>;
  /** key → sha256 of every file that may be in the store in this world. */
  allowed: Map<string, string>;
  jobs: Map<string, ExpectedJob>;
  /** Accepted reference ingests, key ws\0batch\0ingestId. */
  ingests: Set<string>;
}

export interface StoredSnapshot {
  /** The export exactly as received, POSTed back verbatim on import. */
  text: string;
  world: World;
  files: number;
}

/** A batch a job can be started on: all uploads answered; a tar batch is ready once `count` reaches `files`. */
export interface JobInput {
  ws: string;
  batch: string;
  files: number;
  indexedLater: boolean;
}

const emptyWorld = (): World => ({ present: new Map(), allowed: new Map(), jobs: new Map(), ingests: new Set() });
const cloneWorld = (w: World): World => ({
  present: new Map(w.present),
  allowed: new Map(w.allowed),
  jobs: new Map([...w.jobs].map(([k, j]) => [k, { ...j }])),
  ingests: new Set(w.ingests),
});
export const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
const jobKey = (ws: string, jobId: string) => `${ws}\0${jobId}`;

export class Ledger {
  world: World = emptyWorld();
  /** The world an import in flight at a kill would have installed. */
  pendingImport: World | null = null;
  /** Members of every tar shard sent, by shard id (an imported world may still have to index them). */
  readonly shardMembers = new Map<string, ExpectedFile[]>();
  /** Names of every reference ingest sent, by ws\0batch\0ingestId. */
  readonly ingestMembers = new Map<string, ExpectedFile[]>();
  readonly jobInputs: JobInput[] = [];
  /** Jobs the harness aborted, candidates for a later restart. */
  readonly aborted: { ws: string; jobId: string }[] = [];
  snapshots: { first?: StoredSnapshot; last?: StoredSnapshot } = {};
  private counter = 0;

  constructor(readonly workspaces: readonly string[]) {}

  /** A run-wide unique number: names, batches, job ids and image seeds are never reused. */
  nextId(): number {
    return ++this.counter;
  }

  sending(f: Omit<ExpectedFile, "via">): void {
    this.world.allowed.set(fileKey(f.ws, f.batch, f.name), f.sha256);
  }

  acknowledged(f: ExpectedFile): void {
    this.world.present.set(fileKey(f.ws, f.batch, f.name), f);
  }

  shardSending(shardId: string, members: ExpectedFile[]): void {
    this.shardMembers.set(shardId, members);
    for (const m of members) this.sending(m);
  }

  shardAcknowledged(shardId: string): void {
    for (const m of this.shardMembers.get(shardId) ?? []) this.acknowledged(m);
  }

  ingestSending(key: string, members: ExpectedFile[]): void {
    this.ingestMembers.set(key, members);
    for (const m of members) this.sending(m);
  }

  ingestAcknowledged(key: string): void {
    this.world.ingests.add(key);
    for (const m of this.ingestMembers.get(key) ?? []) this.acknowledged(m);
  }

  jobAccepted(ws: string, jobId: string): void {
    this.world.jobs.set(jobKey(ws, jobId), { ws, jobId, mustSucceed: true });
  }

  /** Returns what the job was expected to do before, to restore it when the abort is refused. */
  abortSending(ws: string, jobId: string): boolean | undefined {
    const j = this.world.jobs.get(jobKey(ws, jobId));
    const before = j?.mustSucceed;
    if (j) j.mustSucceed = false;
    return before;
  }

  abortRefused(ws: string, jobId: string, before: boolean | undefined): void {
    const j = this.world.jobs.get(jobKey(ws, jobId));
    if (j && before !== undefined) j.mustSucceed = before;
  }

  restartAcknowledged(ws: string, jobId: string): void {
    const j = this.world.jobs.get(jobKey(ws, jobId));
    if (j) j.mustSucceed = true;
  }

  /**
   * A workspace reset is being sent: its acknowledged files are no longer promised (they may be gone).
   * Returns the keys it removes once acknowledged. Resets run in a sequential lane, so every earlier
   * upload to that workspace has its final outcome by now.
   */
  resetSending(ws: string): string[] {
    const keys = [...this.world.allowed.keys()].filter((k) => k.startsWith(`${ws}\0`));
    for (const k of keys) this.world.present.delete(k);
    for (const [k, j] of this.world.jobs) if (j.ws === ws) this.world.jobs.delete(k);
    for (const k of [...this.world.ingests]) if (k.startsWith(`${ws}\0`)) this.world.ingests.delete(k);
    return keys;
  }

  resetAcknowledged(keys: string[]): void {
    for (const k of keys) this.world.allowed.delete(k);
  }

  importSending(target: StoredSnapshot): void {
    this.pendingImport = cloneWorld(target.world);
  }

  importAcknowledged(): void {
    if (this.pendingImport) this.world = this.pendingImport;
    this.pendingImport = null;
  }

  /** After a kill that cut an import off: the world the store turned out to hold. */
  settleImport(useNew: boolean): void {
    if (useNew && this.pendingImport) this.world = this.pendingImport;
    this.pendingImport = null;
  }

  expectations(world: World = this.world): Expectations {
    return {
      present: [...world.present.values()],
      allowed: world.allowed,
      workspaces: this.workspaces,
      jobs: [...world.jobs.values()],
      ingests: [...world.ingests],
    };
  }

  /**
   * The world a snapshot export holds: its files, plus what its pending shards and ingests will
   * index after an import. Also checks the export against the current promises: an acknowledged
   * upload or job missing from a consistent export, or a files row without its blob, is a violation.
   */
  worldFromSnapshot(text: string): { stored: StoredSnapshot; violations: Violation[] } {
    const snap = JSON.parse(text) as { tables: Record<string, Record<string, any>[]>; blobs: Record<string, string> };
    const facts = factsFromSnapshot(snap);
    const world = emptyWorld();
    const tracked = new Set(this.workspaces);
    for (const f of facts.files) {
      if (!tracked.has(f.ws) || f.origin !== "user" || f.part !== "") continue;
      const e: ExpectedFile = { ws: f.ws, batch: f.batch, name: f.name, sha256: f.sha256, via: { kind: "file" } };
      world.present.set(fileKey(f.ws, f.batch, f.name), e);
      world.allowed.set(fileKey(f.ws, f.batch, f.name), f.sha256);
    }
    const later = (members: ExpectedFile[] | undefined) => {
      for (const m of members ?? []) {
        const k = fileKey(m.ws, m.batch, m.name);
        if (!world.present.has(k)) world.present.set(k, m);
        world.allowed.set(k, m.sha256);
      }
    };
    for (const s of facts.shards) {
      if (!s.pending || !tracked.has(s.ws)) continue;
      later(this.shardMembers.get(s.shardId));
      if (s.ingestId) later(this.ingestMembers.get(fileKey(s.ws, s.batch, s.ingestId)));
    }
    for (const k of facts.ingests) if (this.world.ingests.has(k)) world.ingests.add(k);
    for (const j of facts.jobs) {
      const known = this.world.jobs.get(jobKey(j.ws, j.jobId));
      if (!known) continue;
      world.jobs.set(jobKey(j.ws, j.jobId), { ...known, mustSucceed: j.state === "succeeded" || (!j.terminal && known.mustSucceed) });
    }
    // An export is one consistent moment: it must hold every promise made so far.
    const violations = checkFacts(facts, this.expectations(), { settled: false, strictOrphans: false }).violations.map((x) => ({
      kind: `snapshot-${x.kind}`,
      detail: x.detail,
    }));
    return { stored: { text, world, files: facts.files.length }, violations };
  }
}

/** The rows of a snapshot export seen as a store (blobs checked against the rows' size and sha256). */
export function factsFromSnapshot(snap: { tables: Record<string, Record<string, any>[]>; blobs: Record<string, string> }): StoreFacts {
  const t = (name: string) => snap.tables[name] ?? [];
  const origin = new Map(t("batches").map((b) => [`${b.workspace_id}\0${b.batch_id}`, String(b.origin)]));
  const integrity: Violation[] = [];
  for (const f of t("files")) {
    const b64 = snap.blobs[f.blob];
    const where = `${f.workspace_id}/${f.batch_id}/${f.file_name} (blob ${f.blob})`;
    if (b64 === undefined) integrity.push({ kind: "blob-missing", detail: where });
    else if (sha256(Buffer.from(b64, "base64")) !== f.sha256) integrity.push({ kind: "blob-sha256", detail: where });
  }
  const parse = (s: unknown) => {
    try {
      return typeof s === "string" ? JSON.parse(s) : s;
    } catch {
      return null;
    }
  };
  return {
    files: t("files").map((f) => ({
      ws: f.workspace_id,
      batch: f.batch_id,
      part: f.part_name ?? "",
      name: f.file_name,
      origin: origin.get(`${f.workspace_id}\0${f.batch_id}`) ?? null,
      sha256: f.sha256,
    })),
    shards: t("shards").map((s) => ({
      shardId: s.shard_id,
      ws: s.workspace_id,
      batch: s.batch_id,
      ingestId: s.ingest_id ?? null,
      pending: s.status_type === "info",
    })),
    ingests: new Set(t("ingests").map((i) => fileKey(i.workspace_id, i.batch_id, i.ingest_id))),
    jobs: t("jobs").map((j) => ({
      ws: j.workspace_id,
      jobId: j.job_id,
      state: j.state,
      terminal: Number(j.is_terminal) === 1,
      notificationsURL: parse(j.definition)?.notificationsURL ?? null,
    })),
    webhooks: t("webhooks").map((w) => {
      const p = parse(w.payload);
      return {
        id: w.id,
        ws: w.workspace_id,
        category: w.category,
        subject: w.subject ?? null,
        state: w.state,
        attempts: Number(w.attempts),
        due: w.next_attempt_at ?? null,
        eventId: p?.event_id ?? null,
        jobState: p?.job_state ?? null,
      };
    }),
    integrity,
    orphans: [],
    blobs: Object.keys(snap.blobs).length,
    tmpLeftovers: 0,
    trashLeftovers: 0,
  };
}
