// Load generation with autocannon (installed on demand in bench/.peers), always time-bounded.
import { createRequire } from "node:module";
import path from "node:path";
import { PEERS } from "./procs.js";

export interface LoadResult {
  rps: number;
  mbps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
}

export interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  connections: number;
  durationS: number;
  /** Varies each request (e.g. a unique file name per upload). */
  pathFor?: (i: number) => string;
}

export function autocannon(): any {
  const require = createRequire(path.join(PEERS, "package.json"));
  return require("autocannon");
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const ac = autocannon();
  let i = 0;
  const request: Record<string, unknown> = { method: opts.method ?? "GET", headers: opts.headers, body: opts.body };
  if (opts.pathFor) request.setupRequest = (req: any) => ({ ...req, path: opts.pathFor!(i++) });
  const result = await ac({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationS,
    requests: [request],
    timeout: 30,
  });
  return {
    rps: result.requests.average,
    mbps: result.throughput.average / 1024 / 1024,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
