// Notification URLs must never point at the emulator's own control API: a webhook that triggers a
// redelivery of another webhook that triggers the first would run forever. The built-in receiver
// (/_emulator/receiver/...) is the one control path a notification may target.
import type { Core } from "../context.js";

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]", "::1", "0.0.0.0", "[::]"]);

function portOf(u: URL): string {
  return u.port || (u.protocol === "https:" ? "443" : "80");
}

/** True when `url` names this emulator (its bound or public origin, or a loopback alias on its port). */
export function pointsAtEmulator(url: string, emu: Pick<Core, "baseUrl" | "config">): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  const origins = [emu.baseUrl(), emu.config.publicUrl].filter((u): u is string => !!u).map((u) => new URL(u));
  for (const own of origins) {
    if (target.host === own.host && target.protocol === own.protocol) return true;
    if (LOOPBACK_NAMES.has(target.hostname.toLowerCase()) && LOOPBACK_NAMES.has(own.hostname.toLowerCase()) && portOf(target) === portOf(own)) return true;
  }
  return false;
}

/** True when `url` targets the emulator's control API (other than the built-in receiver). */
export function pointsAtControlApi(url: string, emu: Pick<Core, "baseUrl" | "config">): boolean {
  if (!pointsAtEmulator(url, emu)) return false;
  const p = new URL(url).pathname;
  return p.startsWith("/_emulator") && !p.startsWith("/_emulator/receiver/");
}

export const CONTROL_API_LOOP =
  "refused: the URL points at the emulator's own control API (/_emulator), which would make notifications trigger each other without end; use the built-in receiver (/_emulator/receiver/{name}) or your own endpoint";
