// The background workers of an emulator instance (shard indexing, reference fetching, jobs).
import type { Emulator, Worker } from "../context.js";

export function createWorkers(_emu: Emulator): Worker[] {
  return [];
}
