// Start-up configuration: flags win over environment variables, which win over defaults.
import { parseUrlMap, type UrlMapping } from "./http/url-map.js";

export interface EmulatorConfig {
  port: number;
  host: string;
  /** Folder for the SQLite file and blobs, or ":memory:". */
  dataDir: string;
  workspace: string;
  apiKey: string;
  /** Real-time multiplier; Infinity means "no waiting at all". */
  timeScale: number;
  /** Optional JSON seed file with more workspaces and keys (and, later, batches and jobs). */
  seedFile?: string;
  /** When set, the control API under /_emulator requires `Authorization: Bearer <token>`. */
  adminToken?: string;
  /** Secret for signed URLs; random per process unless given, persisted in the store. */
  signingSecret?: string;
  /** Public base URL used in signed URLs (defaults to the bound address). */
  publicUrl?: string;
  quiet: boolean;
  /** A request's headers must arrive within this many ms (slow-header clients are cut off with 408). */
  headersTimeoutMs: number;
  /** A connection whose request body stops moving for this long is answered 408 and closed. */
  idleTimeoutMs: number;
  /** Connections beyond this many are refused at once. */
  maxConnections: number;
  /** Reference URLs served from local folders or named servers (--url-map, repeatable); nothing unmapped beyond loopback is fetched. */
  urlMap: UrlMapping[];
  /** PEM CA (or self-signed certificate) trusted for https reference downloads. */
  caFile?: string;
  /** Emulator-clock ms a batch (uploaded or a job's output) lives before it expires. */
  batchRetentionMs: number;
}

export const DEFAULT_PORT = 9010;
export const DEFAULT_WORKSPACE = "emulator-workspace";
export const DEFAULT_API_KEY = "emulator-api-key";
export const DEFAULT_DATA_DIR = ".emulator-data";
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
/** Generous: a large upload over a slow link keeps moving; only a body that stalls this long is cut. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Staged data is ephemeral; 7 days (the emulator's pick, see docs/fidelity.md "Batch retention"). */
export const DEFAULT_BATCH_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** 100 years: expiry dates stay valid timestamps. */
const MAX_BATCH_RETENTION_MS = 100 * 365 * 24 * 3600 * 1000;

const FLAG_TO_ENV: Record<string, string> = {
  port: "PORT",
  host: "HOST",
  "data-dir": "DATA_DIR",
  workspace: "EMULATOR_WORKSPACE",
  "api-key": "EMULATOR_API_KEY",
  "time-scale": "EMULATOR_TIME_SCALE",
  seed: "EMULATOR_SEED_FILE",
  "admin-token": "EMULATOR_ADMIN_TOKEN",
  "signing-secret": "EMULATOR_SIGNING_SECRET",
  "public-url": "EMULATOR_PUBLIC_URL",
  "headers-timeout-ms": "EMULATOR_HEADERS_TIMEOUT_MS",
  "idle-timeout-ms": "EMULATOR_IDLE_TIMEOUT_MS",
  "max-connections": "EMULATOR_MAX_CONNECTIONS",
  "url-map": "EMULATOR_URL_MAP",
  "ca-file": "EMULATOR_CA_FILE",
  "batch-retention-ms": "EMULATOR_BATCH_RETENTION_MS",
};
/** Flags that may be given more than once; their values are joined with commas. */
const REPEATABLE_FLAGS = new Set(["url-map"]);

export class ConfigError extends Error {}

/** Parses `--name value`, `--name=value` and bare `--quiet` flags into env-style names. */
export function parseFlags(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"; flags look like --port 9010`);
    const [rawName, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (rawName === "quiet") {
      out.EMULATOR_QUIET = "1";
      continue;
    }
    if (rawName === "help") {
      out.HELP = "1";
      continue;
    }
    const env = FLAG_TO_ENV[rawName];
    if (!env) {
      throw new ConfigError(
        `unknown flag --${rawName}; known flags: ${Object.keys(FLAG_TO_ENV)
          .map((f) => `--${f}`)
          .join(", ")}, --quiet`,
      );
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`flag --${rawName} needs a value`);
    out[env] = REPEATABLE_FLAGS.has(rawName) && out[env] !== undefined ? `${out[env]},${value}` : value;
  }
  return out;
}

export function parseTimeScale(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 1;
  if (raw === "max") return Infinity;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`EMULATOR_TIME_SCALE must be a positive number or "max", got "${raw}"`);
  return n;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function batchRetention(raw: string | undefined): number {
  const ms = positiveInt("EMULATOR_BATCH_RETENTION_MS", raw, DEFAULT_BATCH_RETENTION_MS);
  if (ms > MAX_BATCH_RETENTION_MS) throw new ConfigError(`EMULATOR_BATCH_RETENTION_MS must be at most ${MAX_BATCH_RETENTION_MS} (100 years), got "${raw}"`);
  return ms;
}

export function resolveConfig(env: Record<string, string | undefined>, argv: readonly string[] = []): EmulatorConfig {
  const merged = { ...env, ...parseFlags(argv) };
  const portRaw = merged.PORT ?? String(DEFAULT_PORT);
  const port = Number(portRaw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be an integer 0-65535, got "${portRaw}"`);
  const workspace = merged.EMULATOR_WORKSPACE || DEFAULT_WORKSPACE;
  if (!/^[a-z0-9_-]{1,64}$/.test(workspace)) throw new ConfigError(`EMULATOR_WORKSPACE must match [a-z0-9_-]{1,64}, got "${workspace}"`);
  return {
    port,
    host: merged.HOST || "127.0.0.1",
    dataDir: merged.DATA_DIR || DEFAULT_DATA_DIR,
    workspace,
    apiKey: merged.EMULATOR_API_KEY || DEFAULT_API_KEY,
    timeScale: parseTimeScale(merged.EMULATOR_TIME_SCALE),
    seedFile: merged.EMULATOR_SEED_FILE || undefined,
    adminToken: merged.EMULATOR_ADMIN_TOKEN || undefined,
    signingSecret: merged.EMULATOR_SIGNING_SECRET || undefined,
    publicUrl: merged.EMULATOR_PUBLIC_URL || undefined,
    quiet: merged.EMULATOR_QUIET === "1",
    headersTimeoutMs: positiveInt("EMULATOR_HEADERS_TIMEOUT_MS", merged.EMULATOR_HEADERS_TIMEOUT_MS, DEFAULT_HEADERS_TIMEOUT_MS),
    idleTimeoutMs: positiveInt("EMULATOR_IDLE_TIMEOUT_MS", merged.EMULATOR_IDLE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS),
    maxConnections: positiveInt("EMULATOR_MAX_CONNECTIONS", merged.EMULATOR_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS),
    urlMap: parseUrlMap(merged.EMULATOR_URL_MAP, (message) => new ConfigError(message)),
    caFile: merged.EMULATOR_CA_FILE || undefined,
    batchRetentionMs: batchRetention(merged.EMULATOR_BATCH_RETENTION_MS),
  };
}
