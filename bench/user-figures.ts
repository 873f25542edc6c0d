// The users' figures: what the official client's whole flow costs against the emulator next to a
// server that answers the same recorded responses from memory (the floor), and what a suite pays per
// test for a reset and a seed. Sections of `npm run bench` (flow, pertest).
import { request } from "undici";
import { DEFAULT_API_KEY, DEFAULT_WORKSPACE } from "../src/config.js";
import { imageFolder } from "../test/helpers/fixtures.js";
import { assertRealClientAvailable } from "../test/helpers/real-client.js";
import { runClientFlow, type FlowResult } from "./lib/client-flow.js";
import { spawnEmulator } from "./lib/procs.js";
import { startReplayServer } from "./lib/replay.js";
import { f, median, percentile, type Row } from "./lib/report.js";

const KEY = DEFAULT_API_KEY;

export interface SectionEnv {
  quick: boolean;
  /** A fresh folder under bench/.work. */
  tmpDir: (name: string) => string;
}

/**
 * The users' figure: the official client's whole flow (40 images from a folder → image job → export
 * of its results) against the emulator, next to the same client against a server answering the
 * same flow's recorded responses from memory (the floor: everything but the emulator's own work).
 */
export async function clientFlow({ quick, tmpDir }: SectionEnv): Promise<Row> {
  assertRealClientAvailable();
  const rounds = quick ? 2 : 5;
  const work = tmpDir("flow");
  const images = imageFolder(work, "images", 40);
  const o = { apiKey: KEY, images, work, batchId: "flow-batch", jobId: "flow-job" };
  const emu = await spawnEmulator(tmpDir("flow-data"));
  const floor = await startReplayServer(emu.url);
  try {
    const recorded = await runClientFlow(floor.url, o);
    const reset = () =>
      request(`${emu.url}/_emulator/reset`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }).then((r) => r.body.text());
    const e: FlowResult[] = [];
    const r: FlowResult[] = [];
    // Alternating runs, the emulator's from an empty world each time (the reset is not timed).
    for (let i = 0; i < rounds; i++) {
      await reset();
      e.push(await runClientFlow(emu.url, o));
      floor.replay();
      r.push(await runClientFlow(floor.url, o));
    }
    const em = median(e.map((x) => x.ms));
    const fm = median(r.map((x) => x.ms));
    const misses = floor.misses();
    const steps = (xs: FlowResult[]) =>
      Object.keys(xs[0].steps)
        .map((k) => `${k} ${f(median(xs.map((x) => x.steps[k] ?? 0)), 0)}`)
        .join(", ");
    return {
      section: "flow",
      metric: `official client, whole flow: create-batch-of-images (40 PNGs) → process-images-with-workflow → show-job-details until it ends → export-batch (median of ${rounds}, ${recorded.commands} client processes)`,
      emulator: `${f(em / 1000, 2)} s`,
      baseline: `replay from memory ${f(fm / 1000, 2)} s`,
      ratio: `${f(em / fm, 2)}× the floor`,
      goal: "≤ 1.2× the floor",
      verdict: em <= 1.2 * fm && !misses.length ? "met" : "missed",
      note: `ms per step, emulator: ${steps(e)}; floor: ${steps(r)}; polls ${e.map((x) => x.polls).join("/")} vs ${r.map((x) => x.polls).join("/")}; ${e[0].exported} files exported${misses.length ? `; ${misses.length} requests unknown to the replay: ${misses[0]}` : ""}`,
    };
  } finally {
    await floor.close();
    await emu.stop();
  }
}

/** What a suite pays per test: POST /_emulator/reset, then a seed of one batch of 100 images, over HTTP. */
export async function perTest({ quick, tmpDir }: SectionEnv): Promise<Row> {
  const runs = quick ? 10 : 40;
  const emu = await spawnEmulator(tmpDir("pertest"));
  const floor = await startReplayServer(emu.url);
  const post = async (base: string, p: string, body: unknown) => {
    const res = await request(`${base}/_emulator${p}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${p} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  };
  const once = async (base: string) => {
    const t = performance.now();
    await post(base, "/reset", {});
    await post(base, "/seed", { batches: [{ batchId: "per-test", images: { count: 100 } }] });
    return performance.now() - t;
  };
  try {
    await once(floor.url); // recorded
    floor.replay();
    const e: number[] = [];
    const r: number[] = [];
    for (let i = -1; i < runs; i++) {
      const a = await once(emu.url);
      const b = await once(floor.url);
      if (i < 0) continue; // warm-up
      e.push(a);
      r.push(b);
    }
    const res = await request(`${emu.url}/data-staging/v1/external/${DEFAULT_WORKSPACE}/batches/per-test/count?api_key=${KEY}`);
    const count = (await res.body.json()) as { count?: number };
    return {
      section: "pertest",
      metric: `per-test cost: reset + seed of one batch of 100 images over HTTP (p50 of ${runs}, alternating with the replay)`,
      emulator: `${f(median(e), 1)} ms (p90 ${f(percentile(e, 0.9), 1)} ms)`,
      baseline: `the same two requests replayed from memory ${f(median(r), 1)} ms`,
      ratio: `${f(median(e) / median(r), 1)}× the floor`,
      goal: "",
      verdict: count.count === 100 ? "info" : "missed",
      note: `${count.count} files counted after the last seed`,
    };
  } finally {
    await floor.close();
    await emu.stop();
  }
}
