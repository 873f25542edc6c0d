// A snapshot import is all-or-nothing across a kill -9: a child emulator holds world "old" (300
// files); importing world "new" (300 other files) is killed at several points of the import (the
// test-only seam EMULATOR_TEST_CRASH_AT kills the process exactly there), the emulator is started
// again on the same data folder, and then every listed file has its bytes and the world is entirely
// the old one or entirely the new one: same rows, same blobs, nothing of the other. The crash
// harness's store checker, run on the killed folder, already sees the world that restart will hold.
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildEmulator, type ChildEmulator } from "../helpers/child-emulator.js";
import { readResponse } from "../helpers/emulator.js";
import { controlClient } from "../../src/testing.js";
import { readStore } from "../harness/store-check.js";

const WS = "emulator-workspace";
const KEY = "emulator-api-key";
const FILES = 300;
/** Import steps the seam can stop at, in the order the import reaches them. */
const CRASH_POINTS = ["snapshot-staging", "snapshot-after-rows", "snapshot-after-aside", "snapshot-after-switch"];

const root = fs.mkdtempSync(path.join(os.tmpdir(), "rf-snap-crash-"));
const children: ChildEmulator[] = [];
let worldOld: any;
let worldNew: any;

async function call(base: string, method: string, p: string, json?: unknown) {
  const url = new URL(base + p);
  if (!p.startsWith("/_emulator")) url.searchParams.set("api_key", KEY);
  return readResponse(
    await request(url, {
      method: method as "GET",
      body: json === undefined ? undefined : JSON.stringify(json),
      headers: json === undefined ? {} : { "content-type": "application/json" },
    }),
  );
}

async function start(dataDir: string, env: Record<string, string> = {}): Promise<ChildEmulator> {
  const c = await startChildEmulator(dataDir, env);
  children.push(c);
  return c;
}

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** Every file every batch lists, downloaded through its signed URL: name → sha256 (or "missing <status>"). */
async function listedFiles(base: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const batches = (await call(base, "GET", `/data-staging/v1/external/${WS}/batches`)).json.batches;
  for (const b of batches) {
    let token: string | null = null;
    do {
      const page: any = (await call(base, "GET", `/data-staging/v1/external/${WS}/batches/${b.batchId}/list${token ? `?nextPageToken=${token}` : ""}`)).json;
      for (const f of page.filesMetadata) {
        const res = await request(f.downloadURL);
        const body = Buffer.from(await res.body.arrayBuffer());
        out[`${b.batchId}/${f.fileName}`] = res.statusCode === 200 ? sha(body) : `missing ${res.statusCode}`;
      }
      token = page.nextPageToken;
    } while (token);
  }
  return out;
}

/** What a world looks like from outside: its snapshot (rows and blob bytes) and its downloadable files. */
async function worldOf(base: string) {
  const snap = await controlClient(base).snapshot();
  return { tables: snap.tables, blobs: snap.blobs, files: await listedFiles(base) };
}

beforeAll(async () => {
  // Build both worlds once, in their own data folder, and keep what they look like.
  const dir = path.join(root, "build");
  const e = await start(dir);
  const seed = (batchId: string) => call(e.url, "POST", "/_emulator/seed", { batches: [{ batchId, images: { count: FILES, width: 16, height: 12 } }] });
  expect((await seed("old-photos")).status).toBe(200);
  worldOld = { snapshot: await controlClient(e.url).snapshot(), ...(await worldOf(e.url)) };
  await controlClient(e.url).reset();
  expect((await seed("new-photos")).status).toBe(200);
  worldNew = { snapshot: await controlClient(e.url).snapshot(), ...(await worldOf(e.url)) };
  await e.stop();
  expect(Object.keys(worldOld.files)).toHaveLength(FILES);
  expect(Object.keys(worldNew.files)).toHaveLength(FILES);
}, 120_000);

afterAll(async () => {
  for (const c of children) await c.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe("snapshot import killed half-way", () => {
  for (const point of CRASH_POINTS) {
    it(`at ${point}: after a restart the world is entirely the old or the new one, every listed file has its bytes`, async () => {
      const dir = path.join(root, point);
      const first = await start(dir);
      expect((await call(first.url, "POST", "/_emulator/snapshot", worldOld.snapshot)).status).toBe(200);
      await first.stop();

      const doomed = await start(dir, { EMULATOR_TEST_CRASH_AT: point });
      const answer = await call(doomed.url, "POST", "/_emulator/snapshot", worldNew.snapshot).catch((err: Error) => err);
      expect(answer, "the import should have been killed").toBeInstanceOf(Error);
      await new Promise<void>((resolve) =>
        doomed.child.exitCode !== null || doomed.child.signalCode !== null ? resolve() : doomed.child.once("exit", () => resolve()),
      );
      expect(doomed.child.signalCode).toBe("SIGKILL");
      // The crash harness's checker reads a killed store as its next start will see it: between the
      // commit and the folder swap that is the staged folder, so no file row is without its bytes.
      const killed = readStore(dir);
      expect(killed.integrity, JSON.stringify(killed.integrity.slice(0, 3))).toEqual([]);

      const again = await start(dir);
      const now = await worldOf(again.url);
      const missing = Object.entries(now.files).filter(([, h]) => h.startsWith("missing"));
      expect(missing.length, `${missing.length} listed files without bytes, e.g. ${missing.slice(0, 3).join("; ")}`).toBe(0);
      const which = now.files[Object.keys(worldNew.files)[0]] !== undefined ? worldNew : worldOld;
      expect(now.files).toEqual(which.files);
      expect(now.tables).toEqual(which.tables);
      expect(now.blobs).toEqual(which.blobs);
      console.log(`[crash] ${point}: the ${which === worldNew ? "new" : "old"} world after restart`);
      // Nothing half-written is left beside the blob folder.
      expect(fs.readdirSync(dir).filter((n) => n.startsWith("blobs") && n !== "blobs")).toEqual([]);
      await again.stop();
    }, 120_000);
  }
});
