// The published contract: openapi/openapi.json is current, GET /openapi.json serves the same document,
// and the response self-check (src/routes/response-check.ts) really rejects responses that break it.
import fs from "node:fs";
import path from "node:path";
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderOpenApiDocument, OPENAPI_FILE } from "../../scripts/openapi-document.js";
import { checkResponse, compileRoutes, findRoute, responseCheck, FAULT_HEADER } from "../../src/routes/response-check.js";
import type { AppEnv } from "../../src/context.js";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

describe("openapi/openapi.json", () => {
  it("is what the app generates today (run `npm run openapi` after changing a route or schema)", () => {
    const committed = fs.readFileSync(path.resolve(OPENAPI_FILE), "utf8");
    const fresh = renderOpenApiDocument();
    if (committed !== fresh) {
      const a = Object.keys(JSON.parse(committed).paths ?? {});
      const b = Object.keys(JSON.parse(fresh).paths ?? {});
      const added = b.filter((p) => !a.includes(p));
      const removed = a.filter((p) => !b.includes(p));
      throw new Error(
        `${OPENAPI_FILE} is stale: run \`npm run openapi\` and commit it. Paths added: ${JSON.stringify(added)}, removed: ${JSON.stringify(removed)}`,
      );
    }
    expect(committed).toBe(fresh);
  });

  it("is the document the running emulator serves", async () => {
    const r = await emu.call("GET", "/openapi.json", { apiKey: null });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(JSON.parse(renderOpenApiDocument()));
  });

  it("documents at least one response for every operation", () => {
    const doc = JSON.parse(renderOpenApiDocument());
    for (const [p, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        expect(op.responses, `${method} ${p}`).toBeDefined();
        expect(Object.keys(op.responses).length, `${method} ${p} has responses`).toBeGreaterThan(0);
      }
    }
  });
});

describe("response self-check", () => {
  const route = createRoute({
    method: "get",
    path: "/things/{id}",
    request: { params: z.object({ id: z.string() }) },
    responses: {
      200: { description: "ok", content: { "application/json": { schema: z.object({ id: z.string(), n: z.number().int() }) } } },
      404: { description: "missing", content: { "application/json": { schema: z.object({ message: z.string() }) } } },
    },
  });

  function appReturning(status: number, body: unknown, headers: Record<string, string> = {}) {
    const app = new OpenAPIHono<AppEnv>();
    app.use("*", responseCheck(app));
    app.openapi(route, (c) => {
      for (const [k, v] of Object.entries(headers)) c.header(k, v);
      return c.json(body as any, status as 200);
    });
    return app;
  }

  it("lets a matching response through untouched", async () => {
    const res = await appReturning(200, { id: "a", n: 1 }).request("/things/a");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "a", n: 1 });
  });

  it("turns a wrong field type into a loud 500 naming route, status and field", async () => {
    const res = await appReturning(200, { id: "a", n: "1" }).request("/things/a");
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error.type).toBe("response-contract-violation");
    expect(body.message).toContain("GET /things/{id}");
    expect(body.message).toContain("200");
    expect(body.error.issues[0].field).toBe("n");
  });

  it("flags a missing required field and an undocumented status", async () => {
    const missing = await appReturning(200, { id: "a" }).request("/things/a");
    expect(missing.status).toBe(500);
    expect((await missing.json()).error.issues[0].field).toBe("n");
    const undocumented = await appReturning(409, { message: "x" }).request("/things/a");
    expect(undocumented.status).toBe(500);
    expect((await undocumented.json()).message).toMatch(/status 409 is not among the documented responses/);
  });

  it("leaves deliberately injected faults alone", async () => {
    const res = await appReturning(409, { message: "x" }, { [FAULT_HEADER]: "1" }).request("/things/a");
    expect(res.status).toBe(409);
  });

  it("matches the most specific route and never reads binary bodies", async () => {
    const routes = compileRoutes([
      { type: "route", route: { method: "get", path: "/a/{x}", responses: {} } },
      { type: "route", route: { method: "get", path: "/a/b", responses: { 200: { description: "bin", content: { "application/octet-stream": {} } } } } },
    ]);
    expect(findRoute(routes, "GET", "/a/b")?.path).toBe("/a/b");
    expect(findRoute(routes, "HEAD", "/a/zz")?.path).toBe("/a/{x}");
    expect(findRoute(routes, "POST", "/a/b")).toBeUndefined();
    let read = false;
    const issues = await checkResponse(findRoute(routes, "GET", "/a/b")!, 200, "application/octet-stream", async () => {
      read = true;
      return null;
    });
    expect(issues).toEqual([]);
    expect(read).toBe(false);
    const wrongType = await checkResponse(findRoute(routes, "GET", "/a/b")!, 200, "text/html", null);
    expect(wrongType[0].problem).toMatch(/text\/html/);
  });

  it("is switched on for every test emulator", () => {
    expect(process.env.EMULATOR_CHECK_RESPONSES).toBe("1");
  });
});
