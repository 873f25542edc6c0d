// Starts an emulator: opens the store, seeds the default workspace, builds the app, listens, and
// starts the background workers. Returns a handle that closes everything cleanly.
import { serve, type ServerType } from "@hono/node-server";
import crypto from "node:crypto";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import { buildApp } from "./app.js";
import { Clock } from "./clock.js";
import { resolveConfig, type EmulatorConfig } from "./config.js";
import { NO_FAULTS, type Emulator, type Worker } from "./context.js";
import { openStore } from "./state/db.js";
import { ensureWorkspace, getSetting, setSetting } from "./state/workspaces.js";
import { WebhookSender } from "./simulator/webhooks.js";
import { createWorkers } from "./simulator/workers.js";
import { applySeedFile, readSeedFile, startsManual, startTimeOf } from "./seed.js";
import { installControls } from "./controls/plane.js";
import { randomIds } from "./controls/prng.js";

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
  let secret = config.signingSecret ?? getSetting(store.db, "signing_secret");
  if (!secret) {
    secret = crypto.randomBytes(32).toString("hex");
    setSetting(store.db, "signing_secret", secret);
  }
  let base = config.publicUrl ?? `http://${config.host}:${config.port}`;
  const workers: Worker[] = [];
  const emu: Emulator = {
    config,
    store,
    db: store.db,
    clock,
    webhooks: new WebhookSender(store.db, clock),
    signingSecret: secret,
    baseUrl: () => base,
    workers,
    faults: { ...NO_FAULTS },
    ids: randomIds(),
  };
  (emu as { setBaseUrl?: (u: string) => void }).setBaseUrl = (u: string) => {
    if (!config.publicUrl) base = u;
  };
  installControls(emu, seed);
  if (seed !== undefined) applySeedFile(emu, seed);
  workers.push(...createWorkers(emu));
  return emu;
}

export async function startEmulator(partial: Partial<EmulatorConfig> = {}): Promise<RunningEmulator> {
  const config: EmulatorConfig = { ...resolveConfig({}), ...partial };
  const emu = createEmulator(config);
  const app = buildApp(emu);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: app.fetch,
        port: config.port,
        hostname: config.host,
        // Node's default 300 s request timeout would cut multi-GB uploads short.
        serverOptions: { requestTimeout: 0 },
      },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${hostForUrl}:${port}`;
  (emu as { setBaseUrl?: (u: string) => void }).setBaseUrl?.(url);
  emu.webhooks.start();
  for (const w of emu.workers) w.start();
  const saveClock = () => setSetting(emu.db, "clock_now", String(emu.clock.now()));
  const clockSaver = setInterval(saveClock, CLOCK_SAVE_INTERVAL_MS);
  clockSaver.unref();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(clockSaver);
      for (const w of emu.workers) w.stop();
      emu.webhooks.close();
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
