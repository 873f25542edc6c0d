// A reset of another workspace reloads every background worker. Tar shards being indexed at that
// moment must be indexed again from the start, not finished with what was read so far: a run cut
// off before its first chunk used to end its shard as "corrupted-archive", and one cut off midway as
// "no-files-ingested" or with part of its files, losing images whose upload was acknowledged.
// (Found by the crash harness: a scratch-workspace reset during a mixed workload.)
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor, type TestEmulator } from "../helpers/emulator.js";
import { bigPng, tar } from "../helpers/fixtures.js";

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
  await emu.controls.seed({ workspaces: [{ id: "scratch-ws" }] });
});
afterAll(async () => emu?.close());

type Shard = { shardId: string; statusName: string; statusType: string; shardObjectsCount: number };

// Archives of several 1 MiB read chunks, so a shard is read over many turns of the event loop.
const SHARDS = 6;
const IMAGES_PER_SHARD = 24;
const IMAGE_BYTES = 400 * 1024;

async function uploadShard(batchId: string, archive: Buffer): Promise<string> {
  const slot = await emu.call("POST", `${emu.staging(batchId)}/bulk-upload/image-files`);
  expect(slot.status, slot.text).toBe(200);
  const d = slot.json.signedURLDetails;
  const res = await request(d.uploadURL, { method: "PUT", body: archive, headers: d.extensionHeaders });
  expect(res.statusCode, await res.body.text()).toBe(200);
  return d.shardId as string;
}

const shardsOf = async (batchId: string): Promise<Shard[]> => (await emu.call("GET", `${emu.staging(batchId)}/shards`)).json.shards;

describe("a workspace reset while tar shards are being indexed", () => {
  it("leaves every shard of the other workspaces fully indexed", async () => {
    const batchId = "reload-shards";
    for (let s = 0; s < SHARDS; s++) {
      const members = Array.from({ length: IMAGES_PER_SHARD }, (_, i) => ({ name: `s${s}-${i}.png`, data: bigPng(IMAGE_BYTES) }));
      await uploadShard(batchId, tar(members));
    }
    // Indexing runs two shards at a time; reset the other workspace as soon as one is being read
    // (the shard listing answered "indexing" just before: the reset meets a run in progress).
    await waitFor(
      async () => {
        const list = (await shardsOf(batchId)).filter((s) => s.statusName === "indexing");
        return list.length ? list : undefined;
      },
      10_000,
      "a shard being indexed",
    );
    const reset = await emu.call("POST", "/_emulator/reset", { json: { workspace: "scratch-ws" }, apiKey: null });
    expect(reset.status, reset.text).toBe(200);
    const shards = await waitFor(
      async () => {
        const list = await shardsOf(batchId);
        return list.length === SHARDS && list.every((s) => s.statusType !== "info") ? list : undefined;
      },
      30_000,
      "every shard indexed",
    ).then((list) => list!);
    expect(shards.map((s) => `${s.statusName}:${s.shardObjectsCount}`)).toEqual(Array(SHARDS).fill(`ingested:${IMAGES_PER_SHARD}`));
    const count = await emu.call("GET", `${emu.staging(batchId)}/count`);
    expect(count.json.count).toBe(SHARDS * IMAGES_PER_SHARD);
  }, 60_000);
});
