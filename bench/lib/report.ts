// Rows of the bench's table and the few statistics every section uses.

export interface Row {
  section: string;
  metric: string;
  emulator: string;
  baseline: string;
  ratio: string;
  goal: string;
  verdict: "met" | "missed" | "info" | "n/a";
  note?: string;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] : NaN;
};

export const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
