// Schemas of the contract-test oracle under /_emulator: request matchers (journal search and
// verification), body summaries of journal entries, and the contract report.
import { z } from "@hono/zod-openapi";
import { ErrorBody } from "./common.js";

const Ok = z.object({ status: z.literal("ok") });

export const ValueMatch = z
  .strictObject({
    equals: z.unknown().optional().openapi({ description: "Equal to this value (a string also equals a number or boolean with the same text)." }),
    contains: z.unknown().optional().openapi({ description: "A string containing it, an array with an equal element, or an object with that key." }),
    matches: z.string().optional().openapi({ description: "Regular expression, tested on the string (other values as JSON)." }),
    absent: z.boolean().optional().openapi({ description: "true: the value must be missing." }),
  })
  .openapi("ValueMatch");
export type ValueMatchT = z.infer<typeof ValueMatch>;

export const BodyMatch = ValueMatch.extend({
  path: z.string().openapi({
    description:
      'JSON path into the request body: "processingSpecification.aggregationFormat", "imageReferences[0].url"; "" or "$" is the whole body. Multipart bodies are {parts: [{name, fileName, contentType, size, sha256, value}]}.',
  }),
}).openapi("BodyMatch");
export type BodyMatchT = z.infer<typeof BodyMatch>;

const NamedValues = z.record(z.string(), z.union([z.string(), ValueMatch]));

export const RequestMatcher = z
  .strictObject({
    method: z.union([z.string(), z.array(z.string())]).optional(),
    path: z.string().optional().openapi({ description: "Path prefix." }),
    pathPattern: z.string().optional().openapi({ description: "Glob on the path: * within a segment, ** across." }),
    pathRegex: z.string().optional(),
    operation: z
      .string()
      .optional()
      .openapi({ description: 'Operation as /openapi.json names it: "POST /batch-processing/v1/external/{workspace}/jobs/{jobId}".' }),
    workspace: z.string().optional(),
    status: z.union([z.number().int(), z.string()]).optional().openapi({ description: "A code (429), a class (4xx) or dropped." }),
    query: NamedValues.optional().openapi({ description: "Query parameter name → value (a string is equals) or a ValueMatch." }),
    headers: NamedValues.optional().openapi({ description: "Request header name (any case) → value or ValueMatch." }),
    body: z.array(BodyMatch).optional().openapi({ description: "Every one must hold." }),
  })
  .openapi("RequestMatcher");
export type RequestMatcherT = z.infer<typeof RequestMatcher>;

const Paging = {
  since: z.union([z.string(), z.number()]).optional().openapi({ description: "ISO time or epoch ms (emulator clock): entries at or after." }),
  after: z.number().int().min(0).optional(),
  before: z.number().int().min(0).optional(),
  includeControl: z.boolean().optional(),
};

export const JournalSearchBody = z
  .strictObject({
    match: RequestMatcher.optional(),
    ...Paging,
    limit: z.number().int().min(1).max(10_000).optional().openapi({ description: "Default 1000." }),
    order: z.enum(["asc", "desc"]).optional(),
  })
  .openapi("JournalSearch");
export type JournalSearchBodyT = z.infer<typeof JournalSearchBody>;

export const VerifyBody = z
  .strictObject({
    match: RequestMatcher,
    count: z.number().int().min(0).optional().openapi({ description: "Exactly this many matching requests." }),
    atLeast: z.number().int().min(0).optional().openapi({ description: "At least this many (default 1 when neither count nor atMost is given)." }),
    atMost: z.number().int().min(0).optional(),
    ...Paging,
    closest: z.number().int().min(0).max(50).optional().openapi({ description: "How many near misses a failure lists (default 3)." }),
  })
  .openapi("Verify");
export type VerifyBodyT = z.infer<typeof VerifyBody>;

const Expected = z.object({ count: z.number().int().optional(), atLeast: z.number().int().optional(), atMost: z.number().int().optional() });
export const Verified = Ok.extend({ matched: z.number().int(), expected: Expected, description: z.string() });

export const NearMiss = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    method: z.string(),
    path: z.string(),
    operation: z.string().nullable(),
    status: z.number().int().nullable(),
    satisfied: z.number().int(),
    of: z.number().int(),
    failed: z.array(z.object({ part: z.string(), actual: z.unknown().optional() })),
  })
  .openapi("NearMiss");

export const VerificationFailed = ErrorBody.extend({
  verification: z.object({
    matched: z.number().int(),
    expected: Expected,
    description: z.string(),
    closest: z.array(NearMiss).openapi({ description: "The requests that came closest (most matcher parts satisfied), with the parts they failed." }),
    matchingSeqs: z.array(z.number().int()).openapi({ description: "Seqs of the matching requests (at most 50), when there were too many." }),
  }),
}).openapi("VerificationFailed");

// ---- journal entries: bodies ------------------------------------------------------------------

export const BodySummary = z
  .object({
    kind: z.enum(["json", "text", "binary", "multipart"]),
    contentType: z.string().nullable(),
    size: z.number().int().openapi({ description: "Bytes seen." }),
    complete: z.boolean().openapi({ description: "false when the body was not read to its end (refused early, dropped)." }),
    text: z.string().optional().openapi({ description: "json/text: the first bytes (the journal's bodyBytes setting), api_key values masked." }),
    truncated: z.boolean().optional(),
    sha256: z.string().nullable().optional().openapi({ description: "binary: hash of the whole body, computed as it streamed." }),
    parts: z
      .array(
        z.object({
          name: z.string(),
          fileName: z.string().nullable(),
          contentType: z.string().nullable(),
          size: z.number().int(),
          sha256: z.string().nullable(),
          value: z.string().optional(),
        }),
      )
      .optional()
      .openapi({ description: "multipart: one per part; files by size and sha256, never their bytes." }),
  })
  .openapi("BodySummary");

// ---- contract report ---------------------------------------------------------------------------

export const Finding = z
  .object({
    kind: z.string().openapi({
      description:
        "invalid-request, unknown-field, deprecated-option, unauthorized, other-workspace, expired-url, expired-batch, forbidden, unknown-route, server-error (violations); not-found, conflict, refused, injected-fault, stubbed-response (listed, not violations).",
    }),
    violation: z.boolean(),
    injected: z.boolean().openapi({ description: "The answer came from a fault rule or stub." }),
    at: z.string(),
    method: z.string(),
    path: z.string(),
    operation: z.string().nullable(),
    status: z.number().int().nullable(),
    workspace: z.string().nullable(),
    message: z.string(),
    fields: z.array(z.string()),
    ruleId: z.string().nullable(),
  })
  .openapi("ContractFinding");

export const FailedWebhook = z
  .object({
    id: z.string(),
    workspace: z.string(),
    url: z.string(),
    category: z.string(),
    subject: z.string().nullable(),
    attempts: z.number().int(),
    createdAt: z.string(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    injected: z.boolean(),
    violation: z.boolean(),
  })
  .openapi("FailedWebhook");

const OperationRef = z.object({ operation: z.string(), method: z.string(), path: z.string(), summary: z.string().nullable() });

export const ContractReport = Ok.extend({
  since: z
    .string()
    .openapi({ description: "Start of the run the report covers (emulator start, or the last DELETE /_emulator/contract-report); resets do not restart it." }),
  summary: z.object({
    requests: z.number().int(),
    violations: z.number().int().openapi({ description: "Findings and failed webhook deliveries that fail a strict run." }),
    findings: z.record(z.string(), z.number().int()).openapi({ description: "Count per kind." }),
    operationsExercised: z.number().int(),
    operationsTotal: z.number().int(),
    failedWebhooks: z.number().int(),
  }),
  text: z.string().openapi({ description: "The same, readable: what a failing test prints." }),
  findings: z.array(Finding).openapi({ description: "Oldest first; at most 1000 kept (summary.findings counts them all)." }),
  operations: z.object({
    exercised: z.array(OperationRef.extend({ count: z.number().int(), statuses: z.record(z.string(), z.number().int()) })),
    untouched: z.array(OperationRef).openapi({ description: "Operations of the emulated API (from /openapi.json, /_emulator excluded) the run never called." }),
  }),
  webhooks: z.object({ failed: z.array(FailedWebhook) }),
}).openapi("ContractReport");
export type ContractReportT = z.infer<typeof ContractReport>;
