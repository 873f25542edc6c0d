// The store generation: a random value that a full reset or a snapshot import replaces, because both
// restart or overwrite row numbers. Signed URLs carry it, so a URL issued before names nothing after.
import crypto from "node:crypto";
import type { Db } from "./db.js";
import { getSetting, setSetting } from "./workspaces.js";

const KEY = "store_generation";

/** The current generation (created on first use; a fresh store gets a fresh one, even with a fixed signing secret). */
export function storeGeneration(db: Db): string {
  return getSetting(db, KEY) ?? newStoreGeneration(db);
}

/** Starts a new generation: every signed URL issued before answers 404. Call from a full reset or an import. */
export function newStoreGeneration(db: Db): string {
  const gen = crypto.randomBytes(6).toString("hex");
  setSetting(db, KEY, gen);
  return gen;
}
