// References from any host: --url-map / EMULATOR_URL_MAP resolves reference URLs (image and video
// references, references files) to local folders (file://, traversal refused) or loopback servers, so
// tests keep realistic https:// URLs; --ca-file trusts a loopback server's self-signed certificate; an
// unmapped host fails per file as unsafe-url-detected, naming the flag that would map it. The official
// client ingests mapped https://storage.example.com/... references unchanged.
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config.js";
import { startChildEmulator } from "../helpers/child-emulator.js";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { mp4, png, startLoopbackServer, type LoopbackServer } from "../helpers/fixtures.js";
import { assertRealClientAvailable, expectClientOk, runClient } from "../helpers/real-client.js";

const TLS_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "fixtures", "loopback-tls");

let emu: TestEmulator;
let tmp: string;
let bucket: string;
let cdn: LoopbackServer;
let tlsServer: https.Server;
let tlsUrl: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rf-url-map-"));
  bucket = path.join(tmp, "bucket");
  fs.mkdirSync(path.join(bucket, "images", "nested"), { recursive: true });
  fs.writeFileSync(path.join(bucket, "images", "a.png"), png(11));
  fs.writeFileSync(path.join(bucket, "images", "nested", "b c.png"), png(12));
  fs.writeFileSync(path.join(bucket, "clip.mp4"), mp4(3));
  // Outside the mapped folder: no mapped URL may reach these.
  fs.writeFileSync(path.join(tmp, "secret.png"), png(99));
  fs.symlinkSync(path.join(tmp, "secret.png"), path.join(bucket, "images", "link.png"));
  fs.writeFileSync(
    path.join(bucket, "refs.jsonl"),
    [
      JSON.stringify({ name: "from-file-1.png", url: "https://storage.example.com/images/a.png" }),
      JSON.stringify({ name: "from-file-2.png", url: "https://storage.example.com/images/nested/b%20c.png?X-Goog-Signature=abc" }),
    ].join("\n") + "\n",
  );
  cdn = await startLoopbackServer();
  cdn.serve("/assets/c.png", png(13));
  tlsServer = https.createServer({ key: fs.readFileSync(path.join(TLS_DIR, "key.pem")), cert: fs.readFileSync(path.join(TLS_DIR, "cert.pem")) }, (req, res) => {
    if (req.url?.startsWith("/secure/d.png")) res.writeHead(200, { "content-type": "image/png" }).end(png(14));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  tlsUrl = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  emu = await startTestEmulator({
    urlMap: [
      { from: "https://storage.example.com/", to: `file://${bucket}/` },
      { from: "https://cdn.example.com/", to: `${cdn.url}/assets/` },
      { from: "https://secure.example.com/", to: `${tlsUrl}/secure/` },
    ],
    caFile: path.join(TLS_DIR, "cert.pem"),
  });
});

afterAll(async () => {
  await emu?.close();
  await cdn?.close();
  await new Promise<void>((r) => (tlsServer ? tlsServer.close(() => r()) : r()));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type Shard = { shardId: string; statusName: string; statusType: string; statusMetadata: any };

async function settled(e: TestEmulator, batchId: string): Promise<Shard[]> {
  return (await waitFor(
    async () => {
      const r = await e.call("GET", `${e.staging(batchId)}/shards?pageSize=1000`);
      const s: Shard[] = r.status === 200 ? r.json.shards : [];
      return s.length && s.every((x) => x.statusType !== "info") ? s : undefined;
    },
    20_000,
    `shards of ${batchId}`,
  ))!;
}

async function bytesOf(e: TestEmulator, batchId: string): Promise<Map<string, Buffer>> {
  const list = await e.call("GET", `${e.staging(batchId)}/list`);
  const out = new Map<string, Buffer>();
  for (const f of list.json.filesMetadata ?? []) {
    const res = await request(f.downloadURL);
    out.set(f.fileName, Buffer.from(await res.body.arrayBuffer()));
  }
  return out;
}

const failuresOf = (shards: Shard[]) =>
  new Map<string, { type: string; reason: string }>(shards.flatMap((s) => s.statusMetadata?.failedFiles ?? []).map((f: any) => [f.file_name, f]));

describe("--url-map over HTTP", () => {
  it("file:// and loopback mappings serve realistic https:// references; an unmapped host and path traversal fail per file", async () => {
    const r = await emu.call("POST", `${emu.staging("mapped")}/bulk-upload/image-references`, {
      json: {
        imageReferences: [
          { name: "a.png", url: "https://storage.example.com/images/a.png?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=00ff" },
          { name: "b.png", url: "https://storage.example.com/images/nested/b%20c.png" },
          { name: "c.png", url: "https://cdn.example.com/c.png" },
          { name: "d.png", url: "https://secure.example.com/d.png" },
          { name: "elsewhere.png", url: "https://elsewhere.example.org/x.png" },
          { name: "escape.png", url: "https://storage.example.com/images/..%2F..%2Fsecret.png" },
          { name: "escape2.png", url: "https://storage.example.com/images/..%5C..%5Csecret.png" },
          { name: "link.png", url: "https://storage.example.com/images/link.png" },
          { name: "missing.png", url: "https://storage.example.com/images/none.png" },
          { name: "folder.png", url: "https://storage.example.com/images/" },
        ],
      },
    });
    expect(r.status, r.text).toBe(200);
    const shards = await settled(emu, "mapped");
    const got = await bytesOf(emu, "mapped");
    expect([...got.keys()].sort()).toEqual(["a.png", "b.png", "c.png", "d.png"]);
    expect(got.get("a.png")!.equals(png(11))).toBe(true);
    expect(got.get("b.png")!.equals(png(12))).toBe(true);
    expect(got.get("c.png")!.equals(png(13))).toBe(true);
    expect(got.get("d.png")!.equals(png(14))).toBe(true);
    const failed = failuresOf(shards);
    expect(failed.get("elsewhere.png")).toMatchObject({ type: "unsafe-url-detected" });
    expect(failed.get("elsewhere.png")!.reason).toContain(
      "https://elsewhere.example.org is not mapped; map it with --url-map https://elsewhere.example.org/=file:///your/folder/",
    );
    for (const name of ["escape.png", "escape2.png", "link.png"]) {
      expect(failed.get(name), name).toMatchObject({ type: "unsafe-url-detected" });
      expect(failed.get(name)!.reason, name).toMatch(/outside the mapped folder|escapes/i);
    }
    expect(failed.get("missing.png")).toMatchObject({ type: "download-failed" });
    expect(failed.get("missing.png")!.reason).toContain("does not exist");
    expect(failed.get("folder.png")).toMatchObject({ type: "download-failed" });
    // The loopback server got the mapped path.
    expect(cdn.requests.some((q) => q.url === "/assets/c.png")).toBe(true);
  });

  it("a mapped references file, and mapped video references", async () => {
    const imgs = await emu.call("POST", `${emu.staging("mapped-file")}/bulk-upload/image-references`, {
      json: { imageReferencesURL: "https://storage.example.com/refs.jsonl" },
    });
    expect(imgs.status, imgs.text).toBe(200);
    await settled(emu, "mapped-file");
    const got = await bytesOf(emu, "mapped-file");
    expect(got.get("from-file-1.png")?.equals(png(11))).toBe(true);
    expect(got.get("from-file-2.png")?.equals(png(12))).toBe(true);

    const vids = await emu.call("POST", `${emu.staging("mapped-videos")}/bulk-upload/video-references`, {
      json: { videoReferences: [{ name: "clip.mp4", url: "https://storage.example.com/clip.mp4" }] },
    });
    expect(vids.status, vids.text).toBe(200);
    await settled(emu, "mapped-videos");
    expect((await bytesOf(emu, "mapped-videos")).get("clip.mp4")?.equals(mp4(3))).toBe(true);
  });

  it("without --ca-file, the self-signed loopback server is not trusted, and the failure says how to trust it", async () => {
    const plain = await startTestEmulator({ urlMap: [{ from: "https://secure.example.com/", to: `${tlsUrl}/secure/` }] });
    try {
      await plain.call("POST", `${plain.staging("untrusted")}/bulk-upload/image-references`, {
        json: { imageReferences: [{ name: "d.png", url: "https://secure.example.com/d.png" }] },
      });
      const failed = failuresOf(await settled(plain, "untrusted"));
      expect(failed.get("d.png")).toMatchObject({ type: "download-failed" });
      expect(failed.get("d.png")!.reason).toMatch(/certificate/i);
      expect(failed.get("d.png")!.reason).toContain("--ca-file");
    } finally {
      await plain.close();
    }
  });
});

describe("configuration", () => {
  it("--url-map may be repeated, EMULATOR_URL_MAP takes comma-separated mappings, --ca-file / EMULATOR_CA_FILE name the CA", () => {
    const flags = resolveConfig({}, [
      "--url-map",
      "https://a.example.com/=file:///fixtures/a/",
      "--url-map=https://b.example.com/x/=http://127.0.0.1:8080/y/",
      "--ca-file",
      "/tmp/ca.pem",
    ]);
    expect(flags.urlMap).toEqual([
      { from: "https://a.example.com/", to: "file:///fixtures/a/" },
      { from: "https://b.example.com/x/", to: "http://127.0.0.1:8080/y/" },
    ]);
    expect(flags.caFile).toBe("/tmp/ca.pem");
    const env = resolveConfig({
      EMULATOR_URL_MAP: "https://a.example.com/=file:///f/, https://b.example.com/=http://localhost:1/",
      EMULATOR_CA_FILE: "/ca.pem",
    });
    expect(env.urlMap.map((m) => m.from)).toEqual(["https://a.example.com/", "https://b.example.com/"]);
    expect(env.caFile).toBe("/ca.pem");
    expect(resolveConfig({}).urlMap).toEqual([]);
  });

  it("refuses malformed mappings at start-up, saying what a mapping looks like", () => {
    for (const bad of [
      "https://a.example.com/",
      "ftp://a.example.com/=file:///x/",
      "https://a.example.com/=file://relative/x/",
      "https://a.example.com/=gopher://127.0.0.1/",
    ]) {
      expect(() => resolveConfig({ EMULATOR_URL_MAP: bad }), bad).toThrow(/--url-map/);
    }
  });

  it("a spawned emulator reads EMULATOR_URL_MAP (two mappings) and serves both", async () => {
    const child = await startChildEmulator(path.join(tmp, "child-data"), {
      EMULATOR_URL_MAP: `https://storage.example.com/=file://${bucket}/,https://cdn.example.com/=${cdn.url}/assets/`,
    });
    try {
      const url = `${child.url}/data-staging/v1/external/emulator-workspace/batches/child-mapped/bulk-upload/image-references?api_key=emulator-api-key`;
      const body = JSON.stringify({
        imageReferences: [
          { name: "a.png", url: "https://storage.example.com/images/a.png" },
          { name: "c.png", url: "https://cdn.example.com/c.png" },
        ],
      });
      const r = await request(url, { method: "POST", body, headers: { "content-type": "application/json" } });
      expect(r.statusCode, await r.body.text()).toBe(200);
      await waitFor(
        async () => {
          const c = await request(`${child.url}/data-staging/v1/external/emulator-workspace/batches/child-mapped/count?api_key=emulator-api-key`);
          const j = c.statusCode === 200 ? ((await c.body.json()) as { count: number }) : (await c.body.text(), { count: 0 });
          return j.count === 2;
        },
        20_000,
        "both mapped references ingested",
      );
    } finally {
      await child.stop();
    }
  });
});

describe("the official client with mapped references", () => {
  it("create-batch-of-images --data-source references-file with https://storage.example.com/... URLs", async () => {
    assertRealClientAvailable();
    const refs = path.join(tmp, "client-refs.jsonl");
    fs.writeFileSync(
      refs,
      [
        JSON.stringify({ name: "client-a.png", url: "https://storage.example.com/images/a.png" }),
        JSON.stringify({ name: "client-b.png", url: "https://storage.example.com/images/nested/b%20c.png" }),
        JSON.stringify({ name: "client-c.png", url: "https://cdn.example.com/c.png" }),
      ].join("\n") + "\n",
    );
    const run = expectClientOk(
      await runClient(
        emu.url,
        [
          "data-staging",
          "create-batch-of-images",
          "--data-source",
          "references-file",
          "--references",
          refs,
          "--batch-id",
          "client-mapped",
          "--ingest-id",
          "client-mapped-1",
          "--api-key",
          emu.apiKey,
          "--debug-mode",
        ],
        { cwd: tmp },
      ),
    );
    expect(run.stdout).toContain("Your ingest ID");
    await waitFor(async () => (await emu.call("GET", `${emu.staging("client-mapped")}/count`)).json?.count === 3, 20_000, "3 mapped references ingested");
    const got = await bytesOf(emu, "client-mapped");
    expect(got.get("client-a.png")?.equals(png(11))).toBe(true);
    expect(got.get("client-b.png")?.equals(png(12))).toBe(true);
    expect(got.get("client-c.png")?.equals(png(13))).toBe(true);
  });
});
