// The background workers of an emulator instance (shard indexing, reference fetching, jobs).
import type { Emulator, Worker } from "../context.js";
import { IngestWorker } from "./ingest-worker.js";
import { createJobEngine } from "./engine.js";

export function createWorkers(emu: Emulator): Worker[] {
  return [new IngestWorker(emu), createJobEngine(emu)];
}
