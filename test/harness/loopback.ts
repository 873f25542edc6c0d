// The crash harness's loopback peers, alive for the whole run while emulators come and go:
// a file server the emulator downloads image references from, and a webhook receiver that fails a
// share of deliveries with 500 (until the settle phase) and remembers which events it accepted.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { png } from "../helpers/media.js";
import type { Rng } from "./random.js";

export interface FileServer {
  /** URL serving png(seed): GET /png/<seed>. */
  urlFor(seed: number): string;
  served(): number;
  close(): Promise<void>;
}

export interface HookReceiver {
  url: string;
  /** Share of deliveries answered 500 from now on (0 in the settle phase). */
  setFailRatio(ratio: number): void;
  /** event_ids answered 2xx at least once. */
  acceptedEvents(): ReadonlySet<string>;
  stats(): { requests: number; failed: number; accepted: number; events: number };
  close(): Promise<void>;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function startFileServer(): Promise<FileServer> {
  let served = 0;
  const server = http.createServer((req, res) => {
    const m = /^\/png\/(\d+)$/.exec((req.url ?? "").split("?")[0]);
    if (!m) return void res.writeHead(404).end();
    const body = png(Number(m[1]));
    served++;
    res.writeHead(200, { "content-type": "image/png", "content-length": body.length }).end(body);
  });
  const base = await listen(server);
  return { urlFor: (seed) => `${base}/png/${seed}`, served: () => served, close: () => closeServer(server) };
}

export async function startHookReceiver(rng: Rng, failRatio: number): Promise<HookReceiver> {
  let ratio = failRatio;
  let requests = 0;
  let failed = 0;
  const seen = new Set<string>();
  const accepted = new Set<string>();
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      requests++;
      let eventId: string | undefined;
      try {
        eventId = JSON.parse(raw)?.event_id;
      } catch {
        // Not JSON: answered all the same, counted as no event.
      }
      if (eventId) seen.add(eventId);
      const fail = rng.chance(ratio);
      if (fail) failed++;
      else if (eventId) accepted.add(eventId);
      res.writeHead(fail ? 500 : 200, { "content-type": "application/json" }).end("{}");
    });
  });
  const base = await listen(server);
  return {
    url: `${base}/hook`,
    setFailRatio: (r) => (ratio = r),
    acceptedEvents: () => accepted,
    stats: () => ({ requests, failed, accepted: accepted.size, events: seen.size }),
    close: () => closeServer(server),
  };
}
