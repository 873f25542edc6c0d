// A mixed, seeded workload against one running emulator, over HTTP only (undici), that can be cut
// off at any moment by a kill: single-image uploads, tar shards and videos through signed PUTs,
// image-reference ingests from a loopback file server, image jobs (jsonl and csv) on finished
// batches with aborts and restarts, webhooks to a flaky receiver, resets of a scratch workspace,
// and (only in dedicated cycles, as an import replaces the whole world) snapshot export + import.
// Every 2xx answer is written to the Ledger with what it promised.
import { request } from "undici";
import { mp4, multipart, png, tar, type LoopbackServer, type TarMember } from "../helpers/fixtures.js";
import type { Ledger } from "./ledger.js";
import { sha256 } from "./ledger.js";
import type { Rng } from "./random.js";
import { fileKey, type ExpectedFile, type Violation } from "./store-check.js";

export interface Account {
  ws: string;
  key: string;
}

export interface WorkloadDeps {
  baseUrl: string;
  tracked: Account;
  scratch: Account;
  /** Serves the referenced images (pngUrl). */
  files: LoopbackServer;
  /** Receives the webhooks (a share of them failed, see the harness test). */
  hooks: { url: string };
  ledger: Ledger;
  rng: Rng;
  /** Findings of the workload itself (an export that breaks a promise, a refused import). */
  violations: Violation[];
}

export type CycleMode = "mixed" | "snapshot";
export const OP_KINDS = ["upload", "shardPut", "videoPut", "refIngest", "jobStart", "abort", "restart", "reset", "export", "import"] as const;
export type OpKind = (typeof OP_KINDS)[number];
export type OpCounts = Record<OpKind, number>;

export interface RunningWorkload {
  /** Requests sent and not yet answered, by kind (what a kill right now would cut off). */
  inFlight(): OpCounts;
  /** Requests answered 2xx so far, by kind. */
  acknowledged(): OpCounts;
  /** Asks every lane to stop after its current request and waits for them. */
  stop(): Promise<void>;
}

/** Largest snapshot re-imported: the control API takes JSON bodies up to 32 MiB. */
const MAX_IMPORT_BYTES = 24 * 1024 * 1024;

export class HttpAnswer {
  constructor(
    readonly status: number,
    readonly text: string,
  ) {}
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  json(): any {
    try {
      return JSON.parse(this.text);
    } catch {
      return undefined;
    }
  }
}

/** One HTTP exchange with undici (no retries: a retried POST could be acknowledged twice). */
export async function send(url: string, method: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const res = await request(url, { method: method as "GET", body, headers, headersTimeout: 30_000, bodyTimeout: 30_000 });
  return new HttpAnswer(res.statusCode, await res.body.text());
}

const counts = (): OpCounts => Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as OpCounts;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Shared by the lanes of one cycle: where to send, the ledger, the stop flag and the op counters. */
class Cx {
  stopped = false;
  readonly inFlight = counts();
  readonly acked = counts();

  constructor(readonly deps: WorkloadDeps) {}

  get ledger(): Ledger {
    return this.deps.ledger;
  }

  staging(a: Account, batch: string, rest: string, query: Record<string, string> = {}): string {
    const q = new URLSearchParams({ api_key: a.key, ...query });
    return `${this.deps.baseUrl}/data-staging/v1/external/${a.ws}/batches/${batch}/${rest}?${q}`;
  }

  jobs(a: Account, jobId: string, rest = ""): string {
    return `${this.deps.baseUrl}/batch-processing/v1/external/${a.ws}/jobs/${jobId}${rest}?api_key=${a.key}`;
  }

  /** Runs one client operation; null when the request failed without an answer (killed, refused). */
  async op(kind: OpKind, fn: () => Promise<HttpAnswer>): Promise<HttpAnswer | null> {
    this.inFlight[kind]++;
    try {
      const answer = await fn();
      if (answer.ok) this.acked[kind]++;
      return answer;
    } catch {
      return null;
    } finally {
      this.inFlight[kind]--;
    }
  }
}

/** One image as the official client uploads it: a single part named after the file. */
export function multipartImage(name: string, data: Buffer): { body: Buffer; contentType: string } {
  return multipart([{ field: name, filename: name, contentType: "image/png", data }]);
}

/** The URL of png(seed) on the loopback file server (served from the first ask on). */
function pngUrl(files: LoopbackServer, seed: number): string {
  files.serve(`/png/${seed}`, png(seed), { headers: { "content-type": "image/png" } });
  return `${files.url}/png/${seed}`;
}

async function uploadImage(cx: Cx, a: Account, batch: string): Promise<boolean> {
  const id = cx.ledger.nextId();
  const name = `i${id}.png`;
  const data = png(id);
  const f: ExpectedFile = { ws: a.ws, batch, name, sha256: sha256(data), via: { kind: "file" } };
  cx.ledger.sending(f);
  const m = multipartImage(name, data);
  const r = await cx.op("upload", () => send(cx.staging(a, batch, "upload/image", { fileName: name }), "POST", m.body, { "content-type": m.contentType }));
  if (!r?.ok) return false;
  cx.ledger.acknowledged(f);
  return true;
}

/** Single-image batches of 6-24 (sometimes 65-140) images, three uploads at a time. */
async function imagesLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.tracked;
  while (!cx.stopped) {
    const batch = `img-${cx.ledger.nextId()}`;
    // Mostly small batches (one processing slice); now and then one whose task takes several slices.
    const n = rng.chance(0.15) ? rng.int(65, 140) : rng.int(6, 24);
    let acked = 0;
    for (let i = 0; i < n && !cx.stopped; i += 3) {
      const oks = await Promise.all(Array.from({ length: Math.min(3, n - i) }, () => uploadImage(cx, a, batch)));
      acked += oks.filter(Boolean).length;
    }
    if (acked > 0) cx.ledger.jobInputs.push({ ws: a.ws, batch, files: acked, indexedLater: false });
  }
}

/** Signed slot, then the PUT with the extension headers: how the official client sends tar shards and videos. */
async function signedPut(cx: Cx, kind: "shardPut" | "videoPut", slotUrl: string, body: Buffer, before: (details: any) => void): Promise<boolean> {
  return (
    (
      await cx.op(kind, async () => {
        const slot = await send(slotUrl, "POST");
        if (!slot.ok) return slot;
        const d = slot.json().signedURLDetails;
        before(d);
        return send(d.uploadURL, "PUT", body, d.extensionHeaders ?? {});
      })
    )?.ok ?? false
  );
}

/** Tar shards of 16-120 (sometimes up to 400) images, some carrying notification_config.json, one batch per shard. */
async function shardsLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.tracked;
  while (!cx.stopped) {
    // Paced so indexing (two shards at a time, restarted by every kill) keeps up and their batches become job inputs.
    await sleep(rng.int(50, 400));
    const batch = `tar-${cx.ledger.nextId()}`;
    const ids = Array.from({ length: rng.chance(0.15) ? rng.int(161, 400) : rng.int(16, 120) }, () => cx.ledger.nextId());
    const members: TarMember[] = ids.map((id) => ({ name: `t${id}.png`, data: png(id) }));
    if (rng.chance(0.5)) {
      members.push({
        name: "notification_config.json",
        data: Buffer.from(
          JSON.stringify({ ingestId: `tar-${ids[0]}`, notificationsURL: cx.deps.hooks.url, notificationCategories: ["ingest-status", "files-status"] }),
        ),
      });
    }
    let shardId = "";
    const ok = await signedPut(cx, "shardPut", cx.staging(a, batch, "bulk-upload/image-files"), tar(members), (d) => {
      shardId = d.shardId;
      const expected = ids.map((id) => ({ ws: a.ws, batch, name: `t${id}.png`, sha256: sha256(png(id)), via: { kind: "shard" as const, shardId } }));
      cx.ledger.shardSending(shardId, expected);
    });
    if (!ok) continue;
    cx.ledger.shardAcknowledged(shardId);
    cx.ledger.jobInputs.push({ ws: a.ws, batch, files: ids.length, indexedLater: true });
  }
}

/** A few videos now and then (signed PUT of a small MP4). */
async function videosLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.tracked;
  while (!cx.stopped) {
    await sleep(rng.int(20, 200));
    const id = cx.ledger.nextId();
    const batch = `vid-${id}`;
    const name = `v${id}.mp4`;
    const data = mp4(id);
    const f: ExpectedFile = { ws: a.ws, batch, name, sha256: sha256(data), via: { kind: "file" } };
    cx.ledger.sending(f);
    if (await signedPut(cx, "videoPut", cx.staging(a, batch, "upload/video", { fileName: name }), data, () => undefined)) cx.ledger.acknowledged(f);
  }
}

/** Image-reference ingests of 3-16 images served by the loopback file server, with webhooks. */
async function referencesLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.tracked;
  while (!cx.stopped) {
    await sleep(rng.int(10, 120));
    const id = cx.ledger.nextId();
    const batch = `ref-${id}`;
    const ingestId = `ing-${id}`;
    const seeds = Array.from({ length: rng.int(3, 16) }, () => cx.ledger.nextId());
    const key = fileKey(a.ws, batch, ingestId);
    cx.ledger.ingestSending(
      key,
      seeds.map((s) => ({ ws: a.ws, batch, name: `r${s}.png`, sha256: sha256(png(s)), via: { kind: "ingest", ingestId } })),
    );
    const body = JSON.stringify({
      imageReferences: seeds.map((s) => ({ name: `r${s}.png`, url: pngUrl(cx.deps.files, s) })),
      ingestId,
      notificationsURL: cx.deps.hooks.url,
      notificationCategories: ["ingest-status", "files-status"],
    });
    const r = await cx.op("refIngest", () => send(cx.staging(a, batch, "bulk-upload/image-references"), "POST", body, { "content-type": "application/json" }));
    if (!r?.ok) continue;
    cx.ledger.ingestAcknowledged(key);
    cx.ledger.jobInputs.push({ ws: a.ws, batch, files: seeds.length, indexedLater: true });
  }
}

function imageJob(a: Account, batchId: string, rng: Rng, notificationsURL: string): string {
  return JSON.stringify({
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId },
    computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu", workersPerMachine: rng.int(1, 4) },
    maxParallelTasks: rng.int(1, 4),
    processingTimeoutSeconds: 36_000,
    notificationsURL,
    processingSpecification: {
      type: "workflows-processing-specification-v1",
      workspace: a.ws,
      workflowId: "crash-wf",
      aggregationFormat: rng.pick(["jsonl", "csv"] as const),
    },
  });
}

async function startJob(cx: Cx, a: Account, jobId: string, batch: string, rng: Rng): Promise<boolean> {
  const r = await cx.op("jobStart", () => send(cx.jobs(a, jobId), "POST", imageJob(a, batch, rng, cx.deps.hooks.url), { "content-type": "application/json" }));
  return r?.ok ?? false;
}

/** A finished input batch: uploads answered, and for shards and ingests every file indexed. */
async function readyInput(cx: Cx, rng: Rng) {
  const list = cx.ledger.jobInputs;
  let polls = 0;
  // Larger inputs first: tasks of more than one 64-image slice keep a partial results file between steps.
  for (const input of rng.shuffle(list).sort((x, y) => Number(y.files > 64) - Number(x.files > 64))) {
    if (input.indexedLater) {
      if (polls++ >= 3) continue;
      const r = await send(cx.staging(cx.deps.tracked, input.batch, "count"), "GET").catch(() => null);
      if (r?.status === 404)
        input.indexedLater = false; // gone with an imported world: the start will say so
      else if ((r?.json()?.count ?? -1) < input.files) continue;
    }
    list.splice(list.indexOf(input), 1);
    return input;
  }
  return undefined;
}

/** Jobs (sometimes a pair whose ids share a prefix) on finished batches; some aborted, aborted ones restarted later. */
async function jobsLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.tracked;
  while (!cx.stopped) {
    const input = await readyInput(cx, rng);
    if (!input) {
      await sleep(40);
    } else {
      const base = `j${cx.ledger.nextId()}`;
      const ids = rng.chance(0.35) ? [base, `${base}-b`] : [base];
      const started = await Promise.all(ids.map((id) => startJob(cx, a, id, input.batch, rng)));
      ids.forEach((id, i) => started[i] && cx.ledger.jobAccepted(a.ws, id));
      const live = ids.filter((_, i) => started[i]);
      if (live.length && rng.chance(0.35)) {
        await sleep(rng.int(0, 600));
        // Mostly the shorter id: aborting "jN" must leave the half-written results of "jN-b" alone.
        const victim = live.includes(base) && rng.chance(0.7) ? base : rng.pick(live);
        const before = cx.ledger.abortSending(a.ws, victim);
        const r = await cx.op("abort", () => send(cx.jobs(a, victim, "/abort"), "POST"));
        if (r?.ok) cx.ledger.aborted.push({ ws: a.ws, jobId: victim });
        else if (r) cx.ledger.abortRefused(a.ws, victim, before);
      }
    }
    if (cx.ledger.aborted.length && rng.chance(0.3)) {
      const [job] = cx.ledger.aborted.splice(rng.int(0, cx.ledger.aborted.length - 1), 1);
      const r = await cx.op("restart", () => send(cx.jobs(a, job.jobId, "/restart"), "POST"));
      if (r?.ok) cx.ledger.restartAcknowledged(job.ws, job.jobId);
    }
  }
}

/** Sequential: a few uploads (and maybe a job) in the scratch workspace, then a reset of that workspace. */
async function scratchLane(cx: Cx, rng: Rng): Promise<void> {
  const a = cx.deps.scratch;
  while (!cx.stopped) {
    const batch = `s-${cx.ledger.nextId()}`;
    const n = rng.int(2, 8);
    let acked = 0;
    for (let i = 0; i < n && !cx.stopped; i++) if (await uploadImage(cx, a, batch)) acked++;
    if (acked && rng.chance(0.5)) await startJob(cx, a, `s${cx.ledger.nextId()}`, batch, rng);
    await sleep(rng.int(0, 150));
    if (cx.stopped || !rng.chance(0.7)) continue;
    const keys = cx.ledger.resetSending(a.ws);
    const r = await cx.op("reset", () =>
      send(`${cx.deps.baseUrl}/_emulator/reset`, "POST", JSON.stringify({ workspace: a.ws }), { "content-type": "application/json" }),
    );
    if (r?.ok) cx.ledger.resetAcknowledged(keys);
  }
}

/**
 * Dedicated cycles: export the world, then import an earlier export (the previous one, else the
 * first), so an import really changes the world; again until the kill. Each export is checked
 * against the ledger.
 */
async function snapshotLane(cx: Cx): Promise<void> {
  const { ledger } = cx;
  for (let round = 0; round < 20 && !cx.stopped; round++) {
    const exported = await cx.op("export", () => send(`${cx.deps.baseUrl}/_emulator/snapshot`, "GET"));
    if (!exported?.ok) return;
    const { stored, violations } = ledger.worldFromSnapshot(exported.text);
    cx.deps.violations.push(...violations);
    const fits = (s?: { text: string }) => s !== undefined && Buffer.byteLength(s.text) <= MAX_IMPORT_BYTES;
    const target = fits(ledger.snapshots.last)
      ? ledger.snapshots.last!
      : fits(ledger.snapshots.first)
        ? ledger.snapshots.first!
        : fits(stored)
          ? stored
          : undefined;
    ledger.snapshots.first ??= stored;
    ledger.snapshots.last = stored;
    if (!target || cx.stopped) return;
    ledger.importSending(target);
    const r = await cx.op("import", () => send(`${cx.deps.baseUrl}/_emulator/snapshot`, "POST", target.text, { "content-type": "application/json" }));
    if (r?.ok) ledger.importAcknowledged();
    else if (r) {
      ledger.settleImport(false);
      cx.deps.violations.push({ kind: "import-refused", detail: `snapshot import answered ${r.status}: ${r.text.slice(0, 300)}` });
    }
  }
}

/** Starts the lanes of one cycle; they run until stop() (the test kills the emulator first). */
export function startWorkload(deps: WorkloadDeps, mode: CycleMode): RunningWorkload {
  const cx = new Cx(deps);
  const lanes: Promise<void>[] =
    mode === "snapshot"
      ? [snapshotLane(cx)]
      : [
          imagesLane(cx, deps.rng.fork("images")),
          shardsLane(cx, deps.rng.fork("shards")),
          videosLane(cx, deps.rng.fork("videos")),
          referencesLane(cx, deps.rng.fork("refs")),
          jobsLane(cx, deps.rng.fork("jobs")),
          jobsLane(cx, deps.rng.fork("jobs-2")),
          scratchLane(cx, deps.rng.fork("scratch")),
        ];
  const all = Promise.all(lanes.map((l) => l.catch((err) => deps.violations.push({ kind: "workload-error", detail: String(err?.stack ?? err) }))));
  return {
    inFlight: () => ({ ...cx.inFlight }),
    acknowledged: () => ({ ...cx.acked }),
    stop: async () => {
      cx.stopped = true;
      await all;
    },
  };
}
