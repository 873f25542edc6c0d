// Notification URLs must never point at the emulator's own control API: a webhook that triggers a
// redelivery of another webhook that triggers the first would run forever, and one that calls
// /_emulator/reset wipes the test's world. The built-in receiver (/_emulator/receiver/...) is the one
// control path a notification may target.
import os from "node:os";
import type { Core } from "../context.js";

type SelfView = Pick<Core, "baseUrl" | "config">;

/** Hostnames (as WHATWG URL spells them) that reach a server listening on this machine's loopback or on every interface. */
function isLocalName(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "0.0.0.0" || h === "[::1]" || h === "[::]") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  // IPv4-mapped loopback, which URL normalises to hex: [::ffff:7f00:1].
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(h);
}

const isUnspecified = (host: string) => host === "0.0.0.0" || host === "::" || host === "[::]";

function portOf(u: URL): string {
  return u.port || (u.protocol === "https:" ? "443" : "80");
}

const parse = (u: string): URL | undefined => (URL.canParse(u) ? new URL(u) : undefined);

/** Ports the emulator listens on: the bound URL's (unless a public URL replaced it) and the configured one. */
function boundPorts(emu: SelfView): Set<string> {
  const ports = new Set<string>();
  if (emu.config.port) ports.add(String(emu.config.port));
  const base = parse(emu.baseUrl());
  if (base && !emu.config.publicUrl) ports.add(portOf(base));
  return ports;
}

/** This machine's interface addresses as URL hostnames; they reach the emulator when it listens on every interface. */
function interfaceHosts(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) out.add(a.family === "IPv6" ? `[${a.address.split("%")[0].toLowerCase()}]` : a.address);
  }
  return out;
}

/** True when `url` names this emulator: its bound or public origin, or a loopback / local address on its port. */
export function pointsAtEmulator(url: string, emu: SelfView): boolean {
  const target = parse(url);
  if (!target || (target.protocol !== "http:" && target.protocol !== "https:")) return false;
  const origins = [emu.baseUrl(), emu.config.publicUrl].flatMap((u) => (u ? [parse(u)] : [])).filter((u): u is URL => !!u);
  if (origins.some((own) => own.protocol === target.protocol && own.hostname.toLowerCase() === target.hostname.toLowerCase() && portOf(own) === portOf(target)))
    return true;
  if (!boundPorts(emu).has(portOf(target))) return false;
  if (isLocalName(target.hostname)) return true;
  const host = target.hostname.toLowerCase();
  if (host === emu.config.host.toLowerCase()) return true;
  return isUnspecified(emu.config.host) && interfaceHosts().has(host);
}

/** The path as the router sees it: percent-decoded (Hono decodes %5F to "_"), repeated slashes folded, dot segments resolved. */
function routedPath(u: URL): string {
  let p = u.pathname;
  try {
    p = decodeURIComponent(p);
  } catch {
    // Malformed escapes: the router would not decode them either.
  }
  return new URL(p.replace(/\/{2,}/g, "/"), "http://path.invalid").pathname;
}

/** True when `url` targets the emulator's control API (anything under /_emulator except the built-in receiver). */
export function pointsAtControlApi(url: string, emu: SelfView): boolean {
  if (!pointsAtEmulator(url, emu)) return false;
  const p = routedPath(new URL(url));
  return (p === "/_emulator" || p.startsWith("/_emulator/")) && !p.startsWith("/_emulator/receiver/");
}

export const CONTROL_API_LOOP =
  "refused: the URL points at the emulator's own control API (/_emulator), which would make notifications trigger each other without end; use the built-in receiver (/_emulator/receiver/{name}) or your own endpoint";
