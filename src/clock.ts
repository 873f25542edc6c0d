// The emulator's single clock. Everything that waits (job stages, webhook backoff, signed URL
// expiry, shard indexing) asks this clock, so a test can run it in real time, scaled, with no
// waiting at all ("max"), or by hand (manual mode + advance).
import type { ClockMode } from "./contract/controls.js";

/** Epoch ms as the ISO-8601 UTC timestamp every API answer uses. */
export const iso = (ms: number) => new Date(ms).toISOString();

/** A timer callback; one that returns a promise (its async follow-up work) is tracked until it settles. */
type TimerFn = () => unknown;

interface Timer {
  id: number;
  due: number;
  fn: TimerFn;
}

export interface ClockState {
  mode: ClockMode;
  scale: number;
  now: string;
  pendingTimers: number;
  nextTimerAt: string | null;
}

export class Clock {
  private mode: ClockMode;
  private scale: number;
  /** Virtual time at the moment `realBase` was taken. */
  private virtualBase: number;
  private realBase: number;
  private timers: Timer[] = [];
  private nextId = 1;
  private armed: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private armedIsImmediate = false;
  private stopped = false;
  /** Timers cancelled while a batch of due timers is running must not fire. */
  private cancelled = new Set<number>();
  /** Promises returned by fired callbacks that have not settled yet (a manual advance waits for them). */
  private readonly running = new Set<Promise<unknown>>();

  /** `manual`: start stopped at `startAt` (deterministic seeds), whatever the scale. */
  constructor(scale: number = 1, startAt: number = Date.now(), startMode?: "manual") {
    this.scale = scale;
    this.mode = startMode ?? (scale === Infinity ? "max" : scale === 1 ? "real" : "scaled");
    this.virtualBase = startAt;
    this.realBase = Date.now();
  }

  now(): number {
    if (this.mode === "manual") return this.virtualBase;
    if (this.mode === "max") return this.virtualBase + (Date.now() - this.realBase);
    return this.virtualBase + (Date.now() - this.realBase) * this.scale;
  }

  nowIso(): string {
    return iso(this.now());
  }

  state(): ClockState {
    const next = this.timers.length ? Math.min(...this.timers.map((t) => t.due)) : null;
    return {
      mode: this.mode,
      scale: this.scale,
      now: this.nowIso(),
      pendingTimers: this.timers.length,
      nextTimerAt: next === null ? null : iso(next),
    };
  }

  /** Runs `fn` once `delayMs` of emulated time has passed. */
  setTimeout(fn: TimerFn, delayMs: number): number {
    const id = this.nextId++;
    this.timers.push({ id, due: this.now() + Math.max(0, delayMs), fn });
    this.rearm();
    return id;
  }

  clearTimeout(id: number): void {
    this.cancelled.add(id);
    this.timers = this.timers.filter((t) => t.id !== id);
    this.rearm();
  }

  /** Resolves after `delayMs` of emulated time. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, delayMs));
  }

  setMode(mode: ClockMode, scale?: number): void {
    const now = this.now();
    this.virtualBase = now;
    this.realBase = Date.now();
    if (mode === "real") this.scale = 1;
    else if (mode === "max") this.scale = Infinity;
    else if (mode === "scaled") {
      if (!scale || !Number.isFinite(scale) || scale <= 0) throw new RangeError("scaled mode needs a positive finite scale");
      this.scale = scale;
    }
    this.mode = mode;
    this.rearm();
  }

  /** Manual mode only: moves time forward by `ms` and fires every timer that became due, in order. */
  advance(ms: number): number {
    if (this.mode !== "manual") throw new RangeError("advance needs the clock in manual mode");
    const target = this.virtualBase + Math.max(0, ms);
    return this.fireUntil(target);
  }

  /** Manual mode only: jumps to the next timer and fires it (and any due at the same instant). */
  advanceToNext(): number {
    if (this.mode !== "manual") throw new RangeError("advance needs the clock in manual mode");
    if (!this.timers.length) return 0;
    const due = Math.min(...this.timers.map((t) => t.due));
    return this.fireUntil(Math.max(due, this.virtualBase));
  }

  /** Async work started by fired timers (callbacks that returned a promise) and not finished yet. */
  inFlight(): number {
    return this.running.size;
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
    this.timers = [];
  }

  private fireUntil(target: number): number {
    let fired = 0;
    for (;;) {
      const due = this.takeDue(target);
      if (!due) break;
      this.virtualBase = Math.max(this.virtualBase, due.due);
      fired++;
      this.run(due.fn);
    }
    this.cancelled.clear();
    this.virtualBase = target;
    return fired;
  }

  private run(fn: TimerFn): void {
    const result = safeRun(fn);
    if (!(result instanceof Promise)) return;
    this.running.add(result);
    result.catch((err) => console.error("[clock] timer failed:", err)).finally(() => this.running.delete(result));
  }

  private takeDue(limit: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (t.due <= limit && (!best || t.due < best.due || (t.due === best.due && t.id < best.id))) best = t;
    if (best) this.timers = this.timers.filter((t) => t !== best);
    return best;
  }

  private disarm(): void {
    if (!this.armed) return;
    if (this.armedIsImmediate) clearImmediate(this.armed as NodeJS.Immediate);
    else clearTimeout(this.armed as NodeJS.Timeout);
    this.armed = null;
  }

  private rearm(): void {
    this.disarm();
    if (this.stopped || this.mode === "manual" || !this.timers.length) return;
    const next = Math.min(...this.timers.map((t) => t.due));
    const realDelay = this.mode === "max" ? 0 : Math.max(0, (next - this.now()) / this.scale);
    const tick = () => {
      this.armed = null;
      // Only timers that exist now fire in this tick: one that re-schedules itself with no delay
      // (likely in "max" mode) runs again on the next turn of the event loop, not in a busy loop.
      // "max" is a discrete-event run: only the earliest timers fire, and virtual time jumps to
      // their due time, so code that compares stored times with now() (webhook backoff, expiry)
      // sees the time that passed.
      const now = this.mode === "max" ? Math.min(...this.timers.map((t) => t.due)) : this.now();
      if (this.mode === "max" && this.now() < now) this.virtualBase += now - this.now();
      const batch = this.timers.filter((t) => t.due <= now).sort((a, b) => a.due - b.due || a.id - b.id);
      const ids = new Set(batch.map((t) => t.id));
      this.timers = this.timers.filter((t) => !ids.has(t.id));
      for (const t of batch) if (!this.cancelled.has(t.id)) this.run(t.fn);
      this.cancelled.clear();
      this.rearm();
    };
    if (realDelay === 0) {
      this.armedIsImmediate = true;
      this.armed = setImmediate(tick);
    } else {
      this.armedIsImmediate = false;
      // Cap so that a scale change or a far-future timer never overflows Node's 32-bit delay.
      this.armed = setTimeout(tick, Math.min(realDelay, 2 ** 31 - 1));
      this.armed.unref?.();
    }
  }
}

function safeRun(fn: TimerFn): unknown {
  try {
    return fn();
  } catch (err) {
    // A failing timer must not take the clock (and every other waiter) down with it.
    console.error("[clock] timer failed:", err);
  }
}
