// Data Staging ingestion schemas: single-image upload, video and tar-shard upload URLs, reference
// and RoboQL ingests. Field names as the real client sends and reads them (see
// ../shared/contract/real-client.md rows D7-D13).
import { z } from "@hono/zod-openapi";
import { ApiKeyQuery } from "./common.js";
import { VIDEO_FILE_EXTENSIONS } from "../http/file-names.js";

/** Largest single image the service ingests ("Max size of single image is 20971520B." in its webhooks). */
export const MAX_IMAGE_BYTES = 20_971_520;
/** Images per tar shard ("Bundle up to 500 images per archive"). */
export const MAX_IMAGES_PER_SHARD = 500;
/** Largest tar shard accepted: 500 images of 20 MiB plus room for tar headers. */
export const MAX_SHARD_BYTES = 10 * 1024 ** 3;
/** Largest video accepted through upload/video. */
export const MAX_VIDEO_BYTES = 10 * 1024 ** 3;
/** References per ingest request (the client splits bigger lists). */
export const MAX_REFERENCES_PER_REQUEST = 20_000;

export const NOTIFICATION_CATEGORIES = ["ingest-status", "files-status"] as const;

const DisplayNameQuery = z
  .string()
  .max(256, { message: "displayName must be at most 256 characters" })
  // The pattern names control characters on purpose (it refuses them), and is published as written.
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, { message: "displayName must not contain control characters" })
  .optional()
  .openapi({
    param: { name: "displayName", in: "query" },
    description: "Batch name, used only when this call creates the batch (default: the batch id).",
    example: "My batch",
  });

export const UploadImageQuery = z.object({
  api_key: ApiKeyQuery,
  fileName: z.string({ message: "fileName is required: the name the image gets in the batch (the official client sends the file's basename)" }).openapi({
    param: { name: "fileName", in: "query", required: true },
    description:
      "Name of the image in the batch (required, as in the reference; the part's own filename is not used). One path component, no control characters, at most 255 bytes.",
    example: "image-001.jpg",
  }),
  displayName: DisplayNameQuery,
});

export const UploadVideoQuery = z.object({
  api_key: ApiKeyQuery,
  fileName: z.string({ message: "fileName is required: the name the video gets in the batch" }).openapi({
    param: { name: "fileName", in: "query", required: true },
    description: `Name of the video in the batch, e.g. my_video.mp4: a video file name, ending in one of ${VIDEO_FILE_EXTENSIONS.map((e) => `.${e}`).join(", ")} (any case; the official client's video extensions).`,
    example: "my_video.mp4",
  }),
  displayName: DisplayNameQuery,
});

export const BulkUploadQuery = z.object({ api_key: ApiKeyQuery, displayName: DisplayNameQuery });

/** Documentation-only schemas (plain OpenAPI, not zod) for bodies the emulator streams itself: no validator may buffer them. */
export const MultipartImageBodyDoc: {
  type: "object";
  required: string[];
  properties: Record<string, { type: "string"; format: string; description: string }>;
} = {
  type: "object",
  required: ["file"],
  properties: {
    file: {
      type: "string",
      format: "binary",
      description:
        "The image (JPEG, JPEG 2000, PNG, GIF, BMP/DIB, WEBP or TIFF, at most 20,971,520 bytes). Exactly one file part; its field name can be anything (the official client names it after the file).",
    },
  },
};
export const BinaryBodyDoc: { type: "string"; format: string } = { type: "string", format: "binary" };

export const StatusOkResponse = z.object({ status: z.string().openapi({ example: "ok" }) }).openapi("UploadAccepted");

const ExtensionHeaders = z.record(z.string(), z.string()).openapi({
  description: "Send exactly these headers with the PUT.",
  example: { "X-Goog-Content-Length-Range": "0,10737418240" },
});

export const VideoUploadResponse = z
  .object({
    status: z.string(),
    signedURLDetails: z.object({
      uploadURL: z.string().openapi({ description: "PUT the video to this URL (no api_key needed)." }),
      method: z.literal("PUT"),
      extensionHeaders: ExtensionHeaders,
      maxFileSize: z.number().int(),
    }),
  })
  .openapi("VideoUploadURL");

export const ShardUploadResponse = z
  .object({
    status: z.string(),
    signedURLDetails: z.object({
      shardId: z.string().openapi({ format: "uuid" }),
      uploadURL: z.string().openapi({ description: "PUT the uncompressed .tar archive to this URL (no api_key needed)." }),
      method: z.literal("PUT"),
      extensionHeaders: ExtensionHeaders,
      maxNumberOfImages: z.number().int(),
      maxShardSize: z.number().int(),
    }),
  })
  .openapi("ShardUploadURL");

const NotificationsURL = z
  .url({ protocol: /^https?$/, message: "notificationsURL must be an absolute http(s) URL" })
  .max(2048)
  .openapi({ description: "Webhook receiving roboflow-data-staging-notification-v1 POSTs (header Authorization: Bearer rf_{the workspace's internal id})." });
const NotificationCategories = z
  .array(z.enum(NOTIFICATION_CATEGORIES))
  .max(2)
  .openapi({ description: 'Which notifications to send; default ["ingest-status"].' });
const IngestId = z
  .string()
  .min(1)
  .max(128, { message: "ingestId must be at most 128 characters" })
  .regex(/^[A-Za-z0-9._:-]+$/, { message: "ingestId may use letters, digits, '.', '_', ':' and '-' only" })
  .openapi({ description: "Your id for this ingest; repeating a request with the same ingestId and body is answered with duplicated=true and does nothing." });

const Reference = z
  .object({
    name: z.string().min(1, { message: "name must not be empty" }).openapi({ description: "File name in the batch (unique within the ingest)." }),
    url: z.string().min(1, { message: "url must not be empty" }).openapi({ description: "Signed URL the service downloads the file from." }),
  })
  .openapi("FileReference");

const referenceList = (list: string) =>
  z
    .array(Reference)
    .min(1, { message: `${list} must not be empty` })
    .max(MAX_REFERENCES_PER_REQUEST, { message: `at most ${MAX_REFERENCES_PER_REQUEST} references per request; split bigger lists into several ingests` })
    .optional();
const referencesFileUrl = (url: string) =>
  z
    .url({ protocol: /^https?$/, message: `${url} must be an absolute http(s) URL` })
    .max(8192)
    .optional()
    .openapi({ description: "URL of a JSONL file of {name, url} lines (instead of an inline list)." });
const ingestOptions = () => ({
  ingestId: IngestId.optional(),
  notificationsURL: NotificationsURL.optional(),
  notificationCategories: NotificationCategories.optional(),
});

/** A references ingest names its files one way: the inline list or the JSONL file URL, never both. */
function exactlyOneSource<L extends string, U extends string>(list: L, url: U) {
  return (v: Partial<Record<L | U, unknown>>, ctx: z.RefinementCtx) => {
    const hasList = v[list] !== undefined;
    const hasUrl = v[url] !== undefined;
    if (hasList === hasUrl) {
      ctx.addIssue({ code: "custom", path: [hasList ? url : list], message: `send exactly one of ${list} (inline list) or ${url} (JSONL file URL)` });
    }
  };
}

/** What a references ingest asks for, whichever kind (image or video) it is. */
export interface ReferencesBody {
  references?: { name: string; url: string }[];
  referencesURL?: string;
  ingestId?: string;
  notificationsURL?: string;
  notificationCategories?: (typeof NOTIFICATION_CATEGORIES)[number][];
}

export const ImageReferencesBody = z
  .strictObject({ imageReferences: referenceList("imageReferences"), imageReferencesURL: referencesFileUrl("imageReferencesURL"), ...ingestOptions() })
  .superRefine(exactlyOneSource("imageReferences", "imageReferencesURL"))
  .openapi("ImageReferencesIngest");
export const VideoReferencesBody = z
  .strictObject({ videoReferences: referenceList("videoReferences"), videoReferencesURL: referencesFileUrl("videoReferencesURL"), ...ingestOptions() })
  .superRefine(exactlyOneSource("videoReferences", "videoReferencesURL"))
  .openapi("VideoReferencesIngest");
export type ImageReferencesBodyT = z.infer<typeof ImageReferencesBody>;
export type VideoReferencesBodyT = z.infer<typeof VideoReferencesBody>;

export const ImageReferencesResponse = z
  .object({ status: z.string(), ingestId: z.string(), shardIds: z.array(z.string()), duplicated: z.boolean() })
  .openapi("ImageReferencesIngestResponse");
export const VideoReferencesResponse = z
  .object({ status: z.string(), ingestId: z.string(), shardIds: z.array(z.string()), duplicated: z.boolean() })
  .openapi("VideoReferencesIngestResponse");

export const RoboqlBody = z
  .strictObject({
    query: z.string().min(1, { message: "query must not be empty" }).max(100_000).openapi({ description: "RoboQL query selecting the images to stage." }),
    displayName: z.string().max(256).optional(),
    ingestId: IngestId.optional(),
    notificationsURL: NotificationsURL.optional(),
    notificationCategories: NotificationCategories.optional(),
  })
  .openapi("RoboqlIngest");
export const RoboqlResponse = z
  .object({ status: z.string(), ingestId: z.string(), shardIds: z.array(z.string()), duplicated: z.boolean(), message: z.string() })
  .openapi("RoboqlIngestResponse");

export const SignedUploadParams = z.object({
  generation: z.string().openapi({
    param: { name: "generation", in: "path" },
    description: "Store generation the URL was issued in (a full reset or a snapshot import starts a new one).",
  }),
  workspace: z.string().openapi({ param: { name: "workspace", in: "path" }, description: "Workspace of the upload slot." }),
  batchId: z.string().openapi({ param: { name: "batchId", in: "path" }, description: "Batch of the upload slot." }),
  token: z.string().openapi({ param: { name: "token", in: "path" }, description: "Opaque upload slot token." }),
});
export type RoboqlBodyT = z.infer<typeof RoboqlBody>;
