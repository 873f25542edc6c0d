import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

describe("foundation", () => {
  it("answers /health", async () => {
    const r = await emu.call("GET", "/health", { apiKey: null });
    expect(r.status).toBe(200);
    expect(r.json.status).toBe("ok");
  });

  it("GET / answers the key's workspace, like the official client expects", async () => {
    const r = await emu.call("GET", "/");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ workspace: emu.workspace });
  });

  it("401 without a key, 401 with an unknown key, 403 on another workspace's path", async () => {
    const missing = await emu.call("GET", emu.staging(), { apiKey: null });
    expect(missing.status).toBe(401);
    expect(missing.json.message).toMatch(/api_key/);
    const unknown = await emu.call("GET", emu.staging(), { apiKey: "nope" });
    expect(unknown.status).toBe(401);
    const other = await emu.call("GET", "/data-staging/v1/external/someone-else/batches");
    expect(other.status).toBe(403);
    expect(other.json.message).toContain(emu.workspace);
  });

  it("lists no batches with a null nextPageToken", async () => {
    const r = await emu.call("GET", emu.staging());
    expect(r.status).toBe(200);
    expect(r.json.batches).toEqual([]);
    expect(r.json.nextPageToken).toBeNull();
  });

  it("404 JSON for unknown batches and routes, 400 for a bad batch id and a bad page token", async () => {
    const nb = await emu.call("GET", emu.staging("nope") + "/count");
    expect(nb.status).toBe(404);
    expect(nb.json.message).toMatch(/nope/);
    const nr = await emu.call("GET", "/no/such/route");
    expect(nr.status).toBe(404);
    expect(nr.json.error.type).toBe("route-not-found");
    const bad = await emu.call("GET", emu.staging("Bad.Id"));
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues[0].field).toBe("batchId");
    const tok = await emu.call("GET", emu.staging() + "?nextPageToken=garbage");
    expect(tok.status).toBe(400);
    expect(tok.json.error.issues[0].field).toBe("nextPageToken");
  });

  it("serves its OpenAPI document", async () => {
    const r = await emu.call("GET", "/openapi.json", { apiKey: null });
    expect(r.status).toBe(200);
    expect(r.json.paths["/data-staging/v1/external/{workspace}/batches/{batchId}/list"]).toBeDefined();
  });
});

describe("restart", () => {
  it("a scaled clock never goes backwards across a restart on the same data folder", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-clock-"));
    try {
      const first = await startTestEmulator({ dataDir, timeScale: 1000 });
      await new Promise((r) => setTimeout(r, 100)); // ~100 s of emulated time
      const before = first.emulator.clock.now();
      expect(before - Date.now()).toBeGreaterThan(50_000);
      await first.close();
      const second = await startTestEmulator({ dataDir, timeScale: 1000 });
      expect(second.emulator.clock.now()).toBeGreaterThanOrEqual(before);
      await second.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("body limits", () => {
  let big: TestEmulator;
  beforeAll(async () => {
    big = await startTestEmulator();
  });
  afterAll(async () => big?.close());

  it("refuses a JSON body over 32 MiB with 413 before reading it into memory, and stores nothing", async () => {
    const body = JSON.stringify({ type: "simple-image-processing-v1", padding: "x".repeat(33 * 1024 * 1024) });
    const r = await big.call("POST", big.jobs("too-big"), { body, headers: { "content-type": "application/json" } });
    expect(r.status, r.text).toBe(413);
    expect(r.json.error.type).toBe("payload-too-large");
    const jobs = await big.call("GET", big.jobs());
    expect(jobs.json.jobs).toEqual([]);
  });

  it("refuses an oversize chunked JSON body too", async () => {
    // A fresh emulator: the early 413 above makes the server close that keep-alive connection.
    const big = await startTestEmulator();
    onTestFinished(() => big.close());
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    async function* gen() {
      yield Buffer.from('{"imageReferences":"');
      for (let i = 0; i < 40; i++) yield chunk;
      yield Buffer.from('"}');
    }
    const r = await big.call("POST", big.staging("refs") + "/bulk-upload/image-references", { body: gen(), headers: { "content-type": "application/json" } });
    expect(r.status).toBe(413);
    const batch = await big.call("GET", big.staging("refs"));
    expect(batch.status).toBe(404);
  });
});
