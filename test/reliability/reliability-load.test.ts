// Load: many concurrent uploaders (several per batch, so implicit batch creation races too) while
// pollers hammer job status, all bounded in time. Zero 5xx, zero lost or duplicated files, exact counts,
// every byte as sent. CI mode is small; LOAD_FULL=1 runs 200 uploaders × 20 images.
import crypto from "node:crypto";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";

const FULL = process.env.LOAD_FULL === "1";
const UPLOADERS = FULL ? 200 : 40;
const PER_UPLOADER = FULL ? 20 : 5;
const BATCHES = FULL ? 20 : 8;
const POLLERS = FULL ? 20 : 5;
const BUDGET_MS = FULL ? 240_000 : 60_000;

let emu: TestEmulator;
let agent: Agent;
beforeAll(async () => {
  emu = await startTestEmulator();
  agent = new Agent({ connections: UPLOADERS + POLLERS + 10, pipelining: 1 });
});
afterAll(async () => {
  await agent?.close();
  await emu?.close();
});

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

describe(`load: ${UPLOADERS} uploaders × ${PER_UPLOADER} images + ${POLLERS} job pollers`, () => {
  it("loses nothing, duplicates nothing, never answers 5xx, within the time budget", async () => {
    const started = Date.now();
    const statuses = new Map<number, number>();
    const note = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    const expected = new Map<string, Map<string, string>>();
    let retried = 0;

    // A job for the pollers to watch while uploads run.
    const seed = await emu.call("POST", "/_emulator/seed", { apiKey: null, json: { batches: [{ batchId: "load-job-input", images: { count: 300 } }] } });
    expect(seed.status).toBe(200);
    const created = await emu.call("POST", emu.jobs("load-job"), {
      json: {
        type: "simple-image-processing-v1",
        jobInput: { type: "staging-batch-input-v1", batchId: "load-job-input" },
        computeConfiguration: { type: "compute-configuration-v2", machineType: "cpu" },
        processingSpecification: { type: "workflows-processing-specification-v1", workspace: emu.workspace, workflowId: "load-wf" },
      },
    });
    expect(created.status).toBe(200);

    let uploadsDone = false;
    let polls = 0;
    const pollers = Array.from({ length: POLLERS }, async () => {
      while (!uploadsDone && Date.now() - started < BUDGET_MS) {
        const res = await request(`${emu.url}${emu.jobs("load-job")}?api_key=${emu.apiKey}`, { dispatcher: agent });
        const body = (await res.body.json()) as any;
        note(res.statusCode);
        polls++;
        expect(res.statusCode).toBe(200);
        expect(body.job.jobId).toBe("load-job");
      }
    });

    const uploaders = Array.from({ length: UPLOADERS }, async (_, u) => {
      const batch = `load-${u % BATCHES}`;
      for (let k = 0; k < PER_UPLOADER; k++) {
        const name = `u${u}-k${k}.png`;
        const data = png(1_000_000 + u * 1000 + k);
        const m = multipart([{ field: name, filename: name, data }]);
        // Retries only on what the official client retries (408/429/502/503/504); anything else is final.
        for (let attempt = 0; ; attempt++) {
          const res = await request(`${emu.url}${emu.staging(batch)}/upload/image?api_key=${emu.apiKey}&fileName=${name}`, {
            method: "POST",
            body: m.body,
            headers: { "content-type": m.contentType },
            dispatcher: agent,
            headersTimeout: 60_000,
            bodyTimeout: 60_000,
          });
          const text = await res.body.text();
          note(res.statusCode);
          if ([408, 429, 502, 503, 504].includes(res.statusCode) && attempt < 3) {
            retried++;
            continue;
          }
          expect(res.statusCode, `${name}: ${text.slice(0, 300)}`).toBe(200);
          break;
        }
        if (!expected.has(batch)) expected.set(batch, new Map());
        expected.get(batch)!.set(name, sha(data));
      }
    });
    await Promise.all(uploaders);
    const uploadMs = Date.now() - started;
    uploadsDone = true;
    await Promise.all(pollers);

    let total = 0;
    for (const [batch, files] of expected) {
      const count = await emu.call("GET", `${emu.staging(batch)}/count`);
      expect(count.json.count, batch).toBe(files.size);
      const seen = new Map<string, string>();
      let token: string | null = null;
      do {
        const page: any = await emu.call("GET", `${emu.staging(batch)}/list?pageSize=1000${token ? `&nextPageToken=${token}` : ""}`);
        for (const f of page.json.filesMetadata) {
          expect(seen.has(f.fileName), `duplicate ${f.fileName}`).toBe(false);
          const res = await request(f.downloadURL, { dispatcher: agent });
          seen.set(f.fileName, sha(Buffer.from(await res.body.arrayBuffer())));
        }
        token = page.json.nextPageToken;
      } while (token);
      expect(seen.size).toBe(files.size);
      for (const [name, digest] of files) expect(seen.get(name), name).toBe(digest);
      total += seen.size;
    }
    expect(total).toBe(UPLOADERS * PER_UPLOADER);
    const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0);
    expect(fiveXX).toBe(0);
    const job = await waitFor(
      async () => {
        const j = (await emu.call("GET", emu.jobs("load-job"))).json.job;
        return j.isTerminal ? j : undefined;
      },
      30_000,
      "the polled job to finish",
    );
    expect(job.error).toBe(false);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(BUDGET_MS);
    console.log(
      `[load] ${UPLOADERS * PER_UPLOADER} uploads from ${UPLOADERS} uploaders into ${BATCHES} batches in ${uploadMs} ms (${Math.round((UPLOADERS * PER_UPLOADER) / (uploadMs / 1000))}/s) with ${polls} status polls; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${retried} retries; 0 lost, 0 duplicated, ${fiveXX} 5xx; total ${elapsed} ms`,
    );
  }, 300_000);
});
