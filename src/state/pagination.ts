// Keyset pagination: a token carries the last seen `seq`, so a page costs an index seek at any
// depth. Tokens are opaque to clients but stable: the same position always yields the same token.
import { badRequest } from "../errors.js";

export function encodeToken(afterSeq: number): string {
  return Buffer.from(`v1:${afterSeq}`).toString("base64url");
}

export function decodeToken(token: string | undefined | null): number {
  if (token === undefined || token === null || token === "") return 0;
  const raw = Buffer.from(token, "base64url").toString();
  const m = /^v1:(\d{1,15})$/.exec(raw);
  if (!m) {
    throw badRequest(
      `Invalid nextPageToken: "${token.slice(0, 80)}" was not produced by this API`,
      [{ field: "nextPageToken", problem: "unknown or malformed page token", received: token.slice(0, 80) }],
      "Pass the nextPageToken value from the previous page unchanged, or omit it for the first page.",
    );
  }
  return Number(m[1]);
}

/** Given rows fetched with LIMIT size+1, returns the page and the token for the next one (null at the end). */
export function pageOf<T extends { seq: number }>(rows: T[], size: number): { items: T[]; nextPageToken: string | null } {
  if (rows.length <= size) return { items: rows, nextPageToken: null };
  const items = rows.slice(0, size);
  return { items, nextPageToken: encodeToken(items[items.length - 1].seq) };
}
