// The readable-400 machinery on its own: did-you-mean, allowed values, missing fields.
import { describe, expect, it } from "vitest";
import { z } from "@hono/zod-openapi";
import { closestName, summarize, zodIssues } from "../../src/errors.js";

const Job = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("simple-image-processing-v1"),
    processingSpecification: z.strictObject({ aggregationFormat: z.enum(["jsonl", "csv"]).optional() }),
    notificationsURL: z.string().optional(),
  }),
  z.strictObject({ type: z.literal("trt-compilation-v1"), modelId: z.string() }),
]);

function explain(data: unknown) {
  const r = Job.safeParse(data);
  if (r.success) throw new Error("expected a failure");
  const issues = zodIssues(r.error, Job, data);
  return { issues, message: summarize(issues) };
}

describe("readable validation errors", () => {
  it("suggests notificationsURL for the forum's notificationUrl / notificationsUrl", () => {
    for (const wrong of ["notificationUrl", "notificationsUrl"]) {
      const { issues, message } = explain({ type: "simple-image-processing-v1", processingSpecification: {}, [wrong]: "" });
      expect(issues[0]).toMatchObject({ field: wrong, problem: "unknown field", didYouMean: "notificationsURL" });
      expect(message).toContain(`did you mean "notificationsURL"`);
    }
  });

  it("names the allowed values of an enum with the nested path", () => {
    const { issues } = explain({ type: "simple-image-processing-v1", processingSpecification: { aggregationFormat: "xml" } });
    expect(issues[0]).toMatchObject({ field: "processingSpecification.aggregationFormat", received: "xml", allowed: ["jsonl", "csv"] });
  });

  it("lists the job types for an unknown or missing type and suggests the close one", () => {
    const unknown = explain({ type: "simple-image-processing-v2" });
    expect(unknown.issues[0].allowed).toEqual(["simple-image-processing-v1", "trt-compilation-v1"]);
    expect(unknown.issues[0].didYouMean).toBe("simple-image-processing-v1");
    const missing = explain({});
    expect(missing.issues[0].problem).toMatch(/missing/);
  });

  it('a union of plain types names them, for a missing field and a wrong one (not zod\'s "Invalid input")', () => {
    const Seed = z.strictObject({ seed: z.union([z.number().int(), z.string()]) });
    const issuesOf = (data: unknown) => zodIssues(Seed.safeParse(data).error!, Seed, data);
    expect(issuesOf({})[0]).toMatchObject({ field: "seed", problem: "required field is missing (expected number or string)" });
    expect(summarize(issuesOf({ seed: true }))).toBe("Invalid request: seed: expected number or string, not boolean (got true)");
  });

  it("does not suggest unrelated names", () => {
    expect(closestName("zzzzzzzz", ["notificationsURL", "type"])).toBeUndefined();
  });
});
