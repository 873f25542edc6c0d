// The 404 for a path no route serves. A base URL that ends in "/" (API_BASE_URL=http://host:port/) is the
// usual cause of a path with an empty first segment: clients append "/data-staging/…" to it, giving
// "//data-staging/…" (or "/%20/…" when the variable ends in "/ "). Say so instead of only "no route".
import { ApiError } from "../errors.js";

const ROUTES_HINT =
  "See GET /openapi.json for every route the emulator serves; data staging lives under /data-staging/v1/external/{workspace}/batches and jobs under /batch-processing/v1/external/{workspace}/jobs.";

/** Leading segments that are empty or only (encoded) blanks: `//x`, `/ /x`, `/%20/x`. */
const EMPTY_LEADING_SEGMENT = /^\/(?:%20|\s)*\/+/;

export function routeNotFound(method: string, requestUrl: string): ApiError {
  const url = new URL(requestUrl);
  const path = url.pathname;
  if (!EMPTY_LEADING_SEGMENT.test(path)) return new ApiError(404, "route-not-found", `No route for ${method} ${path}`, undefined, ROUTES_HINT);
  const meant = path.replace(EMPTY_LEADING_SEGMENT, "/");
  return new ApiError(
    404,
    "route-not-found",
    `No route for ${method} ${path}: the path starts with an empty segment; API_BASE_URL must not end with '/'`,
    undefined,
    `Clients append paths that start with '/' to API_BASE_URL, so a base URL ending in '/' requests '${path}' instead of '${meant}'. ` +
      `Set API_BASE_URL=${url.origin} (no trailing slash) and start the client again: the official client reads it once, at import.`,
  );
}
