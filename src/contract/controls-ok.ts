// The envelope every control answer shares: `{status: "ok"}` plus its own fields.
import { z } from "@hono/zod-openapi";

const Ok = z.object({ status: z.literal("ok") });

/** `{status: "ok"}` plus the given fields: the shape of every control answer. */
export const ok = <T extends z.ZodRawShape>(shape: T) => Ok.extend(shape);
