// The request journal stays cheap to read and never takes the emulator down:
// - reading 10k large entries (long query strings and headers) does not load them all at once: the
//   server's resident memory grows by a bounded amount (read from /proc/<pid>/status of a child
//   emulator), pages are capped in size and carry on with `after` / `before`;
// - a journal write that fails (SQLITE_FULL: the database may not grow) neither throws out of the
//   flush timer nor fails the request; the rows are kept and written once writes work again.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { readResponse, startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";

const ENTRIES = 10_000;
const PAD = 5000;

const dirs: string[] = [];
let child: ChildEmulator | undefined;
afterAll(async () => {
  await child?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Resident set size of a process, in MB: now (VmRSS) or its peak (VmHWM). */
function memMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Resets the peak RSS counter (VmHWM) of a process; false when the kernel refuses. */
function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

async function get(url: string): Promise<{ status: number; json: any; bytes: number }> {
  const r = await readResponse(await request(url));
  return { status: r.status, json: r.json, bytes: Buffer.byteLength(r.text) };
}

describe("reading a large journal", () => {
  it("keeps the server's memory bounded and pages with a size cap", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-journal-mem-"));
    dirs.push(dir);
    child = await startChildEmulator(dir);
    const base = child.url;
    // 10k requests, each with a ~5 kB query string and a ~5 kB user-agent: ~100 MB of journal.
    const agent = new Agent({ connections: 16 });
    const pad = "q".repeat(PAD);
    let next = 0;
    const lane = async () => {
      while (next < ENTRIES) {
        const i = next++;
        const res = await request(`${base}/data-staging/v1/external/nobody/batches?i=${i}&pad=${pad}`, {
          dispatcher: agent,
          headers: { "user-agent": `ua-${i}-${"u".repeat(PAD)}` },
        });
        await res.body.dump();
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
    await agent.close();
    expect((await get(`${base}/_emulator/journal/count`)).json.count).toBe(ENTRIES);

    const before = memMb(child.pid, "VmRSS");
    const peakReset = resetPeak(child.pid);
    let sampledPeak = before;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, memMb(child!.pid, "VmRSS"))), 5);
    let first: Awaited<ReturnType<typeof get>>;
    try {
      first = await get(`${base}/_emulator/journal?limit=10000`);
      await get(`${base}/_emulator/journal?limit=10000&order=desc`);
      await get(`${base}/_emulator/journal?limit=10000&pathPattern=${encodeURIComponent("/data-staging/**")}`);
      await get(`${base}/_emulator/journal/count?pathPattern=${encodeURIComponent("/data-staging/**")}`);
    } finally {
      clearInterval(sampler);
    }
    const peak = Math.max(sampledPeak, peakReset ? memMb(child.pid, "VmHWM") : 0);
    console.log(
      `[measure] journal reads of ${ENTRIES} ~10 kB entries: RSS ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB (+${(peak - before).toFixed(0)} MB)`,
    );
    expect(first.status).toBe(200);
    expect(first.json.count).toBe(ENTRIES);
    expect(peak - before).toBeLessThan(200);

    // The page stopped at the size cap; the rest follows with after=<last seq>, in order, nothing lost.
    expect(first.json.truncated).toBe(true);
    expect(first.bytes).toBeLessThan(24 * 1024 * 1024);
    const seen: number[] = first.json.entries.map((e: any) => e.seq);
    let page = first.json;
    while (page.truncated || seen.length < ENTRIES) {
      const after = page.entries[page.entries.length - 1].seq;
      page = (await get(`${base}/_emulator/journal?limit=10000&after=${after}`)).json;
      expect(page.entries.length).toBeGreaterThan(0);
      seen.push(...page.entries.map((e: any) => e.seq));
    }
    expect(seen).toHaveLength(ENTRIES);
    expect(seen.every((s, i) => i === 0 || s > seen[i - 1])).toBe(true);
    // Newest first, then on with before=<last seq>.
    const desc = (await get(`${base}/_emulator/journal?limit=10000&order=desc`)).json;
    const lastDesc = desc.entries[desc.entries.length - 1].seq;
    const older = (await get(`${base}/_emulator/journal?limit=3&order=desc&before=${lastDesc}`)).json;
    expect(older.entries.map((e: any) => e.seq)).toEqual([lastDesc - 1, lastDesc - 2, lastDesc - 3]);
    expect(desc.entries[0].query).toContain(`pad=${pad}`);
    expect(desc.entries[0].headers["user-agent"]).toMatch(/^ua-\d+-u+$/);
  });
});

describe("a journal write that fails", () => {
  let emu: TestEmulator | undefined;
  afterAll(async () => emu?.close());

  it("does not throw from the flush or fail requests; the rows are written once the store accepts writes again", async () => {
    emu = await startTestEmulator();
    const db = emu.emulator.db;
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args.map(String).join(" "));
    const pages = db.pragma("page_count", { simple: true }) as number;
    try {
      // The database may not grow any more: every journal flush meets SQLITE_FULL.
      db.pragma(`max_page_count = ${pages}`);
      for (let i = 0; i < 700; i++) {
        const r = await emu.call("GET", `${emu.staging()}?i=${i}&pad=${"p".repeat(2000)}`);
        expect(r.status).toBe(200);
      }
      // Past a timer flush too.
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      db.pragma("max_page_count = 1073741823");
      console.error = original;
    }
    const journalErrors = errors.filter((e) => /journal/i.test(e));
    expect(journalErrors.length).toBeGreaterThanOrEqual(1);
    expect(journalErrors.length).toBeLessThanOrEqual(2);
    const count = await waitFor(
      async () => {
        const n = await emu!.controls.journalCount();
        return n >= 700 ? n : 0;
      },
      5000,
      "the kept journal rows to be written",
    );
    expect(count).toBe(700);
  });
});
