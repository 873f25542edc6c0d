// Reference ingests: the emulator downloads each {name, url} itself, like the real service does
// from signed cloud-storage URLs. Only mapped URLs (--url-map: a local folder or server) and loopback
// URLs are fetched (the emulator never reaches a host nobody named; see ./sources.ts); anything else is
// refused per file as "unsafe-url-detected", as the real service reports untrusted domains. Each
// download has a size limit and a (real-time) timeout.
import { MAX_IMAGE_BYTES, MAX_VIDEO_BYTES } from "../../contract/staging-uploads.js";
import { describeFetchError } from "../../http/fetch-errors.js";
import { fileNameProblem } from "../../http/file-names.js";
import { ACCEPTED_IMAGE_FORMATS, sniff, videoMediaType } from "../../http/sniff.js";
import { BlobTooLargeError, type BlobStore } from "../../state/blobs.js";
import type { FailedFile } from "./notify.js";
import type { StagedFile } from "./finish.js";
import { openReference, RefFailure, type SourceSession } from "./sources.js";

export type ReferenceKind = "image" | "video";

export interface Reference {
  name: string;
  url: string;
  /** Set at request time for a repeated name: reported as failed, never fetched. */
  duplicate?: boolean;
}

export interface ReferencePayload {
  kind: ReferenceKind;
  references?: Reference[];
  referencesURL?: string;
  /** Bad lines of a references file, reported with this shard. */
  problems?: FailedFile[];
}

export interface FetchLimits {
  /** Real-time limit for one download (network I/O is not on the emulator clock). */
  timeoutMs: number;
  /** Downloads in flight at once per shard. */
  concurrency: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = { timeoutMs: 60_000, concurrency: 8 };
export const MAX_REFERENCES_FILE_BYTES = 64 * 1024 * 1024;

export function maxBytesOf(kind: ReferenceKind): number {
  return kind === "image" ? MAX_IMAGE_BYTES : MAX_VIDEO_BYTES;
}

const UNTRUSTED_CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|unable to verify|certificate/i;

function failureOf(err: unknown, timeoutMs: number): RefFailure {
  if (err instanceof RefFailure) return err;
  const f = describeFetchError(err);
  if (f.timedOut) return new RefFailure("download-timeout", `The download did not finish within ${timeoutMs} ms.`);
  if (UNTRUSTED_CERTIFICATE.test(f.reason)) {
    return new RefFailure(
      "download-failed",
      `The download failed: ${f.reason}: the server's certificate is not trusted; trust it (or its CA) with --ca-file <PEM file>.`,
    );
  }
  return new RefFailure("download-failed", `The download failed: ${f.reason}.`);
}

/** Downloads `url` into a temp file of at most `limit` bytes. */
async function downloadToTemp(url: string, session: SourceSession, blobs: BlobStore, limit: number, limits: FetchLimits, tooBig: () => RefFailure) {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    const opened = await openReference(url, session, signal);
    if (opened.declared !== null && opened.declared > limit) {
      opened.body.destroy();
      throw tooBig();
    }
    return await blobs.receive(opened.body, limit);
  } catch (err) {
    if (err instanceof BlobTooLargeError) throw tooBig();
    throw failureOf(err, limits.timeoutMs);
  }
}

/** Fetches one reference; never throws. */
export async function fetchReference(
  ref: Reference,
  kind: ReferenceKind,
  session: SourceSession,
  blobs: BlobStore,
  limits: FetchLimits,
): Promise<StagedFile | FailedFile> {
  const failed = (type: string, reason: string): FailedFile => ({ type, file_name: ref.name, reason });
  if (ref.duplicate) return failed("duplicated-file-name", `Another reference of this ingest is already named "${ref.name}".`);
  const nameProblem = fileNameProblem(ref.name);
  if (nameProblem) return failed("invalid-file-name", `Invalid file name: ${nameProblem}.`);
  const limit = maxBytesOf(kind);
  const tooBig = () =>
    new RefFailure("file-size-limit-exceeded", kind === "image" ? `Max size of single image is ${limit}B.` : `Max size of single video is ${limit}B.`);
  let got: { tmp: string; size: number; sha256: string };
  try {
    got = await downloadToTemp(ref.url, session, blobs, limit, limits, tooBig);
  } catch (err) {
    const f = err instanceof RefFailure ? err : failureOf(err, limits.timeoutMs);
    return failed(f.type, f.message);
  }
  const head = blobs.tempHead(got.tmp);
  if (kind === "image") {
    const s = sniff(head);
    if (s.kind !== "image") {
      blobs.discard(got.tmp);
      return failed("invalid-file-type", `Not an image: detected ${s.label}; accepted formats are ${ACCEPTED_IMAGE_FORMATS}.`);
    }
    return { fileName: ref.name, tmp: got.tmp, size: got.size, sha256: got.sha256, mediaType: s.mediaType, contentType: "image" };
  }
  return { fileName: ref.name, tmp: got.tmp, size: got.size, sha256: got.sha256, mediaType: videoMediaType(head, ref.name), contentType: "video" };
}

/** Fetches every reference with bounded concurrency, in input order. */
export async function fetchReferences(
  refs: Reference[],
  kind: ReferenceKind,
  session: SourceSession,
  blobs: BlobStore,
  limits: FetchLimits,
  isStopped: () => boolean,
): Promise<{ files: StagedFile[]; failed: FailedFile[] }> {
  const results: (StagedFile | FailedFile | null)[] = Array.from({ length: refs.length }, () => null);
  let next = 0;
  const lane = async () => {
    while (next < refs.length && !isStopped()) {
      const i = next++;
      results[i] = await fetchReference(refs[i], kind, session, blobs, limits);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limits.concurrency) }, lane));
  const files: StagedFile[] = [];
  const failed: FailedFile[] = [];
  for (const r of results) {
    if (!r) continue;
    if ("tmp" in r) files.push(r);
    else failed.push(r);
  }
  if (isStopped()) {
    for (const f of files) blobs.discard(f.tmp);
    return { files: [], failed: [] };
  }
  return { files, failed };
}

/** Marks repeated names (after the first) so they are reported instead of overwriting each other. */
export function markDuplicates(refs: { name: string; url: string }[], seen = new Set<string>()): Reference[] {
  return refs.map((r) => {
    const ref: Reference = { name: r.name, url: r.url };
    if (seen.has(r.name)) ref.duplicate = true;
    else seen.add(r.name);
    return ref;
  });
}

export type ReferencesFileResult = { ok: true; references: Reference[]; problems: FailedFile[] } | { ok: false; type: string; reason: string };

/** Downloads and parses a JSONL references file ({"name": ..., "url": ...} per line). */
export async function loadReferencesFile(
  url: string,
  session: SourceSession,
  blobs: BlobStore,
  limits: FetchLimits,
  maxReferences: number,
): Promise<ReferencesFileResult> {
  let got: { tmp: string };
  try {
    got = await downloadToTemp(
      url,
      session,
      blobs,
      MAX_REFERENCES_FILE_BYTES,
      limits,
      () => new RefFailure("references-file-too-large", `The references file is larger than ${MAX_REFERENCES_FILE_BYTES} bytes.`),
    );
  } catch (err) {
    const f = err instanceof RefFailure ? err : failureOf(err, limits.timeoutMs);
    return { ok: false, type: f.type, reason: `References file: ${f.message}` };
  }
  let text: string;
  try {
    text = blobs.readTemp(got.tmp).toString("utf8");
  } finally {
    blobs.discard(got.tmp);
  }
  const refs: { name: string; url: string }[] = [];
  const problems: FailedFile[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      problems.push({ type: "invalid-reference", file_name: "", reason: `Line ${i + 1} of the references file is not valid JSON.` });
      continue;
    }
    const d: { name?: unknown; url?: unknown } = doc !== null && typeof doc === "object" ? doc : {};
    if (typeof d.name !== "string" || !d.name || typeof d.url !== "string" || !d.url) {
      problems.push({
        type: "invalid-reference",
        file_name: typeof d.name === "string" ? d.name : "",
        reason: `Line ${i + 1} of the references file needs string keys "name" and "url".`,
      });
      continue;
    }
    refs.push({ name: d.name, url: d.url });
  }
  if (refs.length > maxReferences) {
    return {
      ok: false,
      type: "too-many-references",
      reason: `The references file lists ${refs.length} files; at most ${maxReferences} are accepted per ingest.`,
    };
  }
  if (!refs.length && !problems.length) return { ok: false, type: "empty-references-file", reason: "The references file lists no files." };
  return { ok: true, references: markDuplicates(refs), problems };
}
