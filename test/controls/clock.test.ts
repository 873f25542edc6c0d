// The one clock: manual stepping, scaling and "max" (no waiting).
import { describe, expect, it } from "vitest";
import { Clock } from "../../src/clock.js";

describe("clock", () => {
  it("manual mode fires timers only on advance, in due order, and moves time exactly", () => {
    const clock = new Clock(1, Date.parse("2026-01-01T00:00:00Z"));
    clock.setMode("manual");
    const t0 = clock.now();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 2000);
    clock.setTimeout(() => fired.push("a"), 1000);
    expect(clock.advance(500)).toBe(0);
    expect(fired).toEqual([]);
    expect(clock.advance(1600)).toBe(2);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now() - t0).toBe(2100);
    clock.stop();
  });

  it("advanceToNext jumps to the next timer; a cleared timer never fires", () => {
    const clock = new Clock(1);
    clock.setMode("manual");
    const fired: number[] = [];
    const id = clock.setTimeout(() => fired.push(1), 10_000);
    clock.setTimeout(() => fired.push(2), 20_000);
    clock.clearTimeout(id);
    const before = clock.now();
    expect(clock.advanceToNext()).toBe(1);
    expect(fired).toEqual([2]);
    expect(clock.now() - before).toBe(20_000);
    clock.stop();
  });

  it("max mode runs a one-hour timer at once without freezing the event loop", async () => {
    const clock = new Clock(Infinity);
    const started = Date.now();
    let n = 0;
    // A timer that re-arms itself must not starve other work.
    const again = () => {
      if (++n < 50) clock.setTimeout(again, 3_600_000);
    };
    clock.setTimeout(again, 3_600_000);
    await clock.sleep(3_600_000);
    await new Promise((r) => setTimeout(r, 20));
    expect(n).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(2000);
    clock.stop();
  });

  it("scaled mode runs ten times faster than real time", async () => {
    const clock = new Clock(10);
    const startVirtual = clock.now();
    const startReal = Date.now();
    await clock.sleep(500);
    const real = Date.now() - startReal;
    expect(real).toBeLessThan(400);
    expect(clock.now() - startVirtual).toBeGreaterThanOrEqual(500);
    clock.stop();
  });
});

describe("clock: async work started by timers", () => {
  it("tracks a promise a fired callback returns until it settles, and logs (not throws) its failure", async () => {
    const clock = new Clock(1);
    clock.setMode("manual");
    let release!: () => void;
    clock.setTimeout(() => new Promise<void>((r) => (release = r)), 1000);
    clock.setTimeout(() => Promise.reject(new Error("expected in this test")), 1000);
    expect(clock.advance(1000)).toBe(2);
    expect(clock.inFlight()).toBe(2);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.inFlight()).toBe(1);
    release();
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.inFlight()).toBe(0);
    clock.stop();
  });
});
