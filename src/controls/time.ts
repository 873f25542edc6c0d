// Clock controls: read the clock, switch its mode, and advance it by hand (by ms, to the next
// timer, or until no timer is left). Timer callbacks often start async work (a database write
// after an await, a webhook send); each step lets that settle before the next one.
import type { Emulator } from "../context.js";
import type { AdvanceBodyT, ClockMode } from "../contract/controls.js";
import { ApiError, badRequest } from "../errors.js";

const settle = () => new Promise<void>((r) => setImmediate(r));

export function clockView(emu: Emulator) {
  const s = emu.clock.state();
  return { ...s, scale: Number.isFinite(s.scale) ? s.scale : null };
}

export function setClockMode(emu: Emulator, mode: ClockMode, scale?: number) {
  if (mode === "scaled" && scale === undefined) throw badRequest("mode scaled needs a scale (e.g. {\"mode\": \"scaled\", \"scale\": 60})");
  if (scale !== undefined && mode !== "scaled") throw badRequest(`scale only applies to mode scaled, not ${mode}`);
  emu.clock.setMode(mode, scale);
  return clockView(emu);
}

export async function advanceClock(emu: Emulator, req: AdvanceBodyT): Promise<{ fired: number; steps: number; idle: boolean; clock: ReturnType<typeof clockView> }> {
  if (emu.clock.state().mode !== "manual") {
    throw new ApiError(409, "clock-not-manual", "The clock advances by hand only in manual mode", undefined, 'POST /_emulator/clock {"mode": "manual"} first.');
  }
  if ((req.ms === undefined) === (req.to === undefined)) throw badRequest('Give exactly one of "ms" or "to"', [{ field: "(body)", problem: "exactly one of ms or to is required", received: req }]);
  let fired = 0;
  let steps = 0;
  if (req.ms !== undefined) {
    // Step timer by timer up to the target, letting each callback's async work land before the next.
    const target = emu.clock.now() + req.ms;
    for (;;) {
      const next = emu.clock.state().nextTimerAt;
      if (next === null || Date.parse(next) > target) break;
      fired += emu.clock.advance(Math.max(0, Date.parse(next) - emu.clock.now()));
      steps++;
      await settleWork();
    }
    emu.clock.advance(Math.max(0, target - emu.clock.now()));
    await settleWork();
  } else if (req.to === "next") {
    fired = emu.clock.advanceToNext();
    steps = 1;
    await settleWork();
  } else {
    const max = req.maxSteps ?? 10_000;
    while (steps < max && emu.clock.state().pendingTimers > 0) {
      fired += emu.clock.advanceToNext();
      steps++;
      await settleWork();
    }
  }
  return { fired, steps, idle: emu.clock.state().pendingTimers === 0, clock: clockView(emu) };
}

/** A few turns of the event loop: enough for a callback's awaits on local work to resolve. */
async function settleWork(): Promise<void> {
  for (let i = 0; i < 3; i++) await settle();
}
