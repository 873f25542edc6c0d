// What every route and background worker is given: the store, the clock and the services built
// on them. Created once per emulator instance; there is no module-level mutable state.
import type { Clock } from "./clock.js";
import type { EmulatorConfig } from "./config.js";
import type { OpenedStore, Db } from "./state/db.js";
import type { WebhookSender } from "./simulator/webhooks.js";
import type { IdSource } from "./controls/prng.js";
import type { ControlPlane } from "./controls/plane.js";

export interface Emulator {
  config: EmulatorConfig;
  store: OpenedStore;
  db: Db;
  clock: Clock;
  webhooks: WebhookSender;
  signingSecret: string;
  /** Base URL the server is reachable at (set once listening); used in signed URLs. */
  baseUrl(): string;
  /** Background workers register here so they are stopped on close and can be kicked after a reset. */
  workers: Worker[];
  /** Test-double hooks the simulator consults; the controls area installs real ones. */
  faults: SimulatorFaults;
  /** Ids for events, shards and generated jobs: random, or seeded when the seed file asks for determinism. */
  ids: IdSource;
  /** Journal, fault rules and deterministic settings (installed by src/controls/plane.ts). */
  controls?: ControlPlane;
}

/** Questions the simulator asks the fault rules (defaults: never fail). */
export interface SimulatorFaults {
  /** Should this task of this job's stage fail? */
  taskShouldFail(ws: string, jobId: string, stage: string, taskIndex: number): boolean;
  /** Should this stage fail as a whole? */
  stageShouldFail(ws: string, jobId: string, stage: string): boolean;
}

export const NO_FAULTS: SimulatorFaults = {
  taskShouldFail: () => false,
  stageShouldFail: () => false,
};

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
