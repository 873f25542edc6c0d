// Reference and RoboQL ingests: the request is recorded with a hash of its content, so the same data
// under the same ingestId is recognised and answered duplicated=true; a new ingest creates its shards
// (500 references each) and queues them for the ingest worker.
import crypto from "node:crypto";
import type { Emulator } from "../context.js";
import type { ImageReferencesBodyT, ReferencesBody, RoboqlBodyT, VideoReferencesBodyT } from "../contract/staging-uploads.js";
import { badRequest, conflict } from "../errors.js";
import { CONTROL_API_LOOP, pointsAtControlApi } from "../http/self-url.js";
import { getIngest, insertIngest, listShardsOfIngest, type IngestKind } from "../state/ingests.js";
import { insertShard } from "../state/shards.js";
import { markDuplicates, type ReferenceKind, type ReferencePayload } from "./ingest/references.js";
import { REFERENCES_PER_SHARD, ROBOQL_NOT_EMULATED, scheduleShard, type RoboqlPayload } from "./ingest/worker.js";
import { BULK_IMAGES, ensureBatch, VIDEOS, type BatchTarget } from "./targets.js";

export interface StartedIngest {
  ingestId: string;
  shardIds: string[];
  duplicated: boolean;
}

/** A reference or RoboQL ingest as stored: its identity for de-duplication and the shards it creates. */
type IngestRequest = {
  kind: IngestKind;
  target: BatchTarget;
  /** The ingest's content (references or query); same content + same ingestId = the same ingest. */
  canonical: string;
  ingestId?: string;
  displayName?: string;
  notificationsURL?: string;
  notificationCategories?: string[];
} & ({ shardKind: "references"; payloads: ReferencePayload[] } | { shardKind: "roboql"; payloads: RoboqlPayload[] });

function hashOf(text: string, algo: "sha256" | "md5"): string {
  return crypto.createHash(algo).update(text).digest("hex");
}

/** 400 when the ingest's notificationsURL would call the emulator's own control API (a webhook loop). */
function checkNotificationsUrl(emu: Emulator, url: string | undefined): void {
  if (url === undefined || !pointsAtControlApi(url, emu)) return;
  throw badRequest(
    `Invalid notificationsURL: ${CONTROL_API_LOOP}`,
    [{ field: "notificationsURL", problem: "points at the emulator's own control API", received: url }],
    "Point notificationsURL at your own endpoint, or at the built-in receiver: POST /_emulator/receiver/{name} stores every delivery for GET.",
  );
}

function startIngest(emu: Emulator, ws: string, batchId: string, req: IngestRequest): StartedIngest {
  checkNotificationsUrl(emu, req.notificationsURL);
  const requestHash = hashOf(req.canonical, "sha256");
  // Like the real service's 32-hex ingest ids: derived from the content, so a repeated request is recognised.
  const ingestId = req.ingestId ?? hashOf(req.canonical, "md5");
  const now = emu.clock.now();
  const result = emu.db.transaction(() => {
    const existing = getIngest(emu.db, ws, batchId, ingestId);
    if (existing) {
      if (existing.kind !== req.kind || existing.request_hash !== requestHash) {
        throw conflict(
          `ingestId "${ingestId}" was already used in batch "${batchId}" for a different ${existing.kind} request (other references or query)`,
          "Use a new ingestId for different data; repeating the same data answers duplicated=true.",
        );
      }
      return { ingestId, shardIds: listShardsOfIngest(emu.db, ws, batchId, ingestId).map((s) => s.shard_id), duplicated: true };
    }
    ensureBatch(emu.db, ws, batchId, req.target, req.displayName, now);
    insertIngest(emu.db, { workspace_id: ws, batch_id: batchId, ingest_id: ingestId, kind: req.kind, request_hash: requestHash, created_at: now });
    const shardIds = req.payloads.map((payload: ReferencePayload | RoboqlPayload) => {
      const shardId = emu.ids.uuid();
      insertShard(emu.db, {
        shard_id: shardId,
        workspace_id: ws,
        batch_id: batchId,
        ingest_id: ingestId,
        kind: req.shardKind,
        status_name: "queued",
        status_type: "info",
        objects_count: 0,
        status_metadata: null,
        notifications_url: req.notificationsURL ?? null,
        notification_categories: req.notificationCategories ? JSON.stringify(req.notificationCategories) : null,
        payload: JSON.stringify(payload),
        created_at: now,
        event_at: now,
      });
      return shardId;
    });
    return { ingestId, shardIds, duplicated: false };
  })();
  if (!result.duplicated) for (const id of result.shardIds) scheduleShard(emu, { shard_id: id, kind: req.shardKind });
  return result;
}

function referencesRequest(kind: ReferenceKind, body: ReferencesBody, displayName: string | undefined): IngestRequest {
  // What the ingest is: the data, not the notification settings (a re-run with another webhook is the same ingest).
  const canonical = JSON.stringify({ kind, references: body.references?.map((r) => [r.name, r.url]) ?? null, referencesURL: body.referencesURL ?? null });
  const payloads: ReferencePayload[] = [];
  if (body.references) {
    const refs = markDuplicates(body.references);
    for (let i = 0; i < refs.length; i += REFERENCES_PER_SHARD) payloads.push({ kind, references: refs.slice(i, i + REFERENCES_PER_SHARD) });
  } else {
    payloads.push({ kind, referencesURL: body.referencesURL });
  }
  return {
    kind: `${kind}-references`,
    target: kind === "image" ? BULK_IMAGES : VIDEOS,
    canonical,
    ingestId: body.ingestId,
    displayName,
    notificationsURL: body.notificationsURL,
    notificationCategories: body.notificationCategories,
    shardKind: "references",
    payloads,
  };
}

/** bulk-upload/image-references. */
export function ingestImageReferences(emu: Emulator, ws: string, batchId: string, body: ImageReferencesBodyT, displayName: string | undefined): StartedIngest {
  const { imageReferences: references, imageReferencesURL: referencesURL, ...options } = body;
  return startIngest(emu, ws, batchId, referencesRequest("image", { references, referencesURL, ...options }, displayName));
}

/** bulk-upload/video-references. */
export function ingestVideoReferences(emu: Emulator, ws: string, batchId: string, body: VideoReferencesBodyT, displayName: string | undefined): StartedIngest {
  const { videoReferences: references, videoReferencesURL: referencesURL, ...options } = body;
  return startIngest(emu, ws, batchId, referencesRequest("video", { references, referencesURL, ...options }, displayName));
}

/** roboql-ingest: recorded and queued; its shard ends with roboql-not-supported (no RoboQL engine here). */
export function ingestRoboql(emu: Emulator, ws: string, batchId: string, body: RoboqlBodyT): StartedIngest & { message: string } {
  const canonical = JSON.stringify({ kind: "roboql", query: body.query });
  const started = startIngest(emu, ws, batchId, {
    kind: "roboql",
    target: BULK_IMAGES,
    canonical,
    ingestId: body.ingestId,
    displayName: body.displayName,
    notificationsURL: body.notificationsURL,
    notificationCategories: body.notificationCategories,
    shardKind: "roboql",
    payloads: [{ query: body.query }],
  });
  return { ...started, message: ROBOQL_NOT_EMULATED };
}
