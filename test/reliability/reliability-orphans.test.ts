// A kill -9 between a blob's rename into the tree and the commit of its row leaves a blob no row
// names. The next start sweeps such orphans (and only those) in the background.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestEmulator, waitFor } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-emu-orphans-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function upload(emu: Awaited<ReturnType<typeof startTestEmulator>>, name: string) {
  const { body, contentType } = multipart([{ field: "file", filename: name, contentType: "image/png", data: png(3) }]);
  return emu.call("POST", `${emu.staging("kept")}/upload/image?fileName=${name}`, { body, headers: { "content-type": contentType } });
}

describe("orphaned blobs", () => {
  it("are removed at the next start; blobs that rows name stay and still download", async () => {
    const first = await startTestEmulator({ dataDir });
    expect((await upload(first, "a.png")).status).toBe(200);
    await first.close();

    // What a crash between rename and commit leaves: a complete blob file, named by no row.
    const orphan = path.join(dataDir, "blobs", "files", "zz", "00000000-0000-4000-8000-000000000000");
    fs.mkdirSync(path.dirname(orphan), { recursive: true });
    fs.writeFileSync(orphan, png(4));
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(orphan, past, past);

    const second = await startTestEmulator({ dataDir });
    try {
      await waitFor(() => !fs.existsSync(orphan), 10_000, "the orphan to be swept");
      const list = await second.call("GET", `${second.staging("kept")}/list`);
      expect(list.json.filesMetadata).toHaveLength(1);
      const download = await fetch(list.json.filesMetadata[0].downloadURL);
      expect(download.status).toBe(200);
      expect(Buffer.from(await download.arrayBuffer()).equals(png(3))).toBe(true);
      // A blob written after the start is never taken for an orphan, even before its row exists.
      expect((await upload(second, "b.png")).status).toBe(200);
      expect((await second.call("GET", `${second.staging("kept")}/count`)).json.count).toBe(2);
    } finally {
      await second.close();
    }
  });
});
