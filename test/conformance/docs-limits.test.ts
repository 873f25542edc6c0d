// Known limits are written down: every limit the emulator enforces has a row in docs/fidelity.md's
// "Known limits" section with its value and reason, starting with the one users meet first (pageSize
// above 1000 → 400, checked here over HTTP against the value the row states), and every MAX_ constant
// in src/ is named there, so a new limit cannot slip in undocumented.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const fidelity = fs.readFileSync(path.join(ROOT, "docs", "fidelity.md"), "utf8");
/** The "Known limits" section: from its heading to the next heading of the same level. */
const limits = /^## Known limits\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(fidelity)?.[1] ?? "";
const rowNaming = (what: string) => limits.split("\n").find((l) => l.startsWith("|") && l.includes(what));

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

describe('docs/fidelity.md "Known limits"', () => {
  it("exists and states the pageSize limit with its reason; the emulator enforces exactly that value over HTTP", async () => {
    const row = rowNaming("`pageSize`");
    expect(row, "a Known limits row for pageSize").toBeDefined();
    const stated = Number(/\b(\d[\d,]*)\b/.exec(row!.split("|")[2])?.[1].replace(/,/g, ""));
    expect(stated).toBe(1000);
    expect(row).toMatch(/400/);
    for (const path of [emu.staging(), emu.jobs()]) {
      expect((await emu.call("GET", `${path}?pageSize=${stated}`)).status).toBe(200);
      const over = await emu.call("GET", `${path}?pageSize=${stated + 1}`);
      expect(over.status).toBe(400);
      expect(over.json.message).toContain(`from 1 to ${stated}`);
      expect(over.json.error.issues[0].field).toBe("pageSize");
    }
  });

  it("names every MAX_ constant of src/ (the limits the emulator enforces)", () => {
    const constants = new Set<string>();
    for (const file of sourceFiles(path.join(ROOT, "src"))) {
      for (const m of fs.readFileSync(file, "utf8").matchAll(/\bconst (MAX_[A-Z0-9_]+)\s*=/g)) constants.add(m[1]);
    }
    expect(constants.size).toBeGreaterThan(10);
    const missing = [...constants].filter((c) => !limits.includes(`\`${c}\``));
    expect(missing, "MAX_ constants without a Known limits row").toEqual([]);
  });
});
