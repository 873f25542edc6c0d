// The control plane of one emulator instance: journal, fault engine, id source and the start-up
// seed. Built before anything else that consults it, so the simulator's fault hooks, the webhook
// sender's delivery hook and the id generator are the real ones from the start.
import type { Clock } from "../clock.js";
import type { EmulatorConfig } from "../config.js";
import type { SeedBodyT } from "../contract/controls.js";
import type { Db } from "../state/db.js";
import { Journal } from "../state/journal.js";
import { ContractLedger } from "./contract.js";
import { FaultEngine } from "./faults.js";
import type { Operation } from "./operations.js";
import { randomIds, seededIds, switchableIds, type SwitchableIds } from "./prng.js";

export interface ControlPlane {
  journal: Journal;
  faults: FaultEngine;
  ids: SwitchableIds;
  /** The deterministic block of the start-up seed, if any. */
  deterministic: SeedBodyT["deterministic"] | null;
  /** The start-up seed (--seed file, or one adopted over the control API), for reset {reseed: true}. */
  startupSeed: unknown;
  /** Every request of the run, classified for the contract report (survives resets). */
  contract: ContractLedger;
  /** Operations of the emulated API, read from the app's OpenAPI registry when first needed. */
  operations: Operation[] | null;
  /** Emulator-clock timers of job-state stubs, by rule id. */
  jobStubTimers: Map<string, number>;
}

export function createControlPlane(db: Db, clock: Clock, config: EmulatorConfig, startupSeed?: unknown): ControlPlane {
  const deterministic = (startupSeed as SeedBodyT | undefined)?.deterministic ?? null;
  const ids = switchableIds(deterministic ? seededIds(deterministic.seed) : randomIds());
  if (deterministic?.clock) setModeFor(clock, config, deterministic.clock);
  return {
    journal: new Journal(db),
    faults: new FaultEngine(db, clock, () => ids),
    ids,
    deterministic,
    startupSeed: startupSeed ?? null,
    contract: new ContractLedger(clock.now()),
    operations: null,
    jobStubTimers: new Map(),
  };
}

/**
 * Makes `seed` the start-up seed, as if the emulator had been started with it: reset {reseed: true}
 * applies it again, and its deterministic block seeds the ids (restarted by every reset) and sets
 * the clock mode. Its startTime is not applied: time never goes back in a running emulator.
 */
export function adoptStartupSeed(plane: ControlPlane, clock: Clock, config: EmulatorConfig, seed: SeedBodyT): void {
  plane.startupSeed = seed;
  plane.deterministic = seed.deterministic ?? null;
  plane.ids.use(seed.deterministic ? seededIds(seed.deterministic.seed) : randomIds());
  if (seed.deterministic?.clock) setModeFor(clock, config, seed.deterministic.clock);
}

function setModeFor(clock: Clock, config: EmulatorConfig, mode: NonNullable<NonNullable<SeedBodyT["deterministic"]>["clock"]>): void {
  if (mode === clock.state().mode) return;
  const scale = Number.isFinite(config.timeScale) && config.timeScale !== 1 ? config.timeScale : 10;
  clock.setMode(mode, mode === "scaled" ? scale : undefined);
}
