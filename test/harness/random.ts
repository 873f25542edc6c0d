// Seeded randomness for the crash harness: one seed (printed by the test) decides every choice the
// workload makes, so a failing run can be replayed with CRASH_SEED=<seed>. Timing still varies.
export interface Rng {
  readonly seed: number;
  /** Float in [0, 1). */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** An independent stream derived from this one (one per lane, so lanes do not disturb each other). */
  fork(label: string): Rng;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)],
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
    fork: (label) => createRng(mix(seed, label)),
  };
}

/** A 32-bit seed from a parent seed and a label (FNV-1a over both). */
function mix(seed: number, label: string): number {
  let h = 2166136261 ^ seed;
  for (const ch of `${seed}:${label}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h >>> 0;
}

/** The run's seed: CRASH_SEED when given, else a fresh one (printed, so it can be replayed). */
export function seedFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.CRASH_SEED;
  if (given !== undefined && given !== "") {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0) throw new Error(`CRASH_SEED must be a non-negative integer, got ${given}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
