// URLs the emulator signs for itself (the real service hands out cloud-storage URLs): upload URLs
// for signed slots and download URLs for staged files. Signature and expiry are checked on the
// emulator clock. Each path names what it is for (store generation, workspace, batch, file or slot),
// so no URL can ever serve or fill anything else, even after a reset restarts the row numbers.
import type { Core } from "../context.js";
import { forbidden, notFound } from "../errors.js";
import { signedUrl, verify } from "../signing.js";
import type { FileRow } from "../state/batches.js";
import { storeGeneration } from "../state/generation.js";
import type { UploadSlotRow } from "../state/ingests.js";

/** Signed upload URLs stay valid this long (emulator clock). */
export const UPLOAD_URL_TTL_MS = 24 * 60 * 60 * 1000;
export const UPLOAD_PATH_PREFIX = "/_signed/uploads/";
export const DOWNLOAD_PATH_PREFIX = "/_signed/files/";
export const DOWNLOAD_URL_TTL_MS = 60 * 60 * 1000;
/** The header a GCS-style signed upload URL binds; the PUT must repeat it exactly. */
export const CONTENT_LENGTH_RANGE_HEADER = "X-Goog-Content-Length-Range";

/** What signs a URL: where the emulator is reachable, its secret, the current time and store generation. */
export interface SigningContext {
  baseUrl: string;
  secret: string;
  now: number;
  generation: string;
}

export function signingContext(emu: Core): SigningContext {
  return { baseUrl: emu.baseUrl(), secret: emu.signingSecret, now: emu.clock.now(), generation: storeGeneration(emu.db) };
}

export function extensionHeadersFor(maxSize: number): Record<string, string> {
  return { [CONTENT_LENGTH_RANGE_HEADER]: `0,${maxSize}` };
}

const enc = encodeURIComponent;

/** Path of a slot's upload URL: generation, workspace, batch, then the slot's token. */
export function uploadPath(slot: Pick<UploadSlotRow, "workspace_id" | "batch_id" | "token">, generation: string): string {
  return `${UPLOAD_PATH_PREFIX}${generation}/${enc(slot.workspace_id)}/${enc(slot.batch_id)}/${slot.token}`;
}

export function uploadUrl(slot: Pick<UploadSlotRow, "workspace_id" | "batch_id" | "token" | "expires_at">, ctx: SigningContext): string {
  return signedUrl(ctx.baseUrl, ctx.secret, "PUT", uploadPath(slot, ctx.generation), slot.expires_at);
}

/** Path of a file's download URL: generation, workspace, batch, row, then the file name (tools that save by URL get a sensible name). */
export function downloadPath(f: Pick<FileRow, "workspace_id" | "batch_id" | "seq" | "file_name">, generation: string): string {
  return `${DOWNLOAD_PATH_PREFIX}${generation}/${enc(f.workspace_id)}/${enc(f.batch_id)}/${f.seq}/${enc(f.file_name)}`;
}

export function downloadUrl(f: Pick<FileRow, "workspace_id" | "batch_id" | "seq" | "file_name">, ctx: SigningContext): string {
  return signedUrl(ctx.baseUrl, ctx.secret, "GET", downloadPath(f, ctx.generation), ctx.now + DOWNLOAD_URL_TTL_MS);
}

/** Throws 404 unless a signed URL's generation is the store's current one (a full reset or a snapshot import changes it). */
export function checkGeneration(emu: Core, generation: string, kind: "download" | "upload"): void {
  if (generation === storeGeneration(emu.db)) return;
  throw beforeReset(kind);
}

/** The 404 for a URL whose world was replaced by a reset or a snapshot import. */
export function beforeReset(kind: "download" | "upload") {
  return notFound(
    `This ${kind} URL was issued before the emulator was reset (or a snapshot was imported); what it named no longer exists`,
    kind === "download" ? "List the batch again for fresh download URLs." : "Request a new upload URL.",
  );
}

/** Throws 403 unless `url` carries a valid, unexpired signature for `method`. */
export function checkSignature(emu: Core, method: string, url: URL): void {
  const check = verify(emu.signingSecret, method, url.pathname, url.searchParams, emu.clock.now());
  if (!check.ok) {
    const why = { missing: "has no signature", malformed: "has a malformed signature", invalid: "has a signature that does not match", expired: "has expired" }[
      check.reason
    ];
    throw forbidden(
      `Signed URL ${why}`,
      check.reason === "expired"
        ? "Signed URLs are valid for a limited time: list the batch again for fresh URLs."
        : "Use the URL exactly as the API returned it.",
    );
  }
}
