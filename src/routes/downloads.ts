// Signed download URLs served by the emulator (src/staging/downloads.ts checks the signature on the
// emulator clock, answers Range requests and streams the blob).
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv, Emulator } from "../context.js";
import { serveDownload } from "../staging/downloads.js";

const downloadRoute = createRoute({
  method: "get",
  path: "/_signed/files/{generation}/{workspace}/{batchId}/{seq}/{fileName}",
  tags: ["Signed URLs"],
  summary: "Download a staged file (URL from the list endpoint)",
  description:
    "No api_key: the URL's signature authorises the download. Supports Range. The path names the store generation, workspace, batch and file: " +
    "a URL issued before a full reset or a snapshot import answers 404.",
  request: { params: z.object({ generation: z.string(), workspace: z.string(), batchId: z.string(), seq: z.string(), fileName: z.string() }) },
  responses: {
    // Served with the file's own media type (image/png, video/mp4, application/jsonl, ...).
    200: {
      description: "File bytes.",
      content: {
        "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
        "*/*": { schema: z.string().openapi({ format: "binary" }) },
      },
    },
    206: { description: "Requested range." },
    403: { description: "Missing, invalid or expired signature." },
    404: { description: "The file no longer exists, or the URL was issued before a reset." },
    416: { description: "Range not satisfiable." },
  },
});

export function downloadRoutes(emu: Emulator) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(downloadRoute, (c) => {
    const answer = serveDownload(emu, {
      url: new URL(c.req.url),
      method: c.req.method,
      generation: c.req.param("generation"),
      seq: c.req.param("seq"),
      range: c.req.header("range"),
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  });
  return app;
}
