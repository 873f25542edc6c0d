// Builds the OpenAPI document exactly as GET /openapi.json serves it, from a throwaway in-memory
// emulator, so the committed openapi/openapi.json can be regenerated and checked for staleness.
import { buildApp, openApiInfo } from "../src/app.js";
import { resolveConfig } from "../src/config.js";
import { createEmulator } from "../src/server.js";

export const OPENAPI_FILE = "openapi/openapi.json";

export function renderOpenApiDocument(): string {
  const emu = createEmulator({ ...resolveConfig({}), dataDir: ":memory:", port: 0, quiet: true });
  try {
    const app = buildApp(emu);
    return `${JSON.stringify(app.getOpenAPI31Document(openApiInfo()), null, 2)}\n`;
  } finally {
    emu.clock.stop();
    emu.webhooks.stop();
    emu.store.close();
  }
}
