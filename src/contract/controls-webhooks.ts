// Schemas of the control API's webhook deliveries and its built-in receiver.
import { z } from "@hono/zod-openapi";
import { intQuery } from "./common.js";
import { ok } from "./controls-ok.js";

export const WebhookAttempt = z.object({
  attempt: z.number().int(),
  at: z.string(),
  url: z.string(),
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  latencyMs: z.number(),
  body: z.unknown(),
});
export const WebhookDelivery = z
  .object({
    id: z.string(),
    workspace: z.string(),
    url: z.string(),
    category: z.string(),
    subject: z.string().nullable(),
    state: z.string(),
    attemptCount: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    createdAt: z.string(),
    payload: z.unknown(),
    attempts: z.array(WebhookAttempt),
  })
  .openapi("WebhookDelivery");
export const WebhooksQuery = z.object({
  workspace: z.string().optional(),
  state: z.enum(["pending", "delivered", "failed"]).optional(),
  category: z.string().optional(),
  subject: z.string().optional(),
});
export const SendWebhookBody = z
  .strictObject({
    url: z.string().url(),
    workspace: z.string().optional(),
    category: z.string().optional().openapi({ description: "Default: test." }),
    subject: z.string().optional(),
    payload: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("SendWebhook");
export type SendWebhookBodyT = z.infer<typeof SendWebhookBody>;
export const WebhookList = ok({ deliveries: z.array(WebhookDelivery) });
export const WebhookIdParam = z.object({ id: z.string() });

export const ReceivedDelivery = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    method: z.string(),
    headers: z.record(z.string(), z.string()),
    body: z.string(),
    json: z.unknown().nullable(),
    status: z.number().int(),
  })
  .openapi("ReceivedDelivery");
export const ReceiverParams = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: "must match [A-Za-z0-9_.-]{1,64}" })
    .openapi({ param: { name: "name", in: "path" }, example: "jobs" }),
});
export const ReceiverPostQuery = z.object({ status: intQuery("status", 200, 599).optional() });
export const ReceiverGetQuery = z.object({ after: intQuery("after", 0).default(0) });
export const Received = ok({ seq: z.number().int() });
export const ReceivedList = ok({ name: z.string(), count: z.number().int(), deliveries: z.array(ReceivedDelivery) });
