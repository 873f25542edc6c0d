// What every route, service and background worker is given. Built once per emulator instance, in
// order, by createEmulator (src/server.ts); there is no module-level mutable state.
import type { Clock } from "./clock.js";
import type { EmulatorConfig } from "./config.js";
import type { OpenedStore, Db } from "./state/db.js";
import type { BlobStore } from "./state/blobs.js";
import type { WebhookSender } from "./simulator/webhooks.js";
import type { IdSource } from "./controls/prng.js";
import type { ControlPlane } from "./controls/plane.js";
import type { IngestWorker } from "./staging/ingest/worker.js";
import type { JobEngine } from "./simulator/engine.js";

/** The parts the background workers are built from: store, clock, ids, fault hooks, webhook sender. */
export interface Core {
  config: EmulatorConfig;
  store: OpenedStore;
  db: Db;
  blobs: BlobStore;
  clock: Clock;
  signingSecret: string;
  /** Base URL the server is reachable at (the bound address once listening); used in signed URLs. */
  baseUrl(): string;
  /** Ids for events, shards and generated jobs: random, or seeded when the seed file asks for determinism. */
  ids: IdSource;
  /** Test-double hooks the simulator consults (the control plane's fault rules). */
  faults: SimulatorFaults;
  webhooks: WebhookSender;
}

/** One emulator instance: the core plus the workers and the control plane. Every part is always present. */
export interface Emulator extends Core {
  controls: ControlPlane;
  ingest: IngestWorker;
  jobs: JobEngine;
  /** Every background worker in start order (stopped in reverse); kicked after a reset. */
  workers: readonly Worker[];
  /** Called once listening: the bound URL becomes the signed-URL base unless a public URL is configured. */
  setBaseUrl(url: string): void;
}

/** Questions the simulator asks the fault rules. */
export interface SimulatorFaults {
  /** Should this task of this job's stage fail? */
  taskShouldFail(ws: string, jobId: string, stage: string, taskIndex: number): boolean;
  /** Should this stage fail as a whole? */
  stageShouldFail(ws: string, jobId: string, stage: string): boolean;
}

export interface Worker {
  name: string;
  start(): void;
  stop(): void;
  /** Re-reads the store after a reset or import. */
  reload?(): void;
  /** True when nothing is in flight; close waits (bounded) for this so no step outlives the store. */
  idle?(): boolean;
}

/** Hono variables set by the auth middleware. */
export interface AppEnv {
  Variables: {
    workspace: string;
    requestStart: number;
  };
}
