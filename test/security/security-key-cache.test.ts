// The key → workspace lookup is answered from memory (src/state/workspaces.ts cachedKeyLookup):
// whatever changes the keys (a seed adding or moving one, a full reset, a snapshot import) is seen
// by the very next request, so a remembered answer is never stale.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => emu?.close());

const control = (method: string, path: string, json?: unknown) => emu.call(method, `/_emulator${path}`, { apiKey: null, json });
const count = (ws: string, key: string) => emu.call("GET", `/data-staging/v1/external/${ws}/batches/none/count`, { apiKey: key }).then((r) => r.status);
const seed = async (workspaces: { id: string; apiKeys: string[] }[]) => {
  const r = await control("POST", "/seed", { workspaces });
  expect(r.status, r.text).toBe(200);
};

describe("api key lookups across key changes", () => {
  it("a key seeded after a refusal works at once; a moved key follows its new workspace", async () => {
    expect(await count("ws-a", "key-a")).toBe(401);
    await seed([
      { id: "ws-a", apiKeys: ["key-a"] },
      { id: "ws-b", apiKeys: ["key-b"] },
    ]);
    expect([await count("ws-a", "key-a"), await count("ws-b", "key-b")]).toEqual([404, 404]);
    expect(await count("ws-b", "key-a")).toBe(403);
    // Remembered now; then the key moves to ws-b.
    await seed([{ id: "ws-b", apiKeys: ["key-a"] }]);
    expect(await count("ws-a", "key-a")).toBe(403);
    expect(await count("ws-b", "key-a")).toBe(404);
  });

  it("a full reset forgets seeded keys; a workspace reset keeps them", async () => {
    await seed([{ id: "ws-c", apiKeys: ["key-c"] }]);
    expect(await count("ws-c", "key-c")).toBe(404);
    expect((await control("POST", "/reset", { workspace: "ws-c" })).status).toBe(200);
    expect(await count("ws-c", "key-c")).toBe(404);
    expect((await control("POST", "/reset", {})).status).toBe(200);
    expect(await count("ws-c", "key-c")).toBe(401);
    expect(await count(emu.workspace, emu.apiKey)).toBe(404);
  });

  it("a snapshot import brings its keys and drops the ones it lacks", async () => {
    await seed([{ id: "ws-d", apiKeys: ["key-d"] }]);
    const snapshot = (await control("GET", "/snapshot")).json;
    await seed([{ id: "ws-e", apiKeys: ["key-e"] }]);
    expect(await count("ws-e", "key-e")).toBe(404);
    const imported = await control("POST", "/snapshot", snapshot);
    expect(imported.status, imported.text).toBe(200);
    expect(await count("ws-e", "key-e")).toBe(401);
    expect(await count("ws-d", "key-d")).toBe(404);
  });
});
