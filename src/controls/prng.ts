// Seeded randomness for deterministic runs: a small 32-bit generator (mulberry32) whose whole
// state is one integer, so it can be stored in a row and resumed, and an id source built on it.
import crypto from "node:crypto";

/** One step of mulberry32: returns a float in [0, 1) and the next state. */
export function mulberry32(state: number): { value: number; state: number } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: next };
}

/** Floats in [0, 1) from a 32-bit seed: the same seed gives the same sequence. */
export function randomStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const r = mulberry32(state);
    state = r.state;
    return r.value;
  };
}

/** Folds any integer seed (or string) into a 32-bit starting state. */
export function seedState(seed: number | string): number {
  const s = String(seed);
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h >>> 0;
}

export interface IdSource {
  /** A UUID v4 (random, or from the seeded generator in deterministic mode). */
  uuid(): string;
  /** `n` lowercase letters and digits. */
  alnum(n: number): string;
  /** Restarts the sequence (deterministic mode: the same ids again after a reset). */
  restart(): void;
  readonly deterministic: boolean;
}

/** An id source whose generator can be replaced in place: everything holding it sees the new one. */
export interface SwitchableIds extends IdSource {
  use(source: IdSource): void;
}

export function switchableIds(initial: IdSource): SwitchableIds {
  let inner = initial;
  return {
    get deterministic() {
      return inner.deterministic;
    },
    uuid: () => inner.uuid(),
    alnum: (n) => inner.alnum(n),
    restart: () => inner.restart(),
    use: (source) => {
      inner = source;
    },
  };
}

export function randomIds(): IdSource {
  return {
    deterministic: false,
    uuid: () => crypto.randomUUID(),
    alnum: (n) => {
      const bytes = crypto.randomBytes(n);
      let out = "";
      for (let i = 0; i < n; i++) out += ALNUM[bytes[i] % ALNUM.length];
      return out;
    },
    restart: () => {},
  };
}

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Ids from a seeded generator: the same seed gives the same ids in the same order. */
export function seededIds(seed: number | string): IdSource {
  const initial = seedState(seed);
  let next = randomStream(initial);
  const nextByte = () => Math.floor(next() * 256);
  return {
    deterministic: true,
    uuid: () => {
      const b = Array.from({ length: 16 }, nextByte);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const h = b.map((x) => x.toString(16).padStart(2, "0")).join("");
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    alnum: (n) => {
      let out = "";
      for (let i = 0; i < n; i++) out += ALNUM[Math.floor(next() * ALNUM.length)];
      return out;
    },
    restart: () => {
      next = randomStream(initial);
    },
  };
}
