// URLs the emulator signs for itself (the real service hands out cloud-storage URLs): upload URLs
// for signed slots and download URLs for staged files. Signature and expiry are checked on the
// emulator clock.
import type { Core } from "../context.js";
import { forbidden } from "../errors.js";
import { signedUrl, verify } from "../signing.js";
import type { FileRow } from "../state/batches.js";

/** Signed upload URLs stay valid this long (emulator clock). */
export const UPLOAD_URL_TTL_MS = 24 * 60 * 60 * 1000;
export const UPLOAD_PATH_PREFIX = "/_signed/uploads/";
export const DOWNLOAD_URL_TTL_MS = 60 * 60 * 1000;
/** The header a GCS-style signed upload URL binds; the PUT must repeat it exactly. */
export const CONTENT_LENGTH_RANGE_HEADER = "X-Goog-Content-Length-Range";

/** What signs a URL: where the emulator is reachable, its secret and the current time. */
export interface SigningContext {
  baseUrl: string;
  secret: string;
  now: number;
}

export function signingContext(emu: Core): SigningContext {
  return { baseUrl: emu.baseUrl(), secret: emu.signingSecret, now: emu.clock.now() };
}

export function extensionHeadersFor(maxSize: number): Record<string, string> {
  return { [CONTENT_LENGTH_RANGE_HEADER]: `0,${maxSize}` };
}

export function uploadUrl(emu: Core, token: string, expires: number): string {
  return signedUrl(emu.baseUrl(), emu.signingSecret, "PUT", `${UPLOAD_PATH_PREFIX}${token}`, expires);
}

/** Path of a file's download URL; the file name is in it so tools that save by URL get a sensible name. */
export function downloadPath(f: Pick<FileRow, "seq" | "file_name">): string {
  return `/_signed/files/${f.seq}/${encodeURIComponent(f.file_name)}`;
}

export function downloadUrl(f: Pick<FileRow, "seq" | "file_name">, ctx: SigningContext): string {
  return signedUrl(ctx.baseUrl, ctx.secret, "GET", downloadPath(f), ctx.now + DOWNLOAD_URL_TTL_MS);
}

/** Throws 403 unless `url` carries a valid, unexpired signature for `method`. */
export function checkSignature(emu: Core, method: string, url: URL): void {
  const check = verify(emu.signingSecret, method, url.pathname, url.searchParams, emu.clock.now());
  if (!check.ok) {
    const why = { missing: "has no signature", malformed: "has a malformed signature", invalid: "has a signature that does not match", expired: "has expired" }[check.reason];
    throw forbidden(`Signed URL ${why}`, check.reason === "expired" ? "Signed URLs are valid for a limited time: list the batch again for fresh URLs." : "Use the URL exactly as the API returned it.");
  }
}
