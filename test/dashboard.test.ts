// The dashboard in a real headless browser (Debian's chromium driven by playwright-core): images are
// uploaded and a job started over HTTP, then the page shows the batch, and the job moving stage by
// stage to completion as the page's own "next timer" button advances a manual clock; output
// batches get download links; a screenshot goes to test-results/dashboard.png.
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { png } from "./helpers/fixtures.js";
import { startTestEmulator, type TestEmulator } from "./helpers/emulator.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

let emu: TestEmulator;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) return;
  emu = await startTestEmulator();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await emu?.close();
});

async function uploadImage(batchId: string, name: string, seed: number) {
  const form = new FormData();
  form.append(name, new Blob([new Uint8Array(png(seed, 24))]), name);
  const res = await request(`${emu.url}${emu.staging(batchId)}/upload/image?api_key=${emu.apiKey}&fileName=${name}&displayName=Street%20photos`, { method: "POST", body: form });
  expect(res.statusCode, await res.body.text()).toBe(200);
}

/** Waits until the page has rendered at least once more after `since`. */
async function rendered(since: number) {
  await page.waitForFunction((n) => Number(document.body.dataset.renders ?? 0) > n, since, { timeout: 10_000 });
}
const renders = () => page.evaluate(() => Number(document.body.dataset.renders ?? 0));

// CI installs chromium (.ci/run); elsewhere a missing browser skips this file instead of failing it.
const haveBrowser = fs.existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

describe.skipIf(!haveBrowser)("dashboard", () => {
  it("shows batches, a job moving to completion with a manual clock, outputs with download links", async () => {
    for (let i = 0; i < 5; i++) await uploadImage("street-photos", `img-${i}.png`, i);
    const clock = await emu.call("POST", "/_emulator/clock", { apiKey: null, json: { mode: "manual" } });
    expect(clock.status).toBe(200);
    const hook = `${emu.url}/_emulator/receiver/dashboard`;
    const job = await emu.call("POST", emu.jobs("street-job"), {
      json: {
        type: "simple-image-processing-v1",
        jobInput: { type: "staging-batch-input-v1", batchId: "street-photos" },
        computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
        processingSpecification: { type: "workflows-processing-specification-v1", workspace: emu.workspace, workflowId: "detect-cars", persistImagesOutputs: false, aggregationFormat: "csv" },
        notificationsURL: hook,
      },
    });
    expect(job.status, job.text).toBe(200);

    await page.goto(`${emu.url}/_emulator/dashboard`);
    await rendered(0);
    expect(await page.title()).toMatch(/emulator/);
    await expect.poll(() => page.locator('#batches-table tr[data-batch="street-photos"] td.files').textContent()).toBe("5");
    await expect.poll(() => page.locator('#jobs-table tr[data-job="street-job"] .job-state').textContent()).toMatch(/queued/);
    expect(await page.locator("#clock").getAttribute("data-mode")).toBe("manual");

    // Step the clock from the page itself and record what the job row shows.
    const seen: string[] = [];
    for (let i = 0; i < 300; i++) {
      const row = page.locator('tr[data-job="street-job"]');
      const text = ((await row.locator(".job-state .pill").textContent()) ?? "").trim();
      if (seen[seen.length - 1] !== text) seen.push(text);
      if ((await row.getAttribute("data-terminal")) === "true") break;
      const n = await renders();
      await page.click("#advance-next");
      await rendered(n);
    }
    expect(seen[0]).toBe("queued");
    expect(seen).toContain("running: processing");
    expect(seen).toContain("running: export");
    expect(seen[seen.length - 1]).toBe("succeeded");
    expect(seen.indexOf("running: processing")).toBeLessThan(seen.indexOf("running: export"));

    // Stage bars at 100%, output batches listed with working download links.
    const bars = await page.locator('tr[data-job="street-job"] .stage .bar').evaluateAll((els) => els.map((e) => e.getAttribute("aria-valuenow")));
    expect(bars).toEqual(["100", "100"]);
    await expect.poll(() => page.locator('tr[data-job="street-job"] a.download').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    const href = await page.locator('tr[data-job="street-job"] a.download').first().getAttribute("href");
    const dl = await request(href!);
    expect(dl.statusCode).toBe(200);
    await dl.body.arrayBuffer();

    // The job's webhook is in the deliveries table; the page's polling is not in the journal.
    await expect.poll(async () => {
      const n = await renders();
      await rendered(n);
      return page.locator("#webhooks-table tbody tr").count();
    }, { timeout: 10_000 }).toBeGreaterThan(0);
    const journal = (await emu.call("GET", "/_emulator/journal", { apiKey: null })).json;
    expect(journal.entries.filter((e: any) => String(e.headers["user-agent"] ?? "").includes("HeadlessChrome")).map((e: any) => `${e.method} ${e.path}`)).toEqual([]);
    expect(await page.locator("#journal-table tbody tr").count()).toBeGreaterThan(0);

    fs.mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: path.join("test-results", "dashboard.png"), fullPage: true });
  });

  it("reset button empties the world", async () => {
    page.once("dialog", (d) => void d.accept());
    const n = await renders();
    await page.click("#reset");
    await rendered(n);
    await expect.poll(() => page.locator("#jobs").textContent()).toMatch(/No jobs yet/);
    expect(await page.locator("#batches").textContent()).toMatch(/No batches yet/);
    expect((await emu.call("GET", emu.staging())).json.batches).toEqual([]);
  });
});
