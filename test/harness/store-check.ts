// Checks the data folder of a STOPPED emulator (killed or closed) without any emulator code: the
// SQLite file opened read-only with better-sqlite3, blob files read from disk. Only table and column
// names (src/state/schema.ts and its migrations) are shared knowledge.
//   - every files row's blob exists with its recorded size and sha256 (and a pending tar shard's upload)
//   - no orphan blob: a file under blobs/ named by no files row and no pending shard's tarBlob
//   - no succeeded job has fewer result records (JSONL lines / CSV rows) than images its tasks processed,
//     and every finished job that has a notificationsURL has its terminal notification stored
//   - every webhook row is delivered, failed after MAX_ATTEMPTS, or pending with a due time
//   - what the client was promised (Expectations) is there, and nothing it was not
import Database from "better-sqlite3";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** MAX_DELIVERY_ATTEMPTS of the webhook sender (the published retry policy: 5 attempts). */
export const MAX_WEBHOOK_ATTEMPTS = 5;

/** How an acknowledged file reaches the files table: at once, or when its shard / ingest is indexed. */
export type Via = { kind: "file" } | { kind: "shard"; shardId: string } | { kind: "ingest"; ingestId: string };

export interface ExpectedFile {
  ws: string;
  batch: string;
  name: string;
  sha256: string;
  via: Via;
}

export interface ExpectedJob {
  ws: string;
  jobId: string;
  /** Not aborted by the client (or restarted since): must end succeeded once everything settled. */
  mustSucceed: boolean;
}

export interface Expectations {
  /** Acknowledged and not removed by an acknowledged reset or import: must be there. */
  present: ExpectedFile[];
  /** Files that may be there (key ws\0batch\0name → sha256); any other file of a user batch of `workspaces` is a violation. */
  allowed: ReadonlyMap<string, string>;
  workspaces: readonly string[];
  jobs: ExpectedJob[];
  /** Acknowledged reference ingests (key ws\0batch\0ingestId): their ingests row must be stored. */
  ingests: readonly string[];
}

export interface CheckOptions {
  /** Everything had time to finish: acknowledged shards and ingests must be indexed, accepted jobs terminal. */
  settled: boolean;
  /** Orphan blobs and leftover .trash-* folders are violations (after a start that swept them), or only counted (right after a kill). */
  strictOrphans: boolean;
  /** event_ids the receiver answered 2xx: a row marked delivered outside this set was never delivered. */
  acceptedEvents?: ReadonlySet<string>;
}

export interface Violation {
  kind: string;
  detail: string;
}

export interface StoreCounts {
  files: number;
  blobs: number;
  orphanBlobs: number;
  shardsPending: number;
  jobs: number;
  jobsActive: number;
  jobsSucceeded: number;
  resultRecords: number;
  notifications: { delivered: number; pending: number; failed: number };
  tmpLeftovers: number;
  trashLeftovers: number;
}

export interface StoreReport {
  counts: StoreCounts;
  violations: Violation[];
}

export const fileKey = (ws: string, batch: string, name: string) => `${ws}\0${batch}\0${name}`;

interface FileFact {
  ws: string;
  batch: string;
  part: string;
  name: string;
  origin: string | null;
  sha256: string;
}
interface ShardFact {
  shardId: string;
  ws: string;
  batch: string;
  ingestId: string | null;
  pending: boolean;
}
interface JobFact {
  ws: string;
  jobId: string;
  state: string;
  terminal: boolean;
  notificationsURL: string | null;
  /** Succeeded jobs only: images processed by the processing tasks and records in their results files. */
  processed?: number;
  records?: number;
  perTask?: string[];
}
interface WebhookFact {
  id: string;
  ws: string;
  category: string;
  subject: string | null;
  state: string;
  attempts: number;
  due: number | null;
  eventId: string | null;
  jobState: string | null;
}

/** What one read of a stopped store found; expectations are checked against it (possibly twice). */
export interface StoreFacts {
  files: FileFact[];
  shards: ShardFact[];
  ingests: Set<string>;
  jobs: JobFact[];
  webhooks: WebhookFact[];
  integrity: Violation[];
  orphans: string[];
  blobs: number;
  tmpLeftovers: number;
  trashLeftovers: number;
}

const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

function listBlobs(root: string, rel = ""): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? listBlobs(root, r) : e.isFile() ? [r] : [];
  });
}

function readBlob(root: string, rel: string): Buffer | null {
  try {
    return fs.readFileSync(path.join(root, rel));
  } catch {
    return null;
  }
}

/** Records of a results file: JSONL lines, or CSV records (RFC 4180, quotes may hold line breaks) minus the header. */
export function countRecords(bytes: Buffer, name: string): number {
  const text = bytes.toString("utf8");
  if (!name.endsWith(".csv")) return text.split("\n").filter((l) => l.trim()).length;
  let records = 0;
  let quoted = false;
  let empty = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === "\n" || ch === "\r")) {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      if (!empty) records++;
      empty = true;
    } else empty = false;
  }
  if (!empty) records++;
  return Math.max(0, records - 1);
}

function parseJson(text: string | null): any {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The blob folder the next start will use. A snapshot import records its staging folder in settings
 * (pending_blob_switch) in the same commit as its rows, then swaps the folders; a kill between the
 * two leaves the new rows beside the old folder, and the next start swaps the staged folder in
 * before anything reads a blob. The promise is about what a restart sees, so that folder is read.
 */
function blobRootOf(db: Database.Database, dataDir: string): string {
  const pending = (db.prepare("SELECT value FROM settings WHERE key = 'pending_blob_switch'").get() as { value: string } | undefined)?.value;
  const staged = pending && !pending.includes("/") ? path.join(dataDir, pending) : null;
  return staged && fs.existsSync(staged) ? staged : path.join(dataDir, "blobs");
}

/** Reads everything the checks need from a stopped emulator's data folder, as its next start will see it. */
export function readStore(dataDir: string): StoreFacts {
  const db = new Database(path.join(dataDir, "emulator.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const blobRoot = blobRootOf(db, dataDir);
    const integrity: Violation[] = [];
    const named = new Set<string>();
    const rows = db
      .prepare(
        `SELECT f.workspace_id AS ws, f.batch_id AS batch, f.part_name AS part, f.file_name AS name, f.blob, f.size, f.sha256, b.origin
           FROM files f LEFT JOIN batches b ON b.workspace_id = f.workspace_id AND b.batch_id = f.batch_id`,
      )
      .all() as (FileFact & { blob: string; size: number })[];
    const bytesOf = new Map<string, Buffer | null>();
    for (const r of rows) {
      named.add(r.blob);
      const bytes = readBlob(blobRoot, r.blob);
      bytesOf.set(r.blob, bytes);
      const where = `${r.ws}/${r.batch}/${r.part ? `${r.part}/` : ""}${r.name} (blob ${r.blob})`;
      if (!bytes) integrity.push({ kind: "blob-missing", detail: where });
      else if (bytes.length !== r.size) integrity.push({ kind: "blob-size", detail: `${where}: ${bytes.length} bytes on disk, ${r.size} recorded` });
      else if (sha256(bytes) !== r.sha256) integrity.push({ kind: "blob-sha256", detail: `${where}: content differs from the recorded sha256` });
    }

    const shardRows = db.prepare("SELECT shard_id, workspace_id, batch_id, ingest_id, kind, status_type, payload FROM shards").all() as {
      shard_id: string;
      workspace_id: string;
      batch_id: string;
      ingest_id: string | null;
      kind: string;
      status_type: string;
      payload: string | null;
    }[];
    const shards: ShardFact[] = [];
    for (const s of shardRows) {
      const pending = s.status_type === "info";
      shards.push({ shardId: s.shard_id, ws: s.workspace_id, batch: s.batch_id, ingestId: s.ingest_id, pending });
      const p = parseJson(s.payload);
      if (!pending || typeof p?.tarBlob !== "string") continue;
      // A pending tar shard is an acknowledged upload waiting to be indexed: its archive must be whole.
      named.add(p.tarBlob);
      const bytes = readBlob(blobRoot, p.tarBlob);
      const where = `shard ${s.shard_id} of ${s.workspace_id}/${s.batch_id} (blob ${p.tarBlob})`;
      if (!bytes) integrity.push({ kind: "shard-upload-missing", detail: where });
      else if ((typeof p.size === "number" && bytes.length !== p.size) || (typeof p.sha256 === "string" && sha256(bytes) !== p.sha256)) {
        integrity.push({ kind: "shard-upload-corrupt", detail: `${where}: ${bytes.length} bytes, differs from the recorded size/sha256` });
      }
    }

    const ingests = new Set(
      (db.prepare("SELECT workspace_id, batch_id, ingest_id FROM ingests").all() as { workspace_id: string; batch_id: string; ingest_id: string }[]).map((r) =>
        fileKey(r.workspace_id, r.batch_id, r.ingest_id),
      ),
    );
    const jobs = readJobs(db, blobRoot, bytesOf);
    const webhooks = (
      db.prepare("SELECT id, workspace_id, category, subject, state, attempts, next_attempt_at, payload FROM webhooks").all() as {
        id: string;
        workspace_id: string;
        category: string;
        subject: string | null;
        state: string;
        attempts: number;
        next_attempt_at: number | null;
        payload: string;
      }[]
    ).map((w) => {
      const p = parseJson(w.payload);
      return {
        id: w.id,
        ws: w.workspace_id,
        category: w.category,
        subject: w.subject,
        state: w.state,
        attempts: w.attempts,
        due: w.next_attempt_at,
        eventId: p?.event_id ?? null,
        jobState: p?.job_state ?? null,
      };
    });

    const onDisk = listBlobs(blobRoot);
    const entries = (dir: string) => {
      try {
        return fs.readdirSync(dir);
      } catch {
        return [];
      }
    };
    return {
      files: rows.map(({ ws, batch, part, name, origin, sha256: sha }) => ({ ws, batch, part, name, origin, sha256: sha })),
      shards,
      ingests,
      jobs,
      webhooks,
      integrity,
      orphans: onDisk.filter((rel) => !named.has(rel)),
      blobs: onDisk.length,
      tmpLeftovers: entries(path.join(dataDir, "tmp")).length,
      trashLeftovers: entries(dataDir).filter((e) => e.startsWith(".trash-") || e.startsWith("blobs.staging-")).length,
    };
  } finally {
    db.close();
  }
}

function readJobs(db: Database.Database, blobRoot: string, bytesOf: Map<string, Buffer | null>): JobFact[] {
  const jobs = db.prepare("SELECT workspace_id, job_id, state, is_terminal, definition FROM jobs").all() as {
    workspace_id: string;
    job_id: string;
    state: string;
    is_terminal: number;
    definition: string;
  }[];
  const stageOf = db.prepare("SELECT stage_id, output_batches FROM job_stages WHERE workspace_id = ? AND job_id = ? AND stage_name = 'processing'");
  const tasksOf = db.prepare("SELECT task_index, state, items_done FROM job_tasks WHERE workspace_id = ? AND job_id = ? AND stage_id = ? ORDER BY task_index");
  const resultsOf = db.prepare("SELECT file_name, blob FROM files WHERE workspace_id = ? AND batch_id = ? AND part_name = 'results'");
  return jobs.map((j) => {
    const def = parseJson(j.definition);
    const fact: JobFact = {
      ws: j.workspace_id,
      jobId: j.job_id,
      state: j.state,
      terminal: j.is_terminal === 1,
      notificationsURL: typeof def?.notificationsURL === "string" ? def.notificationsURL : null,
    };
    if (j.state !== "succeeded" || !String(def?.type ?? "").startsWith("simple-")) return fact;
    const stage = stageOf.get(j.workspace_id, j.job_id) as { stage_id: string; output_batches: string } | undefined;
    const tasks = stage ? (tasksOf.all(j.workspace_id, j.job_id, stage.stage_id) as { task_index: number; state: string; items_done: number }[]) : [];
    const recordsByFile = new Map<string, number>();
    for (const batch of (parseJson(stage?.output_batches ?? null) ?? []) as string[]) {
      for (const f of resultsOf.all(j.workspace_id, batch) as { file_name: string; blob: string }[]) {
        const bytes = bytesOf.has(f.blob) ? bytesOf.get(f.blob)! : readBlob(blobRoot, f.blob);
        recordsByFile.set(f.file_name, bytes ? countRecords(bytes, f.file_name) : 0);
      }
    }
    const format = def?.processingSpecification?.aggregationFormat === "csv" ? "csv" : "jsonl";
    fact.processed = tasks.reduce((n, t) => n + t.items_done, 0);
    fact.records = [...recordsByFile.values()].reduce((n, r) => n + r, 0);
    fact.perTask = tasks.flatMap((t) => {
      const name = `results-${String(t.task_index).padStart(5, "0")}.${format}`;
      const records = recordsByFile.get(name) ?? 0;
      return records < t.items_done ? [`task ${t.task_index} (${t.state}): ${records} record(s) in ${name} for ${t.items_done} image(s)`] : [];
    });
    return fact;
  });
}

function covered(e: ExpectedFile, facts: StoreFacts, settled: boolean): boolean {
  if (settled || e.via.kind === "file") return false;
  const via = e.via;
  // Acknowledged but not yet indexed: its shard (or a shard of its ingest) is still waiting.
  if (via.kind === "shard") return facts.shards.some((s) => s.shardId === via.shardId && s.pending);
  return facts.shards.some((s) => s.ws === e.ws && s.batch === e.batch && s.ingestId === via.ingestId && s.pending);
}

/** Checks the facts of one store against the promises made to the client. */
export function checkFacts(facts: StoreFacts, exp: Expectations | null, opts: CheckOptions): StoreReport {
  const v: Violation[] = [...facts.integrity];
  if (opts.strictOrphans) {
    for (const rel of facts.orphans) v.push({ kind: "orphan-blob", detail: `blobs/${rel} is named by no files row and no pending shard` });
    // Blob trees set aside (.trash-*) or staged (blobs.staging-*) by a reset or import: one that a start does not remove is leaked for good.
    if (facts.trashLeftovers)
      v.push({ kind: "trash-leftover", detail: `${facts.trashLeftovers} .trash-* / blobs.staging-* folder(s) of blobs left in the data folder` });
  }

  const jobNotified = new Set(facts.webhooks.filter((w) => w.category === "job").map((w) => `${w.ws}\0${w.subject}\0${w.jobState}`));
  for (const j of facts.jobs) {
    if (j.state === "succeeded" && j.processed !== undefined && (j.records ?? 0) < j.processed) {
      v.push({
        kind: "job-results-short",
        detail: `${j.ws}/${j.jobId} succeeded with ${j.records} result record(s) for ${j.processed} processed image(s)${j.perTask?.length ? `: ${j.perTask.join("; ")}` : ""}`,
      });
    }
    const expected = j.state === "succeeded" ? "success" : "fail";
    if (j.terminal && j.notificationsURL && !jobNotified.has(`${j.ws}\0${j.jobId}\0${expected}`)) {
      v.push({ kind: "job-notification-missing", detail: `${j.ws}/${j.jobId} ended ${j.state} but no "${expected}" job notification is stored` });
    }
  }

  const notifications = { delivered: 0, pending: 0, failed: 0 };
  for (const w of facts.webhooks) {
    const what = `${w.category} notification ${w.id} (${w.ws}${w.subject ? `, ${w.subject}` : ""}, ${w.attempts} attempt(s))`;
    if (w.state === "delivered") {
      notifications.delivered++;
      if (opts.acceptedEvents && (!w.eventId || !opts.acceptedEvents.has(w.eventId)))
        v.push({ kind: "webhook-phantom", detail: `${what} is marked delivered but the receiver never accepted event ${w.eventId}` });
    } else if (w.state === "failed") {
      notifications.failed++;
      if (w.attempts < MAX_WEBHOOK_ATTEMPTS) v.push({ kind: "webhook-failed-early", detail: `${what} failed before its ${MAX_WEBHOOK_ATTEMPTS} attempts` });
    } else if (w.state === "pending") {
      notifications.pending++;
      if (w.due === null) v.push({ kind: "webhook-lost", detail: `${what} is pending with no due time: it will never be sent` });
    } else v.push({ kind: "webhook-state", detail: `${what} has unknown state ${w.state}` });
  }

  if (exp) checkExpectations(facts, exp, opts, v);
  const active = facts.jobs.filter((j) => !j.terminal).length;
  return {
    counts: {
      files: facts.files.length,
      blobs: facts.blobs,
      orphanBlobs: facts.orphans.length,
      shardsPending: facts.shards.filter((s) => s.pending).length,
      jobs: facts.jobs.length,
      jobsActive: active,
      jobsSucceeded: facts.jobs.filter((j) => j.state === "succeeded").length,
      resultRecords: facts.jobs.reduce((n, j) => n + (j.records ?? 0), 0),
      notifications,
      tmpLeftovers: facts.tmpLeftovers,
      trashLeftovers: facts.trashLeftovers,
    },
    violations: v,
  };
}

function checkExpectations(facts: StoreFacts, exp: Expectations, opts: CheckOptions, v: Violation[]): void {
  const stored = new Map(facts.files.filter((f) => f.part === "").map((f) => [fileKey(f.ws, f.batch, f.name), f]));
  for (const e of exp.present) {
    const f = stored.get(fileKey(e.ws, e.batch, e.name));
    const where = `${e.ws}/${e.batch}/${e.name} (acknowledged, via ${e.via.kind}${e.via.kind === "shard" ? ` ${e.via.shardId}` : e.via.kind === "ingest" ? ` ${e.via.ingestId}` : ""})`;
    if (!f) {
      if (!covered(e, facts, opts.settled)) v.push({ kind: "ack-missing", detail: `${where} is not in the store` });
    } else if (f.sha256 !== e.sha256) v.push({ kind: "ack-content", detail: `${where} has sha256 ${f.sha256}, expected ${e.sha256}` });
  }
  const tracked = new Set(exp.workspaces);
  for (const f of facts.files) {
    if (!tracked.has(f.ws) || f.origin !== "user") continue;
    const allowed = exp.allowed.get(fileKey(f.ws, f.batch, f.name));
    if (allowed === undefined)
      v.push({ kind: "unexpected-file", detail: `${f.ws}/${f.batch}/${f.name} was never sent in this world (or an acknowledged reset/import removed it)` });
    else if (allowed !== f.sha256)
      v.push({ kind: "unexpected-content", detail: `${f.ws}/${f.batch}/${f.name} has sha256 ${f.sha256}, but ${allowed} was sent` });
  }
  for (const key of exp.ingests)
    if (!facts.ingests.has(key)) v.push({ kind: "ingest-missing", detail: `accepted ingest ${key.replace(/\0/g, "/")} is not in the store` });
  const jobs = new Map(facts.jobs.map((j) => [`${j.ws}\0${j.jobId}`, j]));
  for (const e of exp.jobs) {
    const j = jobs.get(`${e.ws}\0${e.jobId}`);
    if (!j) v.push({ kind: "job-missing", detail: `accepted job ${e.ws}/${e.jobId} is not in the store` });
    else if (opts.settled && !j.terminal) v.push({ kind: "job-not-terminal", detail: `${e.ws}/${e.jobId} is still ${j.state} after the settle phase` });
    else if (opts.settled && e.mustSucceed && j.state !== "succeeded")
      v.push({ kind: "job-not-succeeded", detail: `${e.ws}/${e.jobId} ended ${j.state}; it was never aborted and its inputs are valid` });
  }
}

/** readStore + checkFacts in one call. */
export function checkStore(dataDir: string, exp: Expectations | null, opts: CheckOptions): StoreReport {
  return checkFacts(readStore(dataDir), exp, opts);
}

/** Groups violations by kind with a few examples each (for failure messages and the summary). */
export function summarizeViolations(violations: Violation[], examples = 3): string {
  const byKind = new Map<string, string[]>();
  for (const x of violations) byKind.set(x.kind, [...(byKind.get(x.kind) ?? []), x.detail]);
  return [...byKind].map(([k, d]) => `${k} x${d.length}: ${d.slice(0, examples).join(" | ")}`).join("\n");
}
