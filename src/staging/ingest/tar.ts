// Indexes one uploaded tar shard: regular-file members that are images become staged files; every
// other member is refused and reported, never written anywhere under its own name. The archive is
// read as a stream with node-tar's Parser, one member in memory at a time (at most 20 MiB).
import { Parser, ReadEntry } from "tar";
import { MAX_IMAGE_BYTES, MAX_IMAGES_PER_SHARD } from "../../contract/staging-uploads.js";
import { baseName, fileNameProblem } from "../../http/file-names.js";
import { ACCEPTED_IMAGE_FORMATS, sniff } from "../../http/sniff.js";
import type { ErrorDetails, FailedFile } from "./notify.js";
import type { StagedFile } from "./finish.js";
import type { BlobStore } from "../../state/blobs.js";

export const NOTIFICATION_CONFIG_NAME = "notification_config.json";
const MAX_CONFIG_BYTES = 64 * 1024;
const REGULAR_FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);
const SILENTLY_SKIPPED_TYPES = new Set(["Directory", "GNUDumpDir"]);
const TYPE_DESCRIPTIONS: Record<string, string> = {
  SymbolicLink: "symbolic links are not accepted",
  Link: "hard links are not accepted",
  CharacterDevice: "character devices are not accepted",
  BlockDevice: "block devices are not accepted",
  FIFO: "FIFOs are not accepted",
};

export interface NotificationConfig {
  ingestId: string | null;
  url: string | null;
  categories: string[] | null;
}

export interface TarIndexResult {
  files: StagedFile[];
  failed: FailedFile[];
  shardError: ErrorDetails | null;
  notificationConfig: NotificationConfig | null;
}

const printable = (p: string) => (p.length > 300 ? `${p.slice(0, 297)}...` : p);

/** Why a member path is unsafe to accept (absolute, escaping, odd characters), or null. */
export function unsafePathProblem(p: string): string | null {
  if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) return "absolute paths are not accepted";
  if (p.includes("\\")) return "backslashes are not accepted in member paths";
  if (p.split("/").includes("..")) return "paths with '..' are not accepted";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return "control characters are not accepted in member paths";
  return null;
}

export function parseNotificationConfig(raw: Buffer): NotificationConfig | string {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return "must be a JSON object {ingestId, notificationsURL}";
  const d: { ingestId?: unknown; notificationsURL?: unknown; notificationCategories?: unknown } = doc;
  const ingestId = typeof d.ingestId === "string" && d.ingestId ? d.ingestId.slice(0, 128) : null;
  let url: string | null = null;
  if (d.notificationsURL !== undefined && d.notificationsURL !== null) {
    if (typeof d.notificationsURL !== "string" || !/^https?:\/\/[^\s]+$/i.test(d.notificationsURL) || !URL.canParse(d.notificationsURL)) {
      return "notificationsURL must be an absolute http(s) URL";
    }
    url = d.notificationsURL;
  }
  let categories: string[] | null = null;
  if (Array.isArray(d.notificationCategories)) {
    categories = d.notificationCategories.filter((c): c is string => c === "ingest-status" || c === "files-status");
  }
  return { ingestId, url, categories };
}

/**
 * Drops a notificationsURL that `refusal` objects to (the emulator's own control API) and reports it
 * as the config's failure, so the shard's files still go in and the user sees why no webhook came.
 */
export function refuseNotificationUrl(result: TarIndexResult, refusal: (url: string) => string | null): TarIndexResult {
  const cfg = result.notificationConfig;
  const why = cfg?.url ? refusal(cfg.url) : null;
  if (!cfg || !why) return result;
  const reason = `${NOTIFICATION_CONFIG_NAME}: notificationsURL ${cfg.url} ${why}; no notifications are sent for this shard.`;
  return {
    ...result,
    notificationConfig: { ...cfg, url: null },
    failed: [...result.failed, { type: "invalid-notification-config", file_name: NOTIFICATION_CONFIG_NAME, reason }],
  };
}

/**
 * Reads the archive blob `tarBlob` and stages its images as temp files of the blob store. Never
 * throws for bad archives. Returns null when `isStopped` cut the reading short: a partial read says
 * nothing about the archive (stopping before the first chunk looks like an empty, "corrupt" one),
 * so the caller must not apply it and indexes the shard again later.
 */
export async function indexTar(blobs: BlobStore, tarBlob: string, isStopped: () => boolean): Promise<TarIndexResult | null> {
  const files: StagedFile[] = [];
  const failed: FailedFile[] = [];
  const names = new Set<string>();
  let notificationConfig: NotificationConfig | null = null;
  let corrupt: string | null = null;
  const judged = new WeakSet<object>();

  const refuse = (type: string, member: string, reason: string) => failed.push({ type, file_name: printable(member), reason });

  /** Decides from the header alone whether a member's bytes are worth reading. */
  const accept = (entry: ReadEntry): boolean => {
    judged.add(entry);
    const p = entry.path;
    if (SILENTLY_SKIPPED_TYPES.has(entry.type)) return false;
    const unsafe = unsafePathProblem(p);
    if (unsafe) return (void refuse("unsafe-archive-member", p, `Refused archive member: ${unsafe}.`), false);
    if (!REGULAR_FILE_TYPES.has(entry.type)) {
      return (
        void refuse(
          "unsafe-archive-member",
          p,
          `Refused archive member: ${TYPE_DESCRIPTIONS[entry.type] ?? `entry type ${entry.type} is not accepted`}; only regular files are ingested.`,
        ),
        false
      );
    }
    const clean = p.replace(/^(\.\/)+/, "");
    if (clean === NOTIFICATION_CONFIG_NAME) {
      if (entry.size > MAX_CONFIG_BYTES)
        return (void refuse("invalid-notification-config", p, `${NOTIFICATION_CONFIG_NAME} is larger than ${MAX_CONFIG_BYTES} bytes.`), false);
      return true;
    }
    const name = baseName(clean);
    const nameProblem = fileNameProblem(name);
    if (nameProblem) return (void refuse("invalid-file-name", p, `Invalid file name: ${nameProblem}.`), false);
    if (entry.size > MAX_IMAGE_BYTES) return (void refuse("file-size-limit-exceeded", p, `Max size of single image is ${MAX_IMAGE_BYTES}B.`), false);
    return true;
  };

  /** Handles a fully read member that passed the header checks. */
  const take = (entry: ReadEntry, data: Buffer) => {
    const clean = entry.path.replace(/^(\.\/)+/, "");
    if (clean === NOTIFICATION_CONFIG_NAME) {
      const cfg = parseNotificationConfig(data);
      if (typeof cfg === "string") refuse("invalid-notification-config", entry.path, `${NOTIFICATION_CONFIG_NAME} ignored: ${cfg}.`);
      else notificationConfig = cfg;
      return;
    }
    const name = baseName(clean);
    const kind = sniff(data.subarray(0, 512));
    if (kind.kind !== "image")
      return refuse("invalid-file-type", entry.path, `Not an image: detected ${kind.label}; accepted formats are ${ACCEPTED_IMAGE_FORMATS}.`);
    if (names.has(name))
      return refuse("duplicated-file-name", entry.path, `Another member of this archive is already named "${name}" (names are the members' base names).`);
    if (files.length >= MAX_IMAGES_PER_SHARD) return refuse("too-many-files", entry.path, `Max number of images in a shard is ${MAX_IMAGES_PER_SHARD}.`);
    names.add(name);
    files.push({ fileName: name, ...blobs.writeTemp(data, "tar-member"), mediaType: kind.mediaType, contentType: "image" });
  };

  const parser = new Parser({
    strict: false,
    brotli: false,
    zstd: false,
    filter: (_p, entry) => entry instanceof ReadEntry && accept(entry),
  });
  parser.on("warn", (code: string, message: string) => {
    if (/^TAR_(BAD_ARCHIVE|ENTRY_INVALID|ABORT|ENTRY_ERROR)$/.test(code)) corrupt ??= `${message} (${code})`;
  });
  parser.on("ignoredEntry", (entry: ReadEntry) => {
    // Entries node-tar ignores before asking our filter (unknown types, oversized PAX headers).
    if (!judged.has(entry) && !entry.meta)
      refuse("unsafe-archive-member", entry.path, `Refused archive member: entry type ${entry.type} is not accepted; only regular files are ingested.`);
    else if (!judged.has(entry) && entry.meta) corrupt ??= `an extended header of ${entry.size} bytes is larger than allowed`;
  });
  parser.on("entry", (entry: ReadEntry) => {
    const chunks: Buffer[] = [];
    entry.on("data", (c: Buffer) => chunks.push(c));
    entry.on("end", () => {
      if (!corrupt) take(entry, Buffer.concat(chunks));
    });
    entry.resume();
  });

  const ended = new Promise<void>((resolve) => {
    parser.on("end", () => resolve());
    parser.on("error", (err: Error) => {
      corrupt ??= err.message;
      resolve();
    });
  });

  // Shards are plain tar (the official client never compresses them). A compressed shard would be
  // inflated on the event loop, and a small gzip bomb grows to gigabytes: refuse it before parsing.
  corrupt ??= compressionOf(blobs.head(tarBlob, 8)) ?? null;

  let interrupted = false;
  try {
    const stream = blobs.openRead(tarBlob, { highWaterMark: 1024 * 1024 });
    for await (const chunk of stream) {
      interrupted = isStopped();
      if (interrupted || corrupt) {
        stream.destroy();
        break;
      }
      // An aborted parser never drains: stop waiting once it has ended.
      if (!parser.write(chunk as Buffer)) await Promise.race([new Promise((r) => parser.once("drain", r)), ended]);
    }
    parser.end();
    await ended;
  } catch (err) {
    corrupt ??= `the archive could not be read: ${(err as Error).message}`;
  }

  if (interrupted || corrupt) for (const f of files) blobs.discard(f.tmp);
  if (interrupted) return null;
  if (corrupt)
    return { files: [], failed, shardError: { type: "corrupted-archive", reason: `The shard is not a readable tar archive: ${corrupt}` }, notificationConfig };
  return { files, failed, shardError: null, notificationConfig };
}

const COMPRESSED_MAGIC: readonly [string, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
];

/** A reason to refuse the shard when its first bytes say it is a compressed archive, else undefined. */
export function compressionOf(head: Buffer): string | undefined {
  const found = COMPRESSED_MAGIC.find(([, magic]) => head.length >= magic.length && magic.every((b, i) => head[i] === b));
  return found ? `the shard is ${found[0]}-compressed; upload an uncompressed .tar archive (compressed shards are not accepted)` : undefined;
}
