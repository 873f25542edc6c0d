// Starts an emulator: opens the store, seeds the default workspace, builds the app, listens, and
// starts the background workers. Returns a handle that closes everything cleanly.
import { serve, type ServerType } from "@hono/node-server";
import crypto from "node:crypto";
import type { AddressInfo } from "node:net";
import { buildApp } from "./app.js";
import { applyConnectionLimits, serverOptionsFor } from "./http/connection-limits.js";
import { CONTROL_API_LOOP, pointsAtControlApi } from "./http/self-url.js";
import { Clock } from "./clock.js";
import { resolveConfig, type EmulatorConfig } from "./config.js";
import type { Core, Emulator, Worker } from "./context.js";
import { openStore } from "./state/db.js";
import { blobNamesInUse } from "./state/orphans.js";
import { storeGeneration } from "./state/generation.js";
import { isStorageFull } from "./state/storage-full.js";
import { ensureWorkspace, getSetting, setSetting } from "./state/workspaces.js";
import { WebhookSender } from "./simulator/webhooks.js";
import { IngestWorker } from "./staging/ingest/worker.js";
import { JobEngine } from "./simulator/engine.js";
import { BatchExpiry } from "./staging/expiry.js";
import { setBatchRetention } from "./state/batches.js";
import { applySeedFile, readSeedFile, startsManual, startTimeOf } from "./seed.js";
import { createControlPlane } from "./controls/plane.js";
import { jobStubWorker } from "./controls/job-stubs.js";

const CLOCK_SAVE_INTERVAL_MS = 1000;
const CLOSE_DRAIN_MS = 5000;

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

export interface RunningEmulator {
  url: string;
  port: number;
  workspace: string;
  apiKey: string;
  emulator: Emulator;
  close(): Promise<void>;
}

/**
 * Builds every part of one emulator in dependency order and hands each its collaborators: store,
 * clock, control plane, webhook sender, then the workers, then the seed. Nothing is started here.
 */
export function createEmulator(config: EmulatorConfig): Emulator {
  // The seed is read first: its "deterministic" block decides where the clock starts.
  const seed = config.seedFile ? readSeedFile(config.seedFile) : undefined;
  const store = openStore(config.dataDir);
  // A scaled clock runs ahead of real time; start no earlier than where the last run left it, so
  // timestamps never go backwards across a restart.
  const lastClock = Number(getSetting(store.db, "clock_now") ?? 0);
  const clock = new Clock(config.timeScale, startTimeOf(seed) ?? Math.max(Date.now(), lastClock), startsManual(seed) ? "manual" : undefined);
  const now = clock.now();
  ensureWorkspace(store.db, config.workspace, config.apiKey, now);
  // Every batch created from now on (uploads, job outputs, seeds) expires this long after its creation.
  setBatchRetention(store.db, config.batchRetentionMs);
  // Created now, not on the first signed URL: a read must never need a write (e.g. on a full disk).
  storeGeneration(store.db);
  let secret = config.signingSecret ?? getSetting(store.db, "signing_secret");
  if (!secret) {
    secret = crypto.randomBytes(32).toString("hex");
    setSetting(store.db, "signing_secret", secret);
  }
  let base = config.publicUrl ?? `http://${config.host}:${config.port}`;
  const controls = createControlPlane(store.db, clock, config, seed);
  const webhooks = new WebhookSender({
    db: store.db,
    clock,
    transport: (input, init) => fetch(input, init),
    faultHook: controls.faults.webhookHook(),
    newId: () => controls.ids.uuid(),
    refuseUrl: (url) => (pointsAtControlApi(url, { baseUrl: () => base, config }) ? CONTROL_API_LOOP : null),
  });
  const core: Core = {
    config,
    store,
    db: store.db,
    blobs: store.blobs,
    clock,
    signingSecret: secret,
    baseUrl: () => base,
    ids: controls.ids,
    faults: controls.faults.simulatorHooks(),
    webhooks,
  };
  const ingest = new IngestWorker(core);
  const jobs = new JobEngine(core);
  const expiry = new BatchExpiry({ db: store.db, blobs: store.blobs, clock });
  // Buffered journal rows are flushed last, after every worker has stopped writing.
  const journalFlusher: Worker = { name: "controls-journal", start() {}, stop: () => controls.journal.flush() };
  const workers: Worker[] = [webhooks, ingest, jobs, expiry];
  const emu: Emulator = {
    ...core,
    controls,
    ingest,
    jobs,
    workers,
    setBaseUrl: (u: string) => {
      if (!config.publicUrl) base = u;
    },
  };
  // Job-state stubs act through the whole emulator (job commands, webhooks), so their worker is made from it.
  workers.push(jobStubWorker(emu), journalFlusher);
  if (seed !== undefined) applySeedFile(emu, seed);
  return emu;
}

export async function startEmulator(partial: Partial<EmulatorConfig> = {}): Promise<RunningEmulator> {
  const config: EmulatorConfig = { ...resolveConfig({}), ...partial };
  const emu = createEmulator(config);
  const app = buildApp(emu);
  // Taken before anything can write: blobs named now are kept, older unnamed ones are orphans.
  const blobsInUse = blobNamesInUse(emu.db);
  const startedAt = Date.now();
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        hostname: config.host,
        serverOptions: serverOptionsFor(config),
      },
      () => resolve(s),
    );
    applyConnectionLimits(s as import("node:http").Server, config);
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${hostForUrl}:${port}`;
  emu.setBaseUrl(url);
  for (const w of emu.workers) w.start();
  emu.blobs.sweepOrphans(blobsInUse, startedAt).catch((err) => console.error("[emulator] orphan sweep failed:", err));
  // Best effort: a full disk must not take the process down from a timer; the next tick tries again.
  const saveClock = () => {
    try {
      setSetting(emu.db, "clock_now", String(emu.clock.now()));
    } catch (err) {
      if (!isStorageFull(err)) console.error("[emulator] could not save the clock position:", err);
    }
  };
  const clockSaver = setInterval(saveClock, CLOCK_SAVE_INTERVAL_MS);
  clockSaver.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(clockSaver);
      for (const w of [...emu.workers].reverse()) w.stop();
      // Let steps already running (an archive being written, a shard being indexed) finish before
      // the store closes under them; bounded, since a reference download may be slow.
      await waitUntil(() => emu.workers.every((w) => w.idle?.() ?? true), CLOSE_DRAIN_MS);
      saveClock();
      emu.clock.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      emu.store.close();
    })());
  return { url, port, workspace: config.workspace, apiKey: config.apiKey, emulator: emu, close };
}
