// Seed files: extra workspaces and keys at start. (The controls area extends this with batches and jobs.)
import type { Emulator } from "./context.js";
import { ensureWorkspace } from "./state/workspaces.js";
import { badRequest } from "./errors.js";

export interface SeedFile {
  workspaces?: { id: string; apiKeys?: string[] }[];
}

export function applySeedFile(emu: Emulator, seed: unknown): void {
  const s = seed as SeedFile;
  if (!s || typeof s !== "object") throw badRequest("seed must be a JSON object");
  for (const w of s.workspaces ?? []) {
    if (!/^[a-z0-9_-]{1,64}$/.test(w.id)) throw badRequest(`seed workspace id "${w.id}" must match [a-z0-9_-]{1,64}`);
    if (!w.apiKeys?.length) ensureWorkspace(emu.db, w.id, undefined, emu.clock.now());
    for (const key of w.apiKeys ?? []) ensureWorkspace(emu.db, w.id, key, emu.clock.now());
  }
}
