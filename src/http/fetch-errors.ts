// What went wrong with an outgoing fetch, in words a log or a stored attempt can carry: undici
// hides the useful part (ECONNREFUSED, ENOTFOUND...) in `cause`.

export interface FetchFailure {
  /** The request's AbortSignal timed out (or was aborted). */
  timedOut: boolean;
  /** The most specific reason available: the socket error code, else a message. */
  reason: string;
}

export function describeFetchError(err: unknown): FetchFailure {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  return {
    timedOut: e?.name === "TimeoutError" || e?.name === "AbortError",
    reason: e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err),
  };
}
