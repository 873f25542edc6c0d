// Opening what a reference URL names. A URL under a --url-map prefix is served from the mapped folder
// (from disk, never outside the folder, symlinks included) or the mapped server; any other URL is
// fetched only when it is loopback (or the origin of a mapping's target), and redirects are followed
// only while they stay there, so the emulator never reaches a host nobody named. https downloads trust
// --ca-file (with the system's roots) when one is configured.
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { Readable } from "node:stream";
import type { EmulatorConfig } from "../../config.js";
import { resolveUrl, unmappedReason, type Resolution, type UrlMapping } from "../../http/url-map.js";

const MAX_REDIRECTS = 5;

/** A per-file failure: `type` is the failed file's type, the message its reason. */
export class RefFailure extends Error {
  constructor(
    readonly type: string,
    reason: string,
  ) {
    super(reason);
  }
}

/** Where references may come from, built once at start-up from the configuration. */
export interface ReferenceSources {
  map: readonly UrlMapping[];
  /** PEM text of --ca-file. */
  ca: string | null;
}

/** Reads --ca-file at start-up, so a missing or wrong file stops the emulator with a clear message instead of failing every download. */
export function loadReferenceSources(config: Pick<EmulatorConfig, "urlMap" | "caFile">): ReferenceSources {
  let ca: string | null = null;
  if (config.caFile) {
    try {
      ca = fs.readFileSync(config.caFile, "utf8");
    } catch (err) {
      throw new Error(`--ca-file ${config.caFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw new Error(`--ca-file ${config.caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return { map: config.urlMap ?? [], ca };
}

/** What a GET answered, as far as the downloads need it. */
interface Answer {
  status: number;
  headers: { get(name: string): string | null };
  body: Readable | null;
}

type WebBody = import("node:stream/web").ReadableStream<Uint8Array>;
const toNode = (body: unknown): Readable | null => (body ? Readable.fromWeb(body as WebBody) : null);

/** The downloads of one shard: the map, and an HTTP client that trusts --ca-file (an undici Agent, closed with the session). */
export interface SourceSession {
  map: readonly UrlMapping[];
  isDirect: (u: URL) => boolean;
  get(u: URL, signal: AbortSignal): Promise<Answer>;
  close(): Promise<void>;
}

/** Loopback only: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackUrl(u: URL): boolean {
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  const host = u.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host === "::1") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

export async function openSession(sources: ReferenceSources): Promise<SourceSession> {
  const targets = new Set(
    sources.map
      .map((m) => new URL(m.to))
      .filter((u) => u.protocol !== "file:")
      .map((u) => u.origin),
  );
  const isDirect = (u: URL) => isLoopbackUrl(u) || targets.has(u.origin);
  if (!sources.ca) {
    const get = async (u: URL, signal: AbortSignal): Promise<Answer> => {
      const res = await fetch(u, { redirect: "manual", signal });
      return { status: res.status, headers: res.headers, body: toNode(res.body) };
    };
    return { map: sources.map, isDirect, get, close: async () => {} };
  }
  // Loaded only when a CA is configured: undici is heavy to import and most runs never need it.
  const { Agent, fetch: undiciFetch } = await import("undici");
  const agent = new Agent({ connect: { ca: [...tls.rootCertificates, sources.ca] } });
  return {
    map: sources.map,
    isDirect,
    get: async (u, signal) => {
      const res = await undiciFetch(u, { redirect: "manual", signal, dispatcher: agent });
      return { status: res.status, headers: res.headers, body: toNode(res.body) };
    },
    close: () => agent.close(),
  };
}

export interface Opened {
  body: Readable;
  /** Size announced before reading (file size or Content-Length), when known. */
  declared: number | null;
}

const shown = (url: string) => (url.length > 500 ? `${url.slice(0, 497)}...` : url);

/** Opens a reference: mapped file, mapped or loopback server (following redirects that stay allowed). Throws RefFailure. */
export async function openReference(rawUrl: string, session: SourceSession, signal: AbortSignal): Promise<Opened> {
  let current = rawUrl;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const r = resolveUrl(current, session.map, session.isDirect);
    if (r.kind === "invalid") throw new RefFailure("invalid-url", `Not a valid URL: ${current.slice(0, 200)}`);
    if (r.kind === "refused") throw new RefFailure("unsafe-url-detected", r.reason);
    // "Untrusted domain found" is the real service's reason; the rest says how to serve it locally.
    if (r.kind === "unmapped") throw new RefFailure("unsafe-url-detected", `Untrusted domain found: ${shown(current)}. ${unmappedReason(r.origin)}`);
    if (r.kind === "file") return await openFile(r, current, signal);
    const res = await session.get(r.url, signal);
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      res.body?.destroy();
      current = new URL(location, r.url).href;
      continue;
    }
    if (res.status < 200 || res.status >= 300) {
      res.body?.destroy();
      const via = r.mappedFrom ? ` (mapped from ${r.mappedFrom})` : "";
      throw new RefFailure("download-failed", `GET ${r.url.origin}${r.url.pathname}${via} answered HTTP ${res.status}.`);
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    return { body: res.body ?? Readable.from([]), declared: Number.isFinite(declared) ? declared : null };
  }
  throw new RefFailure("download-failed", `More than ${MAX_REDIRECTS} redirects.`);
}

/** A mapped file, read from disk only when its real path (links resolved) is inside the mapped folder's. */
async function openFile(r: Extract<Resolution, { kind: "file" }>, url: string, signal: AbortSignal): Promise<Opened> {
  const where = `${shown(url)} is mapped to ${r.file}`;
  let realRoot: string;
  try {
    realRoot = await fs.promises.realpath(r.root);
  } catch {
    throw new RefFailure("download-failed", `${where}, but the mapped folder ${r.root} (for ${r.mappedFrom}) does not exist.`);
  }
  let real: string;
  try {
    real = await fs.promises.realpath(r.file);
  } catch {
    throw new RefFailure("download-failed", `${where}, which does not exist.`);
  }
  if (!real.startsWith(realRoot + path.sep)) throw new RefFailure("unsafe-url-detected", `${where}, a link that leads outside the mapped folder ${realRoot}.`);
  const st = await fs.promises.stat(real);
  if (!st.isFile()) throw new RefFailure("download-failed", `${where}, which is not a file.`);
  return { body: fs.createReadStream(real, { signal }), declared: st.size };
}
