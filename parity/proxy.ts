// Record-and-replay proxy. Recording forwards every request to an upstream and stores the exchange
// (request method/path/query/headers without credentials and a body summary; response status, headers
// and body). Replay answers from the store with no upstream, matching on method + path + normalized query
// + body hash; a request seen several times (polling) gets its recorded answers in order, then the last
// one again. It listens on 127.0.0.1 only. The upstream's own origin in answers (signed URLs) is
// rewritten to the proxy's, so signed PUTs and downloads are recorded too.
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { request } from "undici";

export interface Exchange {
  method: string;
  path: string;
  query: URLSearchParams;
  requestBody: Buffer;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface ProxyOptions {
  /** Where requests go (recording); not needed with `replay`. */
  upstream?: string;
  port?: number;
  /** Folder of stored exchanges: written while recording, read when replaying. */
  store?: string;
  replay?: boolean;
  /** Changes an upstream answer before it is stored and sent (tests use it to fake drift). */
  rewrite?: (ex: Exchange) => Partial<Pick<Exchange, "status" | "headers" | "body">> | void;
  log?: (line: string) => void;
}

export interface RunningProxy {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: { encoding: "utf8" | "base64"; data: string };
}

interface StoredExchange {
  key: string;
  request: {
    method: string;
    path: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    body: { bytes: number; sha256: string; contentType?: string; json?: unknown };
  };
  responses: StoredResponse[];
}

const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host", "content-length"]);
const CREDENTIALS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]);
/** Stands for the proxy's own origin in stored answers, so a replay on another port still points at itself. */
const SELF = "http://parity-proxy.self";
const sha256 = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");

/** Query sorted, `api_key` replaced by a fingerprint (the stored files never hold the key itself). */
export function normalizedQuery(q: URLSearchParams): [string, string][] {
  return [...q.entries()]
    .map(([k, v]): [string, string] => [k, k === "api_key" ? `key-sha256:${sha256(v).slice(0, 12)}` : v])
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1));
}

export function exchangeKey(method: string, pathname: string, q: URLSearchParams, body: Buffer): string {
  const query = normalizedQuery(q)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
  return `${method.toUpperCase()} ${pathname}?${query} body-sha256:${body.length ? sha256(body).slice(0, 16) : "-"}`;
}

const fileOf = (store: string, key: string) => path.join(store, `${sha256(key).slice(0, 24)}.json`);

function flat(h: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>, drop: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !drop.has(k.toLowerCase())) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function bodySummary(body: Buffer, contentType: string | undefined): StoredExchange["request"]["body"] {
  const out: StoredExchange["request"]["body"] = { bytes: body.length, sha256: sha256(body), contentType };
  if (contentType?.includes("json") && body.length <= 64 * 1024) {
    try {
      out.json = JSON.parse(body.toString("utf8"));
    } catch {
      // not JSON after all: the hash is enough
    }
  }
  return out;
}

const encodeBody = (b: Buffer): StoredResponse["body"] =>
  Buffer.from(b.toString("utf8"), "utf8").equals(b) ? { encoding: "utf8", data: b.toString("utf8") } : { encoding: "base64", data: b.toString("base64") };
const decodeBody = (b: StoredResponse["body"]) => Buffer.from(b.data, b.encoding);

function loadStore(store: string): Map<string, StoredExchange> {
  const out = new Map<string, StoredExchange>();
  if (!fs.existsSync(store)) return out;
  for (const f of fs.readdirSync(store).filter((n) => n.endsWith(".json"))) {
    const ex = JSON.parse(fs.readFileSync(path.join(store, f), "utf8")) as StoredExchange;
    out.set(ex.key, ex);
  }
  return out;
}

const readAll = (req: http.IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  if (!o.replay && !o.upstream) throw new Error("a recording proxy needs an upstream (--proxy-to URL)");
  if (o.replay && !o.store) throw new Error("replay needs a store (--store DIR)");
  const upstream = o.upstream?.replace(/\/+$/, "");
  const stored = o.store ? loadStore(o.store) : new Map<string, StoredExchange>();
  const served = new Map<string, number>();
  const log = o.log ?? (() => {});
  let origin = "";

  async function forward(req: http.IncomingMessage, url: URL, body: Buffer): Promise<Exchange> {
    const r = await request(`${upstream}${url.pathname}${url.search}`, {
      method: (req.method ?? "GET") as "GET",
      headers: flat(req.headers, HOP),
      body: body.length ? body : undefined,
    });
    let resBody = Buffer.from(await r.body.arrayBuffer());
    const headers = flat(r.headers, HOP);
    if (!headers["content-encoding"] && upstream) {
      const text = resBody.toString("utf8");
      if (text.includes(upstream)) resBody = Buffer.from(text.split(upstream).join(SELF));
      if (headers.location) headers.location = headers.location.split(upstream).join(SELF);
    }
    return { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, requestBody: body, status: r.statusCode, headers, body: resBody };
  }

  function remember(key: string, req: http.IncomingMessage, url: URL, body: Buffer, ex: Exchange) {
    const entry: StoredExchange = stored.get(key) ?? {
      key,
      request: {
        method: ex.method,
        path: url.pathname,
        query: Object.fromEntries(normalizedQuery(url.searchParams)),
        headers: flat(req.headers, new Set([...HOP, ...CREDENTIALS])),
        body: bodySummary(body, req.headers["content-type"]),
      },
      responses: [],
    };
    entry.responses.push({ status: ex.status, headers: flat(ex.headers, CREDENTIALS), body: encodeBody(ex.body) });
    stored.set(key, entry);
    if (o.store) {
      fs.mkdirSync(o.store, { recursive: true });
      fs.writeFileSync(fileOf(o.store, key), JSON.stringify(entry, null, 2) + "\n");
    }
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://proxy");
      const body = await readAll(req);
      const key = exchangeKey(req.method ?? "GET", url.pathname, url.searchParams, body);
      let status: number;
      let headers: Record<string, string>;
      let out: Buffer;
      if (o.replay) {
        const entry = stored.get(key);
        if (!entry) {
          log(`replay miss: ${key}`);
          res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ message: `parity proxy: no recorded exchange for ${key}` }));
          return;
        }
        const n = served.get(key) ?? 0;
        served.set(key, n + 1);
        const r = entry.responses[Math.min(n, entry.responses.length - 1)];
        ({ status, headers } = r);
        out = decodeBody(r.body);
      } else {
        let ex = await forward(req, url, body);
        const changed = o.rewrite?.(ex);
        if (changed) ex = { ...ex, ...changed };
        remember(key, req, url, body, ex);
        ({ status, headers, body: out } = ex);
      }
      if (!headers["content-encoding"] && out.includes(SELF)) out = Buffer.from(out.toString("utf8").split(SELF).join(origin));
      if (headers.location) headers = { ...headers, location: headers.location.split(SELF).join(origin) };
      log(`${status} ${req.method} ${url.pathname}`);
      res.writeHead(status, { ...headers, "content-length": String(out.length) }).end(out);
    })().catch((err: Error) => {
      log(`proxy error: ${err.message}`);
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `parity proxy: ${err.message}` }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
