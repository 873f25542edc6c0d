// Which blob names the store's rows refer to, for the start-up sweep of orphaned blobs.
import type { Db } from "./db.js";

/** Every blob name a row holds: stored files, and uploaded tar shards still waiting to be indexed. */
export function blobNamesInUse(db: Db): Set<string> {
  const names = new Set<string>();
  for (const r of db.prepare("SELECT DISTINCT blob FROM files").all() as { blob: string }[]) names.add(r.blob);
  const shards = db.prepare("SELECT json_extract(payload, '$.tarBlob') AS blob FROM shards WHERE payload LIKE '%tarBlob%'").all() as { blob: string | null }[];
  for (const r of shards) if (r.blob) names.add(r.blob);
  return names;
}
