// What a 415 should say: the request body types a route documents, read from the app's own OpenAPI
// document (so it never drifts from the route declarations), named in the answer instead of a bare
// "Unsupported Media Type".
import { ApiError } from "../errors.js";

/** An OpenAPI document as far as this needs it (narrowed by checks, not trusted by type). */
interface OpenApiPaths {
  paths?: object;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** Matches an OpenAPI path template ("/a/{id}/b") against a concrete path. */
function templateMatches(template: string, pathname: string): boolean {
  const pattern = template
    .split(/\{[^}]+\}/)
    .map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${pattern}$`).test(pathname);
}

/** Request body media types documented for `method pathname`, or [] when the route has no documented body. */
export function documentedBodyTypes(doc: OpenApiPaths, method: string, pathname: string): string[] {
  for (const [template, ops] of Object.entries(doc.paths ?? {})) {
    const op: unknown = isObject(ops) ? ops[method.toLowerCase()] : undefined;
    const body: unknown = isObject(op) ? op.requestBody : undefined;
    const content: unknown = isObject(body) ? body.content : undefined;
    if (isObject(content) && templateMatches(template, pathname)) return Object.keys(content);
  }
  return [];
}

/** A lookup over a document built on first use (a 415 is rare; building the document is not free). */
export function bodyTypeLookup(buildDoc: () => OpenApiPaths): (method: string, pathname: string) => string[] {
  let doc: OpenApiPaths | undefined;
  return (method, pathname) => documentedBodyTypes((doc ??= buildDoc()), method, pathname);
}

/** The 415 answer: what the endpoint takes, what came, and the header to send. */
export function unsupportedMediaType(method: string, pathname: string, expected: string[], got: string | undefined): ApiError {
  const received = got ? `got Content-Type "${got}"` : "the request had no Content-Type";
  const json = expected.length === 0 || expected.some((t) => /json/i.test(t));
  const want = json ? "application/json" : expected[0];
  const what = json ? "a JSON body" : `a ${expected.join(" or ")} body`;
  return new ApiError(
    415,
    "unsupported-media-type",
    `${method} ${pathname} takes ${what}: send Content-Type: ${want} (${received})`,
    undefined,
    json ? "e.g. curl -H 'Content-Type: application/json' -d '{...}'; the body schema is in /openapi.json." : "The body schema is in /openapi.json.",
  );
}
