// Clock controls: read the clock, switch its mode, and advance it by hand (by ms, to the next
// timer, or until nothing is left to do). A fired timer often starts async work (a job step that
// reads and writes files, a shard being indexed, a webhook being sent) that plans its next timer
// only when it ends, so after every firing the advance waits, in real time and bounded, until that
// work has settled: "idle" means no timer planned and no worker busy.
import type { Emulator } from "../context.js";
import type { AdvanceBodyT, ClockMode } from "../contract/controls.js";
import { ApiError, badRequest } from "../errors.js";

/** Real time one advance may spend waiting for background work to settle. */
const SETTLE_DEADLINE_MS = 60_000;
const DEFAULT_MAX_STEPS = 10_000;

const turn = () => new Promise<void>((r) => setImmediate(r));
const pause = () => new Promise<void>((r) => setTimeout(r, 1));

export function clockView(emu: Emulator) {
  const s = emu.clock.state();
  return { ...s, scale: Number.isFinite(s.scale) ? s.scale : null };
}

export function setClockMode(emu: Emulator, mode: ClockMode, scale?: number) {
  if (mode === "scaled" && scale === undefined) throw badRequest('mode scaled needs a scale (e.g. {"mode": "scaled", "scale": 60})');
  if (scale !== undefined && mode !== "scaled") throw badRequest(`scale only applies to mode scaled, not ${mode}`);
  emu.clock.setMode(mode, scale);
  return clockView(emu);
}

export async function advanceClock(
  emu: Emulator,
  req: AdvanceBodyT,
): Promise<{ fired: number; steps: number; idle: boolean; clock: ReturnType<typeof clockView> }> {
  if (emu.clock.state().mode !== "manual") {
    throw new ApiError(409, "clock-not-manual", "The clock advances by hand only in manual mode", undefined, 'POST /_emulator/clock {"mode": "manual"} first.');
  }
  if ((req.ms === undefined) === (req.to === undefined))
    throw badRequest('Give exactly one of "ms" or "to"', [{ field: "(body)", problem: "exactly one of ms or to is required", received: req }]);
  const settle = settler(emu, Date.now() + SETTLE_DEADLINE_MS);
  let fired = 0;
  let steps = 0;
  // Work already running (a request that just planned a step) lands before time moves.
  await settle();
  if (req.ms !== undefined) {
    // Step timer by timer up to the target, letting each callback's async work land before the next.
    const target = emu.clock.now() + req.ms;
    for (;;) {
      const next = emu.clock.state().nextTimerAt;
      if (next === null || Date.parse(next) > target) break;
      fired += emu.clock.advance(Math.max(0, Date.parse(next) - emu.clock.now()));
      steps++;
      await settle();
    }
    emu.clock.advance(Math.max(0, target - emu.clock.now()));
    await settle();
  } else if (req.to === "next") {
    fired = emu.clock.advanceToNext();
    steps = 1;
    await settle();
  } else {
    const max = req.maxSteps ?? DEFAULT_MAX_STEPS;
    while (steps < max && emu.clock.state().pendingTimers > 0) {
      fired += emu.clock.advanceToNext();
      steps++;
      await settle();
    }
  }
  return { fired, steps, idle: emu.clock.state().pendingTimers === 0 && busyWorkers(emu).length === 0, clock: clockView(emu) };
}

/** Workers with something in flight or planned (Worker.idle() false). */
function busyWorkers(emu: Emulator): string[] {
  return emu.workers.filter((w) => !(w.idle?.() ?? true)).map((w) => w.name);
}

/**
 * Waits until the work that fired timers started has settled: every promise a timer callback
 * returned has resolved, and, when no timer is left, every worker is idle (a step that plans its
 * next timer only when it ends is still running). Throws a clear 409 past the real-time deadline.
 */
function settler(emu: Emulator, deadline: number): () => Promise<void> {
  const unsettled = () => emu.clock.inFlight() > 0 || (emu.clock.state().pendingTimers === 0 && busyWorkers(emu).length > 0);
  return async () => {
    // A few turns first: callbacks' awaits on local work resolve without any real waiting.
    for (let i = 0; i < 3; i++) await turn();
    while (unsettled()) {
      if (Date.now() > deadline) {
        const busy = busyWorkers(emu);
        throw new ApiError(
          409,
          "conflict",
          `Background work did not settle within ${SETTLE_DEADLINE_MS / 1000} s of real time (busy: ${busy.length ? busy.join(", ") : "timer callbacks"})`,
          undefined,
          "Something is waiting on the outside world (a slow webhook receiver, a reference download, an injected delay). GET /_emulator/overview shows what is running; advance again once it is done.",
        );
      }
      await pause();
    }
  };
}
