// The control plane of one emulator instance: journal, fault engine, id source and the start-up
// seed. Built before anything else that consults it, so the simulator's fault hooks, the webhook
// sender's delivery hook and the id generator are the real ones from the start.
import type { Clock } from "../clock.js";
import type { EmulatorConfig } from "../config.js";
import type { SeedBodyT } from "../contract/controls.js";
import type { Db } from "../state/db.js";
import { Journal } from "../state/journal.js";
import { FaultEngine } from "./faults.js";
import { randomIds, seededIds, type IdSource } from "./prng.js";

export interface ControlPlane {
  journal: Journal;
  faults: FaultEngine;
  ids: IdSource;
  /** The deterministic block of the start-up seed, if any. */
  deterministic: SeedBodyT["deterministic"] | null;
  /** The start-up seed file's contents, for reset {reseed: true}. */
  startupSeed: unknown;
}

export function createControlPlane(db: Db, clock: Clock, config: EmulatorConfig, startupSeed?: unknown): ControlPlane {
  const deterministic = (startupSeed as SeedBodyT | undefined)?.deterministic ?? null;
  const ids = deterministic ? seededIds(deterministic.seed) : randomIds();
  if (deterministic?.clock && deterministic.clock !== clock.state().mode) {
    const scale = Number.isFinite(config.timeScale) && config.timeScale !== 1 ? config.timeScale : 10;
    clock.setMode(deterministic.clock, deterministic.clock === "scaled" ? scale : undefined);
  }
  return {
    journal: new Journal(db),
    faults: new FaultEngine(db, clock, () => ids),
    ids,
    deterministic,
    startupSeed: startupSeed ?? null,
  };
}
