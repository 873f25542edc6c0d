// Every documented (or forum-reported) error: what status and body a client meets.
import type { Req } from "../http.js";
import type { Scenario } from "../runner.js";
import { jobDefinition } from "./jobs.js";
import { png } from "../media.js";
import { uploadImage } from "./staging.js";

export const errors: Scenario = {
  name: "errors",
  title:
    "Errors: unknown batch / job (404), bad ids (400), the forum's notificationUrl typo (400), malformed JSON, unknown input batch, bad pageSize, missing / invalid api key (401), another workspace (403)",
  async run(ctx) {
    const batch = ctx.id("err-in");
    await uploadImage(ctx, "upload an input image", batch, "err.png", 41);
    const missingBatch = ctx.id("missing");
    const missingJob = ctx.id("nojob");
    const definition = jobDefinition(ctx, batch, "jsonl");
    const cases: [string, Req][] = [
      ["unknown batch", { method: "GET", path: ctx.staging(missingBatch) }],
      ["count of an unknown batch", { method: "GET", path: ctx.staging(missingBatch, "/count") }],
      ["list of an unknown batch", { method: "GET", path: ctx.staging(missingBatch, "/list") }],
      ["parts of an unknown batch", { method: "GET", path: ctx.staging(missingBatch, "/parts") }],
      ["shards of an unknown batch", { method: "GET", path: ctx.staging(missingBatch, "/shards") }],
      ["batch id with capitals", { method: "GET", path: ctx.staging("Bad-Batch-ID") }],
      ["unknown job", { method: "GET", path: ctx.jobs(missingJob) }],
      ["stages of an unknown job", { method: "GET", path: ctx.jobs(missingJob, "/stages") }],
      ["logs of an unknown job", { method: "GET", path: ctx.jobs(missingJob, "/logs") }],
      ["abort an unknown job", { method: "POST", path: ctx.jobs(missingJob, "/abort") }],
      ["restart an unknown job", { method: "POST", path: ctx.jobs(missingJob, "/restart") }],
      ["bad job id (capitals)", { method: "GET", path: ctx.jobs("Bad-Job-ID") }],
      ["job id over 20 characters", { method: "POST", path: ctx.jobs(`prt-${"x".repeat(20)}`), json: definition }],
      // Seed 000: the reference said notificationUrl; the service wants notificationsURL.
      [
        "start job with the notificationUrl typo",
        { method: "POST", path: ctx.jobs(ctx.id("typo")), json: { ...definition, notificationUrl: "https://example.com/webhook" } },
      ],
      [
        "start job with malformed JSON",
        { method: "POST", path: ctx.jobs(ctx.id("badjson")), raw: '{"type": "simple-image-processing-v1",', headers: { "content-type": "application/json" } },
      ],
      ["start job without a body", { method: "POST", path: ctx.jobs(ctx.id("nobody")) }],
      [
        "start job with an unknown job type",
        { method: "POST", path: ctx.jobs(ctx.id("badtype")), json: { ...definition, type: "simple-audio-processing-v1" } },
      ],
      [
        "image job with maxVideoFPS (a video-only field)",
        {
          method: "POST",
          path: ctx.jobs(ctx.id("fps")),
          json: { ...definition, processingSpecification: { ...definition.processingSpecification, maxVideoFPS: 5 } },
        },
      ],
      ["maxImageFailureRate over 1", { method: "POST", path: ctx.jobs(ctx.id("rate")), json: { ...definition, maxImageFailureRate: 2 } }],
      [
        "upload image without fileName",
        { method: "POST", path: ctx.staging(batch, "/upload/image"), multipart: { field: "nofilename.png", fileName: "nofilename.png", data: png(42) } },
      ],
      ["start job on an unknown batch", { method: "POST", path: ctx.jobs(ctx.id("nobatch")), json: jobDefinition(ctx, missingBatch, "jsonl") }],
      ["pageSize=0", { method: "GET", path: ctx.staging(), query: { pageSize: 0 } }],
      ["pageSize not a number", { method: "GET", path: ctx.jobs(), query: { pageSize: "ten" } }],
      ["missing api key (workspace discovery)", { method: "GET", path: "/", apiKey: null }],
      ["missing api key (batch list)", { method: "GET", path: ctx.staging(), apiKey: null }],
      ["invalid api key", { method: "GET", path: ctx.staging(), apiKey: "parity-invalid-api-key" }],
      ["invalid api key on a job", { method: "GET", path: ctx.jobs(missingJob), apiKey: "parity-invalid-api-key" }],
      [
        "another workspace's batches",
        { method: "GET", path: ctx.staging().replace(`/external/${ctx.opts.target.workspace}/`, `/external/${ctx.opts.otherWorkspace}/`) },
      ],
      [
        "another workspace's jobs",
        { method: "GET", path: ctx.jobs().replace(`/external/${ctx.opts.target.workspace}/`, `/external/${ctx.opts.otherWorkspace}/`) },
      ],
    ];
    for (const [name, req] of cases) await ctx.step(name, req);
  },
};
