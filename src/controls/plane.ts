// The control plane of one emulator instance: journal, fault engine and deterministic settings.
// Installed on the Emulator at creation (before the seed is applied), so the simulator's fault
// hooks, the webhook sender's delivery hook and the id generator are the real ones from the start.
import type { Emulator } from "../context.js";
import type { SeedBodyT } from "../contract/controls.js";
import { Journal } from "../state/journal.js";
import { FaultEngine } from "./faults.js";
import { randomIds, seededIds } from "./prng.js";

export interface ControlPlane {
  journal: Journal;
  faults: FaultEngine;
  /** The deterministic block of the start-up seed, if any. */
  deterministic: SeedBodyT["deterministic"] | null;
  /** The start-up seed file's contents, for reset {reseed: true}. */
  startupSeed: unknown;
}

export function installControls(emu: Emulator, startupSeed?: unknown): ControlPlane {
  const deterministic = (startupSeed as SeedBodyT | undefined)?.deterministic ?? null;
  if (deterministic) emu.ids = seededIds(deterministic.seed);
  else emu.ids ??= randomIds();
  if (deterministic?.clock && deterministic.clock !== emu.clock.state().mode) {
    const scale = Number.isFinite(emu.config.timeScale) && emu.config.timeScale !== 1 ? emu.config.timeScale : 10;
    emu.clock.setMode(deterministic.clock, deterministic.clock === "scaled" ? scale : undefined);
  }
  const plane: ControlPlane = {
    journal: new Journal(emu.db),
    faults: new FaultEngine(emu.db, emu.clock, () => emu.ids),
    deterministic,
    startupSeed: startupSeed ?? null,
  };
  emu.controls = plane;
  emu.faults = plane.faults.simulatorHooks();
  emu.webhooks.faultHook = plane.faults.webhookHook();
  emu.webhooks.newId = () => emu.ids.uuid();
  // Flush buffered journal rows before the store closes.
  emu.workers.push({ name: "controls-journal", start() {}, stop: () => plane.journal.flush() });
  return plane;
}

export function controlsOf(emu: Emulator): ControlPlane {
  return emu.controls ?? installControls(emu);
}
