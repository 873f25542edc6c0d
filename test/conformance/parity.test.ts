// The contract-test oracle (parity/): the emulator matches its own recorded snapshots; a loopback proxy
// in front of a real emulator that fakes one kind of drift per test (renamed field, changed type, changed
// status, dropped or "" pagination token, other error body) is caught, with the field named; the record-
// and-replay proxy answers the same with its upstream stopped.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDiffs, type Diff } from "../../parity/compare.js";
import { send, type Req, type Target } from "../../parity/http.js";
import { png } from "../../parity/media.js";
import { runParity } from "../../parity/parity.js";
import { startProxy, type Exchange } from "../../parity/proxy.js";
import { SCENARIOS } from "../../parity/scenarios/index.js";
import { DEFAULT_SNAPSHOT_DIR, readSnapshot } from "../../parity/snapshot.js";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
let emu: TestEmulator;
let target: Target;
const tmpDirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "rf-parity-"));
  tmpDirs.push(d);
  return d;
};
const fast = { pollTimeoutMs: 20_000, pollMaxIntervalMs: 100 };

beforeAll(async () => {
  emu = await startTestEmulator();
  target = { baseUrl: emu.url, apiKey: emu.apiKey, workspace: emu.workspace };
});

afterAll(async () => {
  await emu?.close();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Changes JSON answers of the upstream; `fn` returns the new status and/or body, or nothing to pass it on. */
function jsonRewrite(fn: (ex: Exchange, json: any) => { status?: number; json?: unknown } | void) {
  return (ex: Exchange) => {
    if (!ex.headers["content-type"]?.includes("json") || ex.body.length === 0) return;
    const out = fn(ex, JSON.parse(ex.body.toString("utf8")));
    if (!out) return;
    return { status: out.status ?? ex.status, body: out.json === undefined ? ex.body : Buffer.from(JSON.stringify(out.json)) };
  };
}

/** Runs one scenario through a drifting proxy in front of the emulator; returns the drift found. */
async function driftOf(scenario: string, rewrite: (ex: Exchange) => ReturnType<ReturnType<typeof jsonRewrite>>): Promise<Diff[]> {
  const proxy = await startProxy({ upstream: emu.url, rewrite });
  try {
    const r = await runParity({
      target: { ...target, baseUrl: proxy.url },
      record: false,
      snapshotDir: DEFAULT_SNAPSHOT_DIR,
      scenarios: [scenario],
      source: "drift test",
      ...fast,
    });
    return r.drift;
  } finally {
    await proxy.close();
  }
}

const hit = (diffs: Diff[], want: Partial<Diff>) => diffs.some((d) => Object.entries(want).every(([k, v]) => d[k as keyof Diff] === v));

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "parity/cli.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("the emulator against its own recording", () => {
  it("every scenario has a snapshot labelled with its source, and the emulator matches all of them", async () => {
    for (const s of SCENARIOS) {
      const snap = readSnapshot(DEFAULT_SNAPSHOT_DIR, s.name);
      expect(snap, s.name).toBeDefined();
      expect(snap!.source).toMatch(/^emulator \d+\.\d+\.\d+$/);
      expect(snap!.failure).toBeUndefined();
    }
    const r = await runParity({ target, record: false, snapshotDir: DEFAULT_SNAPSHOT_DIR, ...fast });
    expect(formatDiffs(r.drift)).toBe("");
    expect(r.results.map((x) => x.scenario)).toEqual(SCENARIOS.map((s) => s.name));
    expect(r.results.every((x) => !x.skipped && (x.run?.steps.length ?? 0) > 0)).toBe(true);
  });

  it("re-recording gives byte-identical snapshot files", async () => {
    const dir = tmp();
    const names = ["single-image-upload", "listing-pagination", "errors"];
    await runParity({
      target,
      record: true,
      snapshotDir: dir,
      scenarios: names,
      source: `emulator ${(await send(target, { method: "GET", path: "/health", apiKey: null })).res.json.version}`,
      ...fast,
    });
    for (const n of names)
      expect(fs.readFileSync(path.join(dir, `${n}.json`), "utf8"), n).toBe(fs.readFileSync(path.join(DEFAULT_SNAPSHOT_DIR, `${n}.json`), "utf8"));
  });

  it("a proxy that changes nothing adds no drift", async () => {
    expect(formatDiffs(await driftOf("single-image-upload", () => undefined))).toBe("");
  });
});

describe("drift is caught and the diff names the field", () => {
  it("a renamed field (batch.batchType → batch.type)", async () => {
    const diffs = await driftOf(
      "single-image-upload",
      jsonRewrite((ex, json) => {
        if (!/\/batches\/[^/]+$/.test(ex.path) || !json.batch) return;
        const { batchType, ...rest } = json.batch;
        return { json: { ...json, batch: { ...rest, type: batchType } } };
      }),
    );
    expect(hit(diffs, { step: "batch metadata", path: "body.batch.batchType", expected: '"simple-batch"', actual: "absent" })).toBe(true);
    expect(hit(diffs, { step: "batch metadata", path: "body.batch.type", expected: "absent" })).toBe(true);
    expect(formatDiffs(diffs)).toContain("body.batch.batchType");
  });

  it("a field of another type (createdDate as epoch milliseconds)", async () => {
    const diffs = await driftOf(
      "single-image-upload",
      jsonRewrite((ex, json) =>
        json.batch?.createdDate ? { json: { ...json, batch: { ...json.batch, createdDate: Date.parse(json.batch.createdDate) } } } : undefined,
      ),
    );
    expect(diffs).toEqual([
      { scenario: "single-image-upload", step: "batch metadata", path: "body.batch.createdDate", expected: "<iso-datetime>", actual: "<int>" },
    ]);
  });

  it("another status code (unknown batch: 400 instead of 404)", async () => {
    const diffs = await driftOf(
      "errors",
      jsonRewrite((ex) => (ex.method === "GET" && /\/batches\/[^/]+-missing$/.test(ex.path) ? { status: 400 } : undefined)),
    );
    expect(diffs).toEqual([{ scenario: "errors", step: "unknown batch", path: "status", expected: "404", actual: "400" }]);
  });

  it("a dropped pagination token (nextPageToken missing from a page)", async () => {
    const diffs = await driftOf(
      "listing-pagination",
      jsonRewrite((ex, json) => {
        if (!ex.path.endsWith("/list") || ex.query.get("pageSize") !== "1") return;
        const { nextPageToken: _dropped, ...rest } = json;
        return { json: rest };
      }),
    );
    expect(hit(diffs, { step: "list files pageSize=1 page 1", path: "body.nextPageToken", expected: "<string:token>", actual: "absent" })).toBe(true);
    // Without a token the walk ends after page 1: the recorded pages 2 and 3 are missing.
    expect(hit(diffs, { step: "list files pageSize=1 page 2", path: "step", actual: "not run" })).toBe(true);
  });

  it('an empty-string pagination token at the end ("" instead of null)', async () => {
    const diffs = await driftOf(
      "listing-pagination",
      jsonRewrite((ex, json) =>
        ex.path.endsWith("/list") && "nextPageToken" in json && json.nextPageToken === null ? { json: { ...json, nextPageToken: "" } } : undefined,
      ),
    );
    expect(hit(diffs, { step: "list files pageSize=1 page 3", path: "body.nextPageToken", expected: "null", actual: "<string:empty>" })).toBe(true);
    expect(hit(diffs, { step: "list files pageSize=2", path: "body.nextPageToken" })).toBe(false);
  });

  it("another error body shape ({detail, code} instead of {message, error})", async () => {
    const diffs = await driftOf(
      "errors",
      jsonRewrite((ex, json) => (ex.status >= 400 && typeof json.message === "string" ? { json: { detail: json.message, code: ex.status } } : undefined)),
    );
    expect(hit(diffs, { step: "unknown batch", path: "body.message", expected: "<string:text>", actual: "absent" })).toBe(true);
    expect(hit(diffs, { step: "unknown batch", path: "body.detail", expected: "absent", actual: "<string:text>" })).toBe(true);
    expect(hit(diffs, { step: "start job with the notificationUrl typo", path: "body.message", actual: "absent" })).toBe(true);
    expect(diffs.every((d) => !d.allowedBy)).toBe(true);
  });

  it("a new enum value (shard statusType succeeded instead of success) and naive timestamps", async () => {
    const diffs = await driftOf(
      "tar-shard-upload",
      jsonRewrite((ex, json) => {
        if (!ex.path.endsWith("/shards")) return;
        const shards = json.shards?.map((s: any) => ({
          ...s,
          statusType: s.statusType === "success" ? "succeeded" : s.statusType,
          eventTimestamp: String(s.eventTimestamp).replace(/Z$/, ""),
        }));
        return { json: { ...json, shards } };
      }),
    );
    expect(hit(diffs, { step: "shards (list-ingest details)", path: "body.shards[].statusType", expected: '"success"', actual: '"succeeded"' })).toBe(true);
    expect(
      hit(diffs, { step: "shards (list-ingest details)", path: "body.shards[].eventTimestamp", expected: "<iso-datetime>", actual: "<iso-datetime:naive>" }),
    ).toBe(true);
  });

  it("the CLI prints the diff and exits 1 on drift, 0 without", async () => {
    const proxy = await startProxy({
      upstream: emu.url,
      rewrite: jsonRewrite((ex) => (ex.status === 404 && /\/jobs\/[^/]+-nojob$/.test(ex.path) ? { status: 410 } : undefined)),
    });
    try {
      const common = ["--api-key", emu.apiKey, "--workspace", emu.workspace, "--scenario", "errors", "--quiet"];
      const [drift, clean] = await Promise.all([runCli(["--target", proxy.url, ...common]), runCli(["--target", emu.url, ...common])]);
      expect(drift.code, drift.out).toBe(1);
      expect(drift.out).toMatch(/errors › unknown job\n\s+status\n\s+expected: 404\n\s+actual:\s+410/);
      expect(drift.out).toContain("DRIFT: 1 difference(s)");
      expect(clean.code, clean.out).toBe(0);
      expect(clean.out).toContain("✓ errors: matches");
    } finally {
      await proxy.close();
    }
  });
});

/** A fixed request sequence (with a signed PUT through the proxy); answers with the proxy's origin masked. */
async function sequence(t: Target, origin: string): Promise<{ status: number; text: string }[]> {
  const staging = `/data-staging/v1/external/${t.workspace}/batches`;
  const out: { status: number; text: string }[] = [];
  const go = async (req: Req) => {
    const { res } = await send(t, req);
    out.push({ status: res.status, text: res.text.split(origin).join("<proxy>") });
    return res;
  };
  await go({ method: "GET", path: "/" });
  await go({
    method: "POST",
    path: `${staging}/rp-batch/upload/image`,
    query: { fileName: "a.png" },
    multipart: { field: "a.png", fileName: "a.png", data: png(7) },
  });
  await go({ method: "GET", path: `${staging}/rp-batch/count` });
  const slot = await go({ method: "POST", path: `${staging}/rp-shards/bulk-upload/image-files` });
  await go({ method: "PUT", path: slot.json.signedURLDetails.uploadURL, raw: Buffer.alloc(0), headers: slot.json.signedURLDetails.extensionHeaders });
  await go({ method: "GET", path: `${staging}`, query: { pageSize: 1 } });
  await go({ method: "GET", path: `${staging}/rp-missing` });
  await go({ method: "GET", path: `${staging}`, apiKey: "wrong-key" });
  await go({
    method: "POST",
    path: `/batch-processing/v1/external/${t.workspace}/jobs/rp-job`,
    json: { type: "simple-image-processing-v1", notificationUrl: "x" },
  });
  return out;
}

describe("record-and-replay proxy", () => {
  let replayChild: ChildProcess | undefined;
  afterAll(() => {
    replayChild?.kill("SIGKILL");
  });

  it("records through the proxy (upstream: a second emulator), then replays the same answers with the upstream stopped", async () => {
    const upstream = await startTestEmulator();
    const store = tmp();
    const snapDir = tmp();
    const rec = await startProxy({ upstream: upstream.url, store });
    const viaRec: Target = { baseUrl: rec.url, apiKey: upstream.apiKey, workspace: upstream.workspace };
    const recorded = await sequence(viaRec, rec.url);
    expect(recorded.map((r) => r.status)).toEqual([200, 200, 200, 200, 400, 200, 404, 401, 400]);
    const scenarios = ["single-image-upload", "tar-shard-upload", "job-jsonl", "errors"];
    const recordRun = await runParity({ target: viaRec, record: true, snapshotDir: snapDir, scenarios, runTag: "rproxy", source: "proxy test", ...fast });
    expect(recordRun.results.every((r) => r.run && !r.run.failure)).toBe(true);
    await rec.close();
    await upstream.close();
    await expect(send({ ...viaRec, baseUrl: upstream.url }, { method: "GET", path: "/health", apiKey: null })).rejects.toThrow();

    // The store holds no credentials: the key is a fingerprint, auth headers are dropped.
    const files = fs.readdirSync(store).map((f) => fs.readFileSync(path.join(store, f), "utf8"));
    expect(files.length).toBeGreaterThan(20);
    expect(files.some((f) => f.includes(upstream.apiKey))).toBe(false);
    expect(files.every((f) => !/"authorization"/i.test(f))).toBe(true);
    expect(files.some((f) => /"api_key": "key-sha256:[0-9a-f]{12}"/.test(f))).toBe(true);

    // Replay through the CLI: `npm run parity -- proxy --store DIR --replay --port 0`.
    replayChild = spawn(process.execPath, ["--import", "tsx", "parity/cli.ts", "proxy", "--store", store, "--replay", "--port", "0", "--quiet"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    replayChild.stdout!.on("data", (d) => (out += d));
    replayChild.stderr!.on("data", (d) => (out += d));
    const replayUrl = (await waitFor(() => /replaying on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 20_000, "the replay proxy to listen"))!;
    const viaReplay: Target = { ...viaRec, baseUrl: replayUrl };
    expect(await sequence(viaReplay, replayUrl)).toEqual(recorded);
    const replayRun = await runParity({ target: viaReplay, record: false, snapshotDir: snapDir, scenarios, runTag: "rproxy", source: "proxy test", ...fast });
    expect(formatDiffs(replayRun.drift)).toBe("");
    const miss = await send(viaReplay, { method: "GET", path: "/never/recorded" });
    expect(miss.res.status).toBe(502);
    expect(miss.res.json.message).toContain("no recorded exchange");
  });
});
