// The dashboard in a real headless browser (Debian's chromium driven by playwright-core): images are
// uploaded and jobs started over HTTP, then every view is checked as a person would use it: the job
// moving stage by stage as the page's own "next timer" button advances a manual clock, its logs page
// by page, abort and restart, webhook deliveries with payloads and attempts and a redelivery, the
// journal's bodies after filtering, the contract report's violations and untouched operations. The
// page paints the world it was served with (no empty first paint), shows hostile values as text, and
// wraps long values by word. A screenshot of each view goes to test-results/dashboard/ (gitignored).
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { FormData, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { png } from "../helpers/fixtures.js";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SHOTS = path.join("test-results", "dashboard");
const XSS = "<img src=x onerror=alert(1)>";

// A missing browser fails this file (it used to skip it silently, so the dashboard went untested on a
// machine without chromium). .ci/run installs it; elsewhere: apt-get install chromium, or opt out
// explicitly with SKIP_BROWSER_TESTS=1.
const skip = process.env.SKIP_BROWSER_TESTS === "1";
if (!skip && !fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does), or set SKIP_BROWSER_TESTS=1`);

let emu: TestEmulator;
let browser: Browser;
let page: Page;
/** Every dialog the page opened (type: message); confirms are accepted, anything else dismissed. */
const dialogs: string[] = [];

beforeAll(async () => {
  if (skip) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  emu = await startTestEmulator();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("dialog", (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void (d.type() === "confirm" ? d.accept() : d.dismiss());
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await emu?.close();
});

async function uploadImage(batchId: string, name: string, seed: number) {
  const form = new FormData();
  form.append(name, new Blob([new Uint8Array(png(seed, 24))]), name);
  const res = await request(
    `${emu.url}${emu.staging(batchId)}/upload/image?api_key=${emu.apiKey}&fileName=${encodeURIComponent(name)}&displayName=Street%20photos`,
    {
      method: "POST",
      body: form,
    },
  );
  expect(res.statusCode, await res.body.text()).toBe(200);
}

const definition = (batchId: string, hook?: string) => ({
  type: "simple-image-processing-v1",
  jobInput: { type: "staging-batch-input-v1", batchId },
  computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu" },
  processingSpecification: {
    type: "workflows-processing-specification-v1",
    workspace: emu.workspace,
    workflowId: "detect-cars",
    persistImagesOutputs: false,
    aggregationFormat: "csv",
  },
  ...(hook ? { notificationsURL: hook } : {}),
});

async function startJob(jobId: string, batchId: string, opts: { hook?: string; name?: string } = {}) {
  const q = opts.name ? `?name=${encodeURIComponent(opts.name)}` : "";
  const job = await emu.call("POST", `${emu.jobs(jobId)}${q}`, { json: definition(batchId, opts.hook) });
  expect(job.status, job.text).toBe(200);
}

/** Waits until the page has rendered at least once more after `since`. */
async function rendered(since: number) {
  await page.waitForFunction((n) => Number(document.body.dataset.renders ?? 0) > n, since, { timeout: 10_000 });
}
const renders = () => page.evaluate(() => Number(document.body.dataset.renders ?? 0));

/** Opens a view through its tab and waits for a render with that view's data. */
async function openView(name: string) {
  const n = await renders();
  await page.click(`#views a[data-view="${name}"]`);
  await expect.poll(() => page.evaluate(() => document.body.dataset.view)).toBe(name);
  await rendered(n);
}

const shot = (name: string, fullPage = true) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
const outcome = () => page.locator("#outcome").textContent();

describe.skipIf(skip)("dashboard", () => {
  it("shows batches, a job moving to completion with a manual clock, outputs with download links", async () => {
    for (let i = 0; i < 5; i++) await uploadImage("street-photos", `img-${i}.png`, i);
    const clock = await emu.call("POST", "/_emulator/clock", { apiKey: null, json: { mode: "manual" } });
    expect(clock.status).toBe(200);
    await startJob("street-job", "street-photos", { hook: `${emu.url}/_emulator/receiver/dashboard` });

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
    expect(await outcome()).toMatch(/Next timer: \d+ timer\(s\) fired/);

    // Stage bars at 100%, output batches listed with working download links.
    const bars = await page.locator('tr[data-job="street-job"] .stage .bar').evaluateAll((els) => els.map((e) => e.getAttribute("aria-valuenow")));
    expect(bars).toEqual(["100", "100"]);
    await expect.poll(() => page.locator('tr[data-job="street-job"] a.download').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    const href = await page.locator('tr[data-job="street-job"] a.download').first().getAttribute("href");
    const dl = await request(href!);
    expect(dl.statusCode).toBe(200);
    await dl.body.arrayBuffer();
    // A batch's files, listed when its row is opened.
    await page.click('#batches-table tr[data-batch="street-photos"] td.file-list summary');
    await expect
      .poll(() => page.locator('#batches-table tr[data-batch="street-photos"] td.file-list li').allTextContents())
      .toEqual(expect.arrayContaining(["img-0.png", "img-4.png"]));
    await shot("jobs");

    // The page's own reads are not in the journal.
    const journal = (await emu.call("GET", "/_emulator/journal", { apiKey: null })).json;
    expect(
      journal.entries.filter((e: any) => String(e.headers["user-agent"] ?? "").includes("HeadlessChrome")).map((e: any) => `${e.method} ${e.path}`),
    ).toEqual([]);
  });

  it("paints the world it was served with: no empty state, no wait for the first poll", async () => {
    const html = await (await request(`${emu.url}/_emulator/dashboard`)).body.text();
    expect(html).toContain('<script id="initial-state" type="application/json">');
    expect(html).toContain('"jobId":"street-job"');

    // A fresh tab whose polling is blocked: whatever it shows came from the page itself.
    const tab = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await tab.route("**/_emulator/overview", (r) => r.abort());
    await tab.addInitScript(() => {
      const seen: string[] = [];
      (window as any).emptyStates = seen;
      new MutationObserver(() => {
        const text = document.body?.textContent ?? "";
        for (const s of ["No jobs yet", "No batches yet"]) if (text.includes(s) && !seen.includes(s)) seen.push(s);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    await tab.goto(`${emu.url}/_emulator/dashboard`, { waitUntil: "load" });
    expect(await tab.evaluate(() => document.body.dataset.embedded)).toBe("true");
    expect(await tab.locator('#jobs-table tr[data-job="street-job"] .job-state .pill').textContent()).toBe("succeeded");
    expect(await tab.locator('#batches-table tr[data-batch="street-photos"] td.files').textContent()).toBe("5");
    expect(await tab.evaluate(() => (window as any).emptyStates)).toEqual([]);
    // The first contentful paint came after the embedded world was drawn (the module script is render-blocking).
    const [fcp, drawn] = await tab.evaluate(() => [
      performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
      Number(document.body.dataset.firstDrawAt),
    ]);
    expect(fcp).not.toBeNull();
    expect(drawn).toBeLessThanOrEqual(fcp);
    await tab.screenshot({ path: path.join(SHOTS, "first-paint.png") });
    await tab.close();

    // The page is open without the admin token: with one configured, it carries no data.
    const guarded = await startTestEmulator({ adminToken: "s3cret-token" });
    try {
      const page2 = await (await request(`${guarded.url}/_emulator/dashboard`)).body.text();
      expect(page2).not.toContain('<script id="initial-state"');
      expect(page2).not.toContain(guarded.apiKey);
    } finally {
      await guarded.close();
    }
  });

  it("job logs: per job, page by page, by severity", async () => {
    await openView("jobs");
    await page.click('#jobs-table tr[data-job="street-job"] button.logs');
    await expect.poll(() => page.evaluate(() => document.body.dataset.view)).toBe("logs");
    await expect.poll(() => page.locator("#logs-table tbody tr").count()).toBeGreaterThan(0);
    expect(await page.locator("#logs-title").textContent()).toContain("street-job");
    const api = (await emu.call("GET", `${emu.jobs("street-job")}/logs?pageSize=1000`)).json.logs;
    expect(api.length).toBeGreaterThan(5);

    // Pages of 5: the first page is the API's first entries, the next one goes on from there, the last says so.
    await page.selectOption("#logs-size", "5");
    await expect.poll(() => page.locator("#logs-table tbody tr").count()).toBe(5);
    const types = () => page.locator("#logs-table tbody tr td:nth-child(4)").allTextContents();
    const expected = (from: number) => api.slice(from, from + 5).map((l: any) => `${l.logType}${l.reportingModule}`);
    expect(await types()).toEqual(expected(0));
    expect(await page.locator("#logs-table tbody tr td.payload pre").first().textContent()).toContain('"jobType": "simple-image-processing-v1"');
    expect(await page.locator("#logs-prev").isDisabled()).toBe(true);
    await page.click("#logs-next");
    await expect.poll(() => page.locator("#logs-page").textContent()).toMatch(/^page 2/);
    await expect.poll(types).toEqual(expected(5));
    if (api.length <= 10) expect(await page.locator("#logs-page").textContent()).toContain("(last)");
    await page.click("#logs-prev");
    await expect.poll(types).toEqual(expected(0));
    await page.click("#logs-next");
    await page.click("#logs-first");
    await expect.poll(() => page.locator("#logs-page").textContent()).toMatch(/^page 1 ·/);
    await page.selectOption("#logs-severity", "error");
    await expect.poll(() => page.locator("#logs").textContent()).toMatch(api.some((l: any) => l.severity === "error") ? /error/ : /No logs yet/);
    await page.selectOption("#logs-severity", "");
    await page.selectOption("#logs-size", "25");
    await expect.poll(() => page.locator("#logs-table tbody tr").count()).toBe(Math.min(25, api.length));
    await shot("logs");
  });

  it("abort and restart a job from its row, with the outcome on the page", async () => {
    await uploadImage("slow-photos", "slow-0.png", 10);
    await startJob("slow-job", "slow-photos");
    await openView("jobs");
    const row = page.locator('#jobs-table tr[data-job="slow-job"]');
    await expect.poll(() => row.locator(".job-state .pill").textContent()).toBe("queued");
    expect(await row.locator("button.restart").count()).toBe(0);

    await row.locator("button.abort").click();
    await expect.poll(outcome).toMatch(/Aborted job "slow-job"/);
    expect(await page.locator("#outcome").getAttribute("data-kind")).toBe("ok");
    await expect.poll(() => row.getAttribute("data-state")).toBe("aborted");
    expect(await row.locator(".job-state .pill").textContent()).toBe("aborted");
    expect(await row.locator("button.abort").count()).toBe(0);
    expect((await emu.call("GET", emu.jobs("slow-job"))).json.job).toMatchObject({ isTerminal: true });
    await shot("abort");

    await row.locator("button.restart").click();
    await expect.poll(outcome).toMatch(/Restarted job "slow-job"/);
    await expect.poll(() => row.getAttribute("data-terminal")).toBe("false");
    expect((await emu.call("GET", emu.jobs("slow-job"))).json.job.isTerminal).toBe(false);
    await row.locator("button.abort").click();
    await expect.poll(() => row.getAttribute("data-state")).toBe("aborted");
  });

  it("webhook deliveries: payload, every attempt with status, error and latency; redeliver adds an attempt", async () => {
    const sent = await emu.call("POST", "/_emulator/webhooks", {
      apiKey: null,
      json: {
        url: `${emu.url}/_emulator/receiver/down?status=500`,
        category: "test",
        subject: "failing-receiver",
        payload: { type: "dashboard-check", note: "wheels: 4" },
      },
    });
    expect(sent.status, sent.text).toBe(202);
    const id = sent.json.id as string;
    // Let the retries run out on the manual clock: the delivery ends failed after its 5 attempts.
    await emu.call("POST", "/_emulator/clock/advance", { apiKey: null, json: { to: "idle" } });
    await openView("webhooks");
    const row = page.locator(`#webhooks-list .delivery[data-delivery="${id}"]`);
    await expect.poll(() => row.getAttribute("data-state")).toBe("failed");
    expect(await row.locator(".payload pre").textContent()).toContain('"note": "wheels: 4"');
    expect(await row.locator(".attempt").count()).toBe(5);
    expect(await row.locator(".attempt").first().textContent()).toMatch(/#1 500 \d+ ms/);
    expect(await row.locator(".attempt .attempt-error").first().textContent()).toBe("receiver answered 500");
    // The job's own notification was delivered.
    await expect.poll(() => page.locator('#webhooks-list .delivery[data-state="delivered"]').count()).toBeGreaterThan(0);

    await row.locator("button.redeliver").click();
    await expect.poll(outcome).toMatch(new RegExp(`Redelivery of the test notification ${id} queued`));
    await expect.poll(() => row.locator(".attempt").count(), { timeout: 10_000 }).toBe(6);
    expect(await row.locator('.attempt[data-attempt="6"]').textContent()).toMatch(/#6 500/);
    await shot("webhooks");
  });

  it("journal: filters by method, path, status, operation and body, and shows request and response bodies", async () => {
    await openView("journal");
    await expect.poll(() => page.locator("#journal-table tr.entry").count()).toBeGreaterThan(0);
    const startJobOp = "POST /batch-processing/v1/external/{workspace}/jobs/{jobId}";
    await expect.poll(() => page.locator('#journal-form [name="operation"] option').count()).toBeGreaterThan(5);
    await page.selectOption('#journal-form [name="operation"]', startJobOp);
    await page.fill('#journal-form [name="bodyPath"]', "jobInput.batchId");
    await page.fill('#journal-form [name="bodyValue"]', "street");
    await page.click("#journal-apply");
    await expect.poll(() => page.locator("#journal-table tr.entry").count()).toBe(1);
    expect(await page.locator("#journal-count").textContent()).toContain("1 matching");
    const entry = page.locator("#journal-table tr.entry");
    expect(await entry.locator("td.request").textContent()).toContain(`POST ${emu.jobs("street-job")}`);
    await page.click("#journal-table tr.detail summary");
    const reqBody = await page.locator("#journal-table tr.detail .request-body pre").textContent();
    expect(JSON.parse(reqBody!)).toMatchObject({ jobInput: { batchId: "street-photos" }, processingSpecification: { workflowId: "detect-cars" } });
    expect(await page.locator("#journal-table tr.detail .response-body pre").textContent()).toContain('"status": "ok"');
    expect(await page.locator("#journal-table tr.detail").textContent()).toContain("content-type: application/json");
    await shot("journal");

    // The same body matcher with another value matches nothing; method, path and status filters.
    await page.fill('#journal-form [name="bodyValue"]', "no-such-batch");
    await page.click("#journal-apply");
    await expect.poll(() => page.locator("#journal").textContent()).toContain("No request matches these filters.");
    await page.click("#journal-clear");
    await page.selectOption('#journal-form [name="method"]', "POST");
    await page.fill('#journal-form [name="path"]', emu.staging("street-photos"));
    await page.fill('#journal-form [name="status"]', "2xx");
    await page.click("#journal-apply");
    await expect.poll(() => page.locator("#journal-table tr.entry").count()).toBe(5);
    // An upload's multipart body: the part's file name, size and hash, never the bytes.
    await page.locator("#journal-table tr.detail summary").first().click();
    expect(await page.locator("#journal-table tr.detail table.parts").first().textContent()).toMatch(/img-\d\.png/);
    // A filter the API refuses says why, in place.
    await page.fill('#journal-form [name="status"]', "2zz");
    await page.click("#journal-apply");
    await expect.poll(() => page.locator("#journal-error").textContent()).toMatch(/Filter refused: .*status/);
    await page.click("#journal-clear");
  });

  it("contract report: violations, operations exercised and never touched, failed webhooks", async () => {
    const typo = await emu.call("POST", emu.jobs("typo-job"), { json: { ...definition("street-photos"), notificationUrl: "http://127.0.0.1:9/x" } });
    expect(typo.status).toBe(400);
    const report = (await emu.call("GET", "/_emulator/contract-report", { apiKey: null })).json;
    const untouched = report.operations.untouched.map((o: any) => o.operation);
    expect(untouched.length).toBeGreaterThan(0);

    await openView("contract");
    const violation = page.locator('#violations-table tr[data-kind="unknown-field"]');
    await expect.poll(() => violation.count()).toBeGreaterThan(0);
    expect(await violation.first().textContent()).toContain(`POST ${emu.jobs("typo-job")}`);
    expect(await violation.first().locator("td.message").textContent()).toContain("notificationUrl");
    expect(await page.locator(`#untouched-table tr[data-operation="${untouched[0]}"]`).count()).toBe(1);
    expect(await page.locator(`#exercised-table tr[data-operation="POST /batch-processing/v1/external/{workspace}/jobs/{jobId}"]`).textContent()).toMatch(
      /200×\d/,
    );
    expect(await page.locator("#failed-webhooks-table tbody tr").count()).toBeGreaterThan(0);
    expect(await page.locator("#failed-webhooks-table").textContent()).toContain("/_emulator/receiver/down");
    expect(await page.locator("#count-contract").textContent()).toMatch(/[1-9]\d* violations?/);
    // The summary's count is the sum of what the two headings name.
    const headings = (await page.locator("#view-contract h3").allTextContents()).join(" | ");
    const requests = Number(/Violations: requests \((\d+)\)/.exec(headings)?.[1]);
    const hooks = Number(/(\d+) counted as violations/.exec(headings)?.[1] ?? 0);
    expect(requests + hooks, headings).toBe(report.summary.violations);
    await shot("contract");
  });

  it("shows hostile values as text: a job name, a file name and a webhook payload never run as HTML", async () => {
    await uploadImage("hostile", `${XSS}.png`, 20);
    await startJob("hostile-job", "hostile", { name: XSS });
    const hook = await emu.call("POST", "/_emulator/webhooks", {
      apiKey: null,
      json: { url: `${emu.url}/_emulator/receiver/hostile`, category: "test", subject: XSS, payload: { note: `</script>${XSS}`, [XSS]: 1 } },
    });
    expect(hook.status).toBe(202);
    // A fresh load: the embedded JSON carries "</script>" too.
    await page.goto(`${emu.url}/_emulator/dashboard`);
    expect(await page.evaluate(() => document.body.dataset.embedded)).toBe("true");
    const row = page.locator('#jobs-table tr[data-job="hostile-job"]');
    await expect.poll(() => row.locator(".job-name").textContent()).toBe(XSS);
    await page.click('#batches-table tr[data-batch="hostile"] td.file-list summary');
    await expect.poll(() => page.locator('#batches-table tr[data-batch="hostile"] td.file-list li').first().textContent()).toBe(`${XSS}.png`);
    await shot("xss-jobs");
    await openView("webhooks");
    const delivery = page.locator(`#webhooks-list .delivery[data-delivery="${hook.json.id}"]`);
    await expect.poll(() => delivery.locator(".payload pre").textContent()).toContain(`"note": "</script>${XSS}"`);
    expect(await delivery.textContent()).toContain(XSS);
    await openView("journal");
    await page.fill('#journal-form [name="path"]', emu.staging("hostile"));
    await page.click("#journal-apply");
    await expect.poll(() => page.locator("#journal-table tr.entry").count()).toBe(1);
    await page.click("#journal-table tr.detail summary");
    expect(await page.locator("#journal-table tr.detail table.parts").textContent()).toContain(`${XSS}.png`);
    await page.click("#journal-clear");
    await shot("xss-webhooks-journal");

    expect(dialogs.filter((d) => !d.startsWith("confirm"))).toEqual([]);
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => document.querySelectorAll("[onerror]").length)).toBe(0);
  });

  it("wraps long values by word in narrow columns (no column of one letter per line)", async () => {
    await page.setViewportSize({ width: 760, height: 1000 });
    try {
      for (const view of ["jobs", "webhooks", "journal", "contract"]) {
        await openView(view);
        if (view === "journal") await page.locator("#journal-table tr.detail summary").first().click();
        // A long word (an id, a URL, a file name) may break (at a hyphen, a slash, or anywhere when it is longer than its column),
        // but into pieces of several letters, never a letter or two per line.
        const squeezed = await page.evaluate(() => {
          const found: { word: string; lines: number }[] = [];
          for (const box of document.querySelectorAll("section.view:not([hidden]) :is(td, pre, .delivery)")) {
            const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              if ((n.parentElement?.offsetParent ?? null) === null) continue;
              for (const m of (n.textContent ?? "").matchAll(/\S{8,}/g)) {
                const range = document.createRange();
                range.setStart(n, m.index);
                range.setEnd(n, m.index + m[0].length);
                const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
                if (m[0].length / Math.max(1, lines) < 4) found.push({ word: m[0].slice(0, 40), lines });
              }
            }
          }
          return found;
        });
        await shot(`narrow-${view}`, false);
        expect(squeezed, view).toEqual([]);
      }
    } finally {
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
  });

  it("reset button empties the world", async () => {
    await openView("jobs");
    const n = await renders();
    await page.click("#reset");
    await rendered(n);
    await expect.poll(() => page.locator("#jobs").textContent()).toMatch(/No jobs yet/);
    expect(await page.locator("#batches").textContent()).toMatch(/No batches yet/);
    expect((await emu.call("GET", emu.staging())).json.batches).toEqual([]);
    expect(dialogs.some((d) => d.startsWith("confirm: Delete every batch"))).toBe(true);
  });
});
