// Starts a real emulator on a free loopback port for a test file; requests go over HTTP with undici.
import { request, type Dispatcher } from "undici";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmulator, type RunningEmulator } from "../../src/server.js";
import type { EmulatorConfig } from "../../src/config.js";
import { controlClient, type ControlClient } from "../../src/testing.js";

// Every test's emulator checks its own responses against its published schemas (src/routes/response-check.ts);
// set here so in-process emulators and spawned child processes alike inherit it.
process.env.EMULATOR_CHECK_RESPONSES ??= "1";

export interface TestEmulator extends RunningEmulator {
  dataDir: string;
  /** The package's typed client of /_emulator (reset, seed, clock, webhooks, receiver...), with the admin token if one is set. */
  controls: ControlClient;
  /** GET/POST/... relative to the base URL; adds api_key unless `apiKey: null`. */
  call(
    method: string,
    pathAndQuery: string,
    opts?: { apiKey?: string | null; json?: unknown; body?: any; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Record<string, any>; json: any; text: string }>;
  staging(batchId?: string): string;
  jobs(jobId?: string): string;
}

export async function startTestEmulator(overrides: Partial<EmulatorConfig> = {}): Promise<TestEmulator> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-test-"));
  const running = await startEmulator({ port: 0, host: "127.0.0.1", dataDir, timeScale: Infinity, quiet: true, ...overrides });
  const call: TestEmulator["call"] = async (method, pathAndQuery, opts = {}) => {
    const url = new URL(running.url + pathAndQuery);
    const key = opts.apiKey === undefined ? running.apiKey : opts.apiKey;
    if (key !== null && !url.searchParams.has("api_key")) url.searchParams.set("api_key", key);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["content-type"] ??= "application/json";
    }
    return readResponse(await request(url, { method: method as any, body, headers }));
  };
  return {
    ...running,
    dataDir,
    controls: controlClient(running.url, { adminToken: overrides.adminToken }),
    call,
    staging: (batchId) => `/data-staging/v1/external/${running.workspace}/batches${batchId ? `/${batchId}` : ""}`,
    jobs: (jobId) => `/batch-processing/v1/external/${running.workspace}/jobs${jobId ? `/${jobId}` : ""}`,
    close: async () => {
      await running.close();
      if (!overrides.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads an undici response whole: status, headers, text, and the JSON when the text is JSON. */
export async function readResponse(res: Dispatcher.ResponseData): Promise<{ status: number; headers: Record<string, any>; json: any; text: string }> {
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/** Polls `fn` until it returns a truthy value or the (real-time) deadline passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
