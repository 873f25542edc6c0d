// The emulator's own version (package.json), read once: the webhook sender names itself with it. The
// file is found by walking up from this module, which works from src/ (tsx), dist/ and the bundle alike.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_NAME = "roboflow-batch-emulator";

function readVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return pkg.version;
    } catch {
      // No package.json here: look one folder up.
    }
    dir = path.dirname(dir);
  }
  return "0.0.0";
}

export const EMULATOR_VERSION = readVersion();
/** What the emulator sends as User-Agent on its own requests (webhooks). */
export const EMULATOR_USER_AGENT = `${PACKAGE_NAME}/${EMULATOR_VERSION}`;
