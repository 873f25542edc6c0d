// Differences docs/fidelity.md documents as deliberate: reported by the comparer, not counted as drift.
// Only fields the emulator ADDS are allowed; a missing, renamed or retyped field is always drift.
import type { Allowance } from "./compare.js";

export const ALLOWANCES: Allowance[] = [
  {
    // Error bodies: the real service sends {message}; the emulator adds error{status,type,issues,hint}.
    where: /^\S+ .+ body\.error(\.|$)/,
    kind: "extra",
    because: "docs/fidelity.md 'Error bodies': the emulator adds error{status, type, issues, hint} next to message",
  },
];
