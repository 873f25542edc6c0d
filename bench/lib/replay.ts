// The floor for whole-flow rows: a server that answers recorded responses from memory. Recording
// forwards every request to an upstream (the emulator) and keeps each answer under method + path +
// sorted query; replay answers a request with its recorded answers in order (polling), then the last
// one again, doing no work at all. The upstream's origin in answers (signed URLs) is rewritten to the
// server's own, so signed PUTs and downloads come back to it.
// Not parity/proxy.ts: that one matches bodies by hash, and the official client's multipart uploads
// carry a random boundary (and its shards a random ingest id), so no replayed body would match.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ReplayServer {
  url: string;
  /** Requests answered so far. */
  served(): number;
  /** Requests with no recorded answer (answered 502). */
  misses(): string[];
  /** Stops recording: from now on every request is answered from memory. */
  replay(): void;
  close(): Promise<void>;
}

const SELF = "http://replay.self";
const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "date", "host"]);

const keyOf = (method: string, url: URL) =>
  `${method} ${url.pathname}?${[...url.searchParams]
    .sort(([a, x], [b, y]) => (a === b ? x.localeCompare(y) : a.localeCompare(b)))
    .map(([k, v]) => `${k}=${v}`)
    .join("&")}`;

const readAll = (req: http.IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

const swap = (body: Buffer, from: string, to: string) => (body.includes(from) ? Buffer.from(body.toString("utf8").split(from).join(to)) : body);

/** Starts recording through to `upstream` (call replay() once the flow was recorded). */
export async function startReplayServer(upstream: string): Promise<ReplayServer> {
  const answers = new Map<string, Answer[]>();
  const next = new Map<string, number>();
  const missed: string[] = [];
  let recording = true;
  let served = 0;
  let origin = "";

  async function record(req: http.IncomingMessage, url: URL, key: string): Promise<Answer> {
    const body = await readAll(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k) && typeof v === "string") headers[k] = v;
    const r = await request(`${upstream}${url.pathname}${url.search}`, { method: req.method as "GET", headers, body: body.length ? body : undefined });
    const out: Answer = { status: r.statusCode, headers: {}, body: swap(Buffer.from(await r.body.arrayBuffer()), upstream, SELF) };
    for (const [k, v] of Object.entries(r.headers)) if (!DROP.has(k) && typeof v === "string") out.headers[k] = v;
    answers.set(key, [...(answers.get(key) ?? []), out]);
    return out;
  }

  function recorded(key: string): Answer | undefined {
    const list = answers.get(key);
    if (!list) return undefined;
    const n = next.get(key) ?? 0;
    next.set(key, n + 1);
    return list[Math.min(n, list.length - 1)];
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://replay");
    const key = keyOf(req.method ?? "GET", url);
    served++;
    const send = (a: Answer) => {
      const body = swap(a.body, SELF, origin);
      res.writeHead(a.status, { ...a.headers, "content-length": String(body.length) }).end(body);
    };
    if (recording) {
      record(req, url, key).then(send, (err: Error) => res.writeHead(502).end(err.message));
      return;
    }
    // Replay: the body is drained, not looked at.
    req.resume();
    req.on("end", () => {
      const a = recorded(key);
      if (a) return send(a);
      missed.push(key);
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ message: `no recorded answer for ${key}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    served: () => served,
    misses: () => [...missed],
    replay: () => {
      recording = false;
      next.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
