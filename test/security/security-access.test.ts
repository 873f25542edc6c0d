// Access control: every API operation refuses a wrong or missing key (401) and another workspace's key
// (403); signed download and upload URLs refuse tampering, reuse and expiry; with an admin token set, the
// control API refuses callers without it (except the receiver and dashboard files, by design).
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { mp4 } from "../helpers/fixtures.js";
import { operations, type Operation } from "../helpers/openapi-sampler.js";

let emu: TestEmulator;
let guarded: TestEmulator;
let ops: Operation[];
const figures: string[] = [];
const ADMIN = "admin-s3cret-token";

beforeAll(async () => {
  emu = await startTestEmulator();
  guarded = await startTestEmulator({ adminToken: ADMIN });
  ops = operations((await emu.call("GET", "/openapi.json", { apiKey: null })).json);
  const seeded = await emu.call("POST", "/_emulator/seed", {
    apiKey: null,
    json: {
      workspaces: [{ id: "other-ws", apiKeys: ["other-key"] }],
      batches: [
        { batchId: "acc-batch", images: { count: 2 } },
        { workspace: "other-ws", batchId: "theirs", images: { count: 1 } },
      ],
    },
  });
  expect(seeded.status, seeded.text).toBe(200);
});
afterAll(async () => {
  console.log(`[access] ${figures.join("; ")}`);
  await emu?.close();
  await guarded?.close();
});

function concrete(op: Operation, workspace: string): string {
  const values: Record<string, string> = { workspace, batchId: "acc-batch", jobId: "acc-job", stageId: "processing" };
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? "x");
}

const apiOps = () => ops.filter((o) => o.path.startsWith("/data-staging/") || o.path.startsWith("/batch-processing/"));

describe("API keys", () => {
  it("every data-staging and batch-processing operation: 401 without a key or with a wrong one, 403 with another workspace's key", async () => {
    let checked = 0;
    for (const op of apiOps()) {
      const p = concrete(op, emu.workspace);
      for (const [key, want] of [
        [null, 401],
        ["not-a-key", 401],
        ["other-key", 403],
      ] as const) {
        const r = await emu.call(op.method, p, { apiKey: key, json: op.method === "GET" ? undefined : {} });
        expect(r.status, `${op.method} ${op.path} with key ${key}: ${r.text.slice(0, 200)}`).toBe(want);
        expect(r.json?.error?.status).toBe(want);
        expect(typeof r.json?.message).toBe("string");
        checked++;
      }
      // The other workspace's key on its own workspace path is fine up to auth (never 401/403).
      const own = await emu.call(op.method, concrete(op, "other-ws"), { apiKey: "other-key", json: op.method === "GET" ? undefined : {} });
      expect([401, 403], `${op.method} ${op.path} for its own workspace`).not.toContain(own.status);
    }
    const root = await emu.call("GET", "/", { apiKey: "not-a-key" });
    expect(root.status).toBe(401);
    figures.push(`${apiOps().length} API operations × 3 bad keys = ${checked} refusals checked`);
  });

  it("another workspace's batch cannot be read by naming it under one's own workspace", async () => {
    const r = await emu.call("GET", emu.staging("theirs"));
    expect(r.status).toBe(404);
  });
});

describe("signed URLs", () => {
  async function aDownloadUrl(): Promise<string> {
    const list = await emu.call("GET", `${emu.staging("acc-batch")}/list`);
    return list.json.filesMetadata[0].downloadURL;
  }

  it("download URLs: exact URL works; tampered signature, expiry, path or method do not; no api_key needed or accepted as a substitute", async () => {
    const good = await aDownloadUrl();
    const ok = await request(good);
    await ok.body.arrayBuffer();
    expect(ok.statusCode).toBe(200);
    const u = new URL(good);
    const sig = u.searchParams.get("X-Emulator-Signature")!;
    const variants: [string, string][] = [];
    const flip = new URL(good);
    flip.searchParams.set("X-Emulator-Signature", sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0"));
    variants.push(["flipped signature", flip.toString()]);
    const later = new URL(good);
    later.searchParams.set("X-Emulator-Expires", String(Number(u.searchParams.get("X-Emulator-Expires")) + 1_000_000));
    variants.push(["extended expiry", later.toString()]);
    const none = new URL(good);
    none.searchParams.delete("X-Emulator-Signature");
    none.searchParams.set("api_key", emu.apiKey);
    variants.push(["api_key instead of a signature", none.toString()]);
    const other = new URL(good);
    other.pathname = other.pathname.replace(/\/(\d+)\/([^/]+)$/, (_, n: string, name: string) => `/${Number(n) + 1}/${name}`);
    variants.push(["another file's path", other.toString()]);
    const otherWs = new URL(good);
    otherWs.pathname = otherWs.pathname.replace(`/${emu.workspace}/acc-batch/`, "/other-ws/theirs/");
    expect(otherWs.pathname).not.toBe(u.pathname);
    variants.push(["another workspace's batch in the path", otherWs.toString()]);
    const garbage = new URL(good);
    garbage.searchParams.set("X-Emulator-Signature", "zz");
    variants.push(["malformed signature", garbage.toString()]);
    for (const [what, url] of variants) {
      const r = await request(url);
      const text = await r.body.text();
      expect(r.statusCode, `${what}: ${text.slice(0, 200)}`).toBe(403);
      expect(JSON.parse(text).message).toMatch(/signed url|signature/i);
    }
    const put = await request(good, { method: "PUT", body: "x" });
    await put.body.text();
    expect(put.statusCode).toBeGreaterThanOrEqual(400);
    expect(put.statusCode).toBeLessThan(500);
    figures.push(`download URL: ${variants.length} tamperings → 403, PUT → ${put.statusCode}`);
  });

  it("upload URLs: tamper-proof, bound to their slot, re-PUTtable until they expire (the last body replaces the file)", async () => {
    const slot = await emu.call("POST", `${emu.staging("acc-upload")}/upload/video?fileName=a.mp4`);
    const d = slot.json.signedURLDetails;
    const video = mp4(0);
    const flip = new URL(d.uploadURL);
    const sig = flip.searchParams.get("X-Emulator-Signature")!;
    flip.searchParams.set("X-Emulator-Signature", sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0"));
    const tampered = await request(flip, { method: "PUT", body: video, headers: d.extensionHeaders ?? {} });
    await tampered.body.text();
    expect(tampered.statusCode).toBe(403);
    const otherBatch = new URL(d.uploadURL);
    otherBatch.pathname = otherBatch.pathname.replace("/acc-upload/", "/acc-other/");
    const moved = await request(otherBatch, { method: "PUT", body: video, headers: d.extensionHeaders ?? {} });
    await moved.body.text();
    expect(moved.statusCode).toBe(403);
    const first = await request(d.uploadURL, { method: "PUT", body: video, headers: d.extensionHeaders ?? {} });
    await first.body.text();
    expect(first.statusCode).toBeLessThan(300);
    // Like a cloud-storage URL: another PUT replaces the object, it never adds a second file.
    const again = await request(d.uploadURL, { method: "PUT", body: video, headers: d.extensionHeaders ?? {} });
    const againText = await again.body.text();
    expect(again.statusCode, againText).toBe(200);
    expect((await emu.call("GET", `${emu.staging("acc-upload")}/count`)).json.count).toBe(1);
    figures.push(`upload URL: tampered → 403, other batch → 403, re-PUT → ${again.statusCode} (count stays 1)`);
  });

  it("expire on the emulator clock: download after 1 h, upload after 24 h", async () => {
    const download = await aDownloadUrl();
    const slot = await emu.call("POST", `${emu.staging("acc-expire")}/bulk-upload/image-files`);
    const upload = slot.json.signedURLDetails;
    expect((await emu.call("POST", "/_emulator/clock", { apiKey: null, json: { mode: "manual" } })).status).toBe(200);
    try {
      expect((await emu.call("POST", "/_emulator/clock/advance", { apiKey: null, json: { ms: 60 * 60 * 1000 + 1000 } })).status).toBe(200);
      const d = await request(download);
      const dText = await d.body.text();
      expect(d.statusCode).toBe(403);
      expect(JSON.parse(dText).message).toMatch(/expired/i);
      expect((await emu.call("POST", "/_emulator/clock/advance", { apiKey: null, json: { ms: 24 * 60 * 60 * 1000 } })).status).toBe(200);
      const u = await request(upload.uploadURL, { method: "PUT", body: Buffer.alloc(1024), headers: upload.extensionHeaders ?? {} });
      const uText = await u.body.text();
      expect(u.statusCode).toBe(403);
      expect(JSON.parse(uText).message).toMatch(/expired/i);
    } finally {
      await emu.call("POST", "/_emulator/clock", { apiKey: null, json: { mode: "max" } });
    }
  });
});

describe("control API with an admin token", () => {
  it("refuses every control operation without the token or with a wrong one, except the receiver and dashboard files", async () => {
    const controls = operations((await guarded.call("GET", "/openapi.json", { apiKey: null })).json).filter((o) => o.path.startsWith("/_emulator"));
    expect(controls.length).toBeGreaterThan(10);
    let refused = 0;
    const open: string[] = [];
    for (const op of controls) {
      const p = op.path.replace(
        /\{([^}]+)\}/g,
        (_, n: string) => ({ workspace: guarded.workspace, jobId: "j1", name: "r1", id: "x", asset: "app.js" })[n] ?? "x",
      );
      const isOpen =
        (op.method === "POST" && op.path.startsWith("/_emulator/receiver/")) || (op.method === "GET" && op.path.startsWith("/_emulator/dashboard"));
      for (const auth of [undefined, "Bearer wrong-token", `Bearer ${ADMIN}x`, ADMIN]) {
        const headers: Record<string, string> = auth ? { authorization: auth } : {};
        const r = await guarded.call(op.method, p, { apiKey: null, headers, json: op.method === "GET" || op.method === "DELETE" ? undefined : {} });
        if (isOpen) {
          expect(r.status, `${op.method} ${op.path} is open by design`).not.toBe(401);
          continue;
        }
        expect(r.status, `${op.method} ${op.path} with ${auth ?? "no token"}: ${r.text.slice(0, 160)}`).toBe(401);
        expect(typeof r.json?.message).toBe("string");
        refused++;
      }
      if (isOpen) open.push(`${op.method} ${op.path}`);
      else {
        const ok = await guarded.call(op.method, p, {
          apiKey: null,
          headers: { authorization: `Bearer ${ADMIN}` },
          json: op.method === "GET" || op.method === "DELETE" ? undefined : {},
        });
        expect(ok.status, `${op.method} ${op.path} with the token`).not.toBe(401);
      }
    }
    // The emulated API itself is not behind the admin token.
    expect((await guarded.call("GET", guarded.staging())).status).toBe(200);
    figures.push(`control API: ${refused} unauthenticated calls refused over ${controls.length - open.length} operations; open by design: ${open.join(", ")}`);
  });

  it("keeps /health answering without the token (readiness probes cannot send one)", async () => {
    const r = await guarded.call("GET", "/health", { apiKey: null });
    expect(r.status).toBe(200);
  });
});
