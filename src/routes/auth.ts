// API-key auth as the real client uses it: `api_key` in the query string of every call.
import type { MiddlewareHandler } from "hono";
import type { AppEnv, Emulator } from "../context.js";
import { forbidden, unauthorized } from "../errors.js";
import { cachedKeyLookup, workspaceOfKey } from "../state/workspaces.js";

export function keyWorkspace(
  emu: Emulator,
  apiKey: string | undefined,
  lookup: (apiKey: string) => string | undefined = (k) => workspaceOfKey(emu.db, k),
): string {
  if (!apiKey) {
    throw unauthorized(
      "Unauthorized: the api_key query parameter is missing",
      "Send your API key as ?api_key=... on every call (the emulator printed its key on start).",
    );
  }
  const ws = lookup(apiKey);
  if (!ws) throw unauthorized("Unauthorized: the api_key is not valid", "Use a key printed by the emulator on start, or one from its seed file.");
  return ws;
}

/** Checks the key and that it belongs to the workspace named in the path (`:workspace`). */
export function requireWorkspaceKey(emu: Emulator): MiddlewareHandler<AppEnv> {
  // Every API call checks its key: answered from memory, emptied whenever a key changes.
  const lookup = cachedKeyLookup(emu.db);
  return async (c, next) => {
    const ws = keyWorkspace(emu, c.req.query("api_key"), lookup);
    const pathWs = c.req.param("workspace");
    if (pathWs !== undefined && pathWs !== ws) {
      throw forbidden(`Forbidden: the api_key belongs to workspace "${ws}", not to "${pathWs}"`, `Use /…/external/${ws}/… or a key of workspace "${pathWs}".`);
    }
    c.set("workspace", ws);
    await next();
  };
}
