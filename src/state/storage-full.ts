// A full disk is the operator's problem, not the client's and not a crash: writes that meet it are
// refused with a clear answer, nothing half-written stays, and work resumes once space is freed.

/** Thrown by the store when the disk (or its quota) has no room for a write. */
export class StorageFullError extends Error {
  constructor(readonly cause: unknown) {
    super(`no space left for the emulator's data (${(cause as { code?: string })?.code ?? "disk full"})`);
  }
}

const FULL_CODES = new Set(["ENOSPC", "EDQUOT", "SQLITE_FULL"]);

/** True for errors that mean "no room to write": ENOSPC/EDQUOT from fs, SQLITE_FULL from SQLite. */
export function isStorageFull(err: unknown): boolean {
  if (err instanceof StorageFullError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && FULL_CODES.has(code);
}
