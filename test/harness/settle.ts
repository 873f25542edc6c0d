// The settle phase, over HTTP only: after the last kill the emulator runs undisturbed until every
// shard and ingest is indexed, every job is terminal and no webhook is pending.
import { request } from "undici";
import type { Account } from "./crash-workload.js";

export interface Backlog {
  shardsPending: number;
  jobsActive: number;
  webhooksPending: number;
}

async function getJson(url: string): Promise<any> {
  const res = await request(url, { headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${url.replace(/api_key=[^&]+/, "api_key=…")} answered ${res.statusCode}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** What is still in progress: pending shards and webhooks (overview), non-terminal jobs (jobs listing of each account). */
export async function backlog(baseUrl: string, accounts: readonly Account[]): Promise<Backlog> {
  const overview = await getJson(`${baseUrl}/_emulator/overview`);
  let shardsPending = 0;
  for (const w of overview.workspaces ?? []) {
    for (const b of w.batches ?? []) for (const s of b.shards ?? []) if (s.statusType === "info") shardsPending += s.shards;
  }
  let jobsActive = 0;
  for (const a of accounts) {
    let token: string | null = null;
    for (let page = 0; page < 1000; page++) {
      const q: string = `api_key=${a.key}&pageSize=1000${token ? `&nextPageToken=${encodeURIComponent(token)}` : ""}`;
      const r = await getJson(`${baseUrl}/batch-processing/v1/external/${a.ws}/jobs?${q}`);
      jobsActive += (r.jobs as { isTerminal: boolean }[]).filter((j) => !j.isTerminal).length;
      token = r.nextPageToken;
      if (!token) break;
    }
  }
  return { shardsPending, jobsActive, webhooksPending: overview.webhooks?.pending ?? 0 };
}

/** Polls until nothing is in progress; resolves with the last backlog seen (all zero when settled). */
export async function settle(baseUrl: string, accounts: readonly Account[], timeoutMs: number): Promise<{ settled: boolean; ms: number; last: Backlog }> {
  const started = Date.now();
  for (;;) {
    const last = await backlog(baseUrl, accounts);
    const settled = last.shardsPending === 0 && last.jobsActive === 0 && last.webhooksPending === 0;
    if (settled || Date.now() - started > timeoutMs) return { settled, ms: Date.now() - started, last };
    await new Promise((r) => setTimeout(r, 100));
  }
}
