// Helpers for the jobs tests: staging files over HTTP like the official client, job definitions,
// polling a job to its end, paging output batches, downloading and unpacking archives, parsing
// JSONL and CSV results.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tar from "tar";
import { request } from "undici";
import type { TestEmulator } from "./emulator.js";

/** POST .../upload/image with one multipart part named after the file (what the official client sends). */
export async function uploadImage(emu: TestEmulator, batchId: string, fileName: string, bytes: Buffer): Promise<{ status: number; text: string }> {
  const fd = new FormData();
  fd.append(fileName, new Blob([new Uint8Array(bytes)]), fileName);
  const res = await fetch(`${emu.url}${emu.staging(batchId)}/upload/image?api_key=${emu.apiKey}&fileName=${encodeURIComponent(fileName)}`, {
    method: "POST",
    body: fd,
  });
  return { status: res.status, text: await res.text() };
}

/** Video upload: ask for a signed URL, then PUT the bytes with the extension headers. */
export async function uploadVideo(emu: TestEmulator, batchId: string, fileName: string, bytes: Buffer): Promise<number> {
  const r = await emu.call("POST", `${emu.staging(batchId)}/upload/video?fileName=${encodeURIComponent(fileName)}`);
  if (r.status !== 200) throw new Error(`upload/video answered ${r.status}: ${r.text}`);
  const { uploadURL, extensionHeaders } = r.json.signedURLDetails;
  const put = await request(uploadURL, { method: "PUT", body: bytes, headers: extensionHeaders });
  await put.body.text();
  return put.statusCode;
}

export function imageJob(ws: string, batchId: string, extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return {
    type: "simple-image-processing-v1",
    jobInput: { type: "staging-batch-input-v1", batchId },
    computeConfiguration: { type: "compute-configuration-v2", machineType: "gpu", workersPerMachine: 4 },
    processingTimeoutSeconds: 3600,
    processingSpecification: { type: "workflows-processing-specification-v1", workspace: ws, workflowId: "test-workflow", aggregationFormat: "jsonl", ...spec },
    ...extra,
  };
}

export async function getJob(emu: TestEmulator, jobId: string): Promise<any> {
  const r = await emu.call("GET", emu.jobs(jobId));
  if (r.status !== 200) throw new Error(`GET job ${jobId} answered ${r.status}: ${r.text}`);
  return r.json.job;
}

/** Polls the job until it is terminal (real-time deadline). */
export async function waitForJob(emu: TestEmulator, jobId: string, timeoutMs = 20_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(emu, jobId);
    if (job.isTerminal) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish in ${timeoutMs} ms: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

export async function stagesOf(emu: TestEmulator, jobId: string): Promise<any[]> {
  const r = await emu.call("GET", `${emu.jobs(jobId)}/stages`);
  if (r.status !== 200) throw new Error(`stages answered ${r.status}: ${r.text}`);
  return r.json.stages;
}

/** Every page of a paginated listing, asserting the token contract (a string or null, never ""). */
export async function allPages(emu: TestEmulator, pathWithQuery: string, key: string, pageSize?: number): Promise<any[]> {
  const out: any[] = [];
  let token: string | null = null;
  for (let guard = 0; guard < 10_000; guard++) {
    const sep = pathWithQuery.includes("?") ? "&" : "?";
    const q = [pageSize ? `pageSize=${pageSize}` : "", token ? `nextPageToken=${encodeURIComponent(token)}` : ""].filter(Boolean).join("&");
    const r = await emu.call("GET", q ? `${pathWithQuery}${sep}${q}` : pathWithQuery);
    if (r.status !== 200) throw new Error(`${pathWithQuery} answered ${r.status}: ${r.text}`);
    if (!("nextPageToken" in r.json)) throw new Error(`${pathWithQuery}: nextPageToken key missing`);
    if (r.json.nextPageToken === "") throw new Error(`${pathWithQuery}: empty-string nextPageToken`);
    out.push(...r.json[key]);
    token = r.json.nextPageToken;
    if (token === null) return out;
  }
  throw new Error("pagination did not end");
}

export async function download(url: string): Promise<Buffer> {
  const res = await request(url);
  const buf = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`download answered ${res.statusCode}: ${buf.toString().slice(0, 300)}`);
  return buf;
}

/** Unpacks a .tar.gz with node-tar (an independent implementation) and returns name → bytes. */
export async function untarGz(bytes: Buffer): Promise<Map<string, Buffer>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-untar-"));
  try {
    const file = path.join(dir, "archive.tar.gz");
    fs.writeFileSync(file, bytes);
    const out = path.join(dir, "out");
    fs.mkdirSync(out);
    await tar.x({ file, cwd: out, strict: true });
    return new Map(fs.readdirSync(out).map((n) => [n, fs.readFileSync(path.join(out, n))]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function parseJsonl(text: string): any[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** RFC 4180 CSV (quoted cells with doubled quotes, CRLF rows) → rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += ch;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
