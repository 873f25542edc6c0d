// Signed URLs served by the emulator itself (the real service hands out cloud-storage URLs).
// The signature covers method, path and expiry, so a URL cannot be reused for another file,
// another verb, or after it expires.
import crypto from "node:crypto";

export interface SignedParts {
  expires: number;
  signature: string;
}

export function sign(secret: string, method: string, pathname: string, expires: number): string {
  return crypto.createHmac("sha256", secret).update(`${method.toUpperCase()}\n${pathname}\n${expires}`).digest("hex");
}

export function signedUrl(baseUrl: string, secret: string, method: string, pathname: string, expiresAt: number): string {
  // Whole milliseconds, as verify() expects, even when the emulator clock sits between two.
  const expires = Math.ceil(expiresAt);
  const sig = sign(secret, method, pathname, expires);
  return `${baseUrl}${pathname}?X-Emulator-Expires=${expires}&X-Emulator-Signature=${sig}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: "missing" | "malformed" | "invalid" | "expired" };

export function verify(secret: string, method: string, pathname: string, query: URLSearchParams, now: number): SignatureCheck {
  const expiresRaw = query.get("X-Emulator-Expires");
  const sig = query.get("X-Emulator-Signature");
  if (!expiresRaw || !sig) return { ok: false, reason: "missing" };
  if (!/^\d{1,16}$/.test(expiresRaw) || !/^[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: "malformed" };
  const expected = sign(secret, method, pathname, Number(expiresRaw));
  if (!crypto.timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(sig, "hex"))) return { ok: false, reason: "invalid" };
  if (Number(expiresRaw) < now) return { ok: false, reason: "expired" };
  return { ok: true };
}
