// Shared zod pieces: path and query parameters, timestamps and the error body. These schemas are the
// single source of validation, TypeScript types and the published OpenAPI document.
import { z } from "@hono/zod-openapi";

export const ID_RULE = "lowercase ASCII letters, digits, '-' and '_' only";

export const WorkspaceParam = z
  .string()
  .min(1)
  .openapi({ param: { name: "workspace", in: "path" }, description: "Workspace identifier (the one your API key belongs to).", example: "emulator-workspace" });

export const BatchIdParam = z
  .string()
  .max(64, { message: `batch id must be at most 64 characters (${ID_RULE})` })
  .regex(/^[a-z0-9_-]+$/, { message: `batch id must use ${ID_RULE}` })
  .openapi({
    param: { name: "batchId", in: "path" },
    description: "Batch identifier: lowercase, max 64 chars of letters, digits, hyphens, underscores.",
    example: "my-batch",
  });

export const JobIdParam = z
  .string()
  .max(20, { message: `job id must be at most 20 characters (${ID_RULE})` })
  .regex(/^[a-z0-9_-]+$/, { message: `job id must use ${ID_RULE}` })
  .openapi({
    param: { name: "jobId", in: "path" },
    description: "Job identifier: lowercase, max 20 chars of letters, digits, hyphens, underscores.",
    example: "my-job",
  });

export const ApiKeyQuery = z
  .string()
  .optional()
  .openapi({ param: { name: "api_key", in: "query" }, description: "Your API key (required; missing → 401).", example: "emulator-api-key" });
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/**
 * A query parameter that must be an integer in [min, max]: converted from its text and range-checked.
 * Only text is converted (z.coerce would turn null into 0 and so publish the parameter as nullable).
 */
export function intQuery(name: string, min: number, max?: number) {
  const message = max === undefined ? `${name} must be an integer of at least ${min}` : `${name} must be an integer from ${min} to ${max}`;
  const n = z.number({ message }).int({ message }).min(min, { message });
  return z.preprocess((v) => (typeof v === "string" ? Number(v) : v), max === undefined ? n : n.max(max, { message }));
}

export const PageSizeQuery = intQuery("pageSize", 1, MAX_PAGE_SIZE)
  .default(DEFAULT_PAGE_SIZE)
  .openapi({ param: { name: "pageSize", in: "query" }, description: `Items per page, 1-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`, example: 100 });
export const PageTokenQuery = z
  .string()
  .optional()
  .openapi({ param: { name: "nextPageToken", in: "query" }, description: "Token from the previous page's nextPageToken." });

export const Timestamp = z.string().openapi({ description: "ISO-8601 timestamp with timezone (UTC, Z).", example: "2026-01-01T00:00:00.000Z" });
export const NextPageToken = z
  .string()
  .nullable()
  .openapi({ description: "Token for the next page; null when there are no more pages (never an empty string)." });

export const ErrorIssue = z.object({
  field: z.string(),
  problem: z.string(),
  received: z.unknown().optional(),
  allowed: z.array(z.unknown()).optional(),
  didYouMean: z.string().optional(),
});

/** Every `error.type` the emulator answers with; one list, so clients can switch on it. */
export const ErrorType = z
  .enum([
    "invalid-request",
    "invalid-body",
    "invalid-query",
    "invalid-path",
    "invalid-header",
    "invalid-seed",
    "malformed-json",
    "bad-request",
    "unsupported-media-type",
    "unsupported-file-type",
    "upload-interrupted",
    "unauthorized",
    "admin-token-required",
    "forbidden",
    "not-found",
    "batch-expired",
    "route-not-found",
    "conflict",
    "upload-url-used",
    "upload-in-progress",
    "clock-not-manual",
    "payload-too-large",
    "request-timeout",
    "insufficient-storage",
    "range-not-satisfiable",
    "injected-fault",
    "receiver-status",
    "fault-unsupported",
    "response-contract-violation",
    "verification-failed",
    "internal-error",
  ])
  .openapi("ErrorType", { description: "Machine-readable kind of error (stable across versions)." });
export type ErrorTypeT = z.infer<typeof ErrorType>;

export const ErrorBody = z
  .object({
    message: z.string().openapi({ description: "Human-readable error; the field real clients print." }),
    error: z.object({
      status: z.number().int(),
      type: ErrorType,
      issues: z.array(ErrorIssue).optional(),
      hint: z.string().optional(),
    }),
  })
  .openapi("Error");

export const StatusOk = z.object({ status: z.string().openapi({ example: "ok" }) });

/** Standard error responses every emulated endpoint can give. */
export function errorResponses(...codes: number[]) {
  const text: Record<number, string> = {
    400: "Invalid request (the body says which field, what was received and what is allowed).",
    401: "Missing or unknown api_key.",
    403: "The api_key belongs to another workspace, or a signed URL is invalid or expired.",
    404: "Not found.",
    409: "Conflict with the current state.",
    413: "Body too large.",
    415: "Unsupported content type.",
    507: "The emulator's disk is full; nothing was stored (it recovers once space is freed).",
  };
  return Object.fromEntries(
    [401, 403, ...codes, 507].map((code) => [code, { description: text[code] ?? "Error", content: { "application/json": { schema: ErrorBody } } }]),
  );
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
