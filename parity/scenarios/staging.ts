// Data Staging flows of the integration guide (seed 002) and the real client (real-client.md D1-D14).
import type { Res } from "../http.js";
import { mp4, png, tar } from "../media.js";
import { ScenarioStopped, type Scenario, type ScenarioContext } from "../runner.js";

const GET = "GET";
const POST = "POST";

/** Uploads one PNG the way the official client does (part field name = file name = basename). */
export function uploadImage(ctx: ScenarioContext, name: string, batchId: string, fileName: string, seed: number) {
  return ctx.step(
    name,
    {
      method: POST,
      path: ctx.staging(batchId, "/upload/image"),
      query: { displayName: batchId, fileName },
      multipart: { field: fileName, fileName, data: png(seed) },
    },
    { expect: [200] },
  );
}

/** Waits until the batch counts `n` files. */
export const countReaches = (ctx: ScenarioContext, name: string, batchId: string, n: number, partName?: string) =>
  ctx.poll(name, { method: GET, path: ctx.staging(batchId, "/count"), query: { partName } }, (r) => r.status === 200 && r.json?.count === n, { expect: [200] });

const allShardsDone = (r: Res, n: number) =>
  r.status === 200 && Array.isArray(r.json?.shards) && r.json.shards.length === n && r.json.shards.every((s: any) => s.statusType !== "info");

/** The signed URL details of a `signedURLDetails` answer, or a stop. */
function signed(res: Res): { uploadURL: string; extensionHeaders: Record<string, string> } {
  const d = res.json?.signedURLDetails;
  if (typeof d?.uploadURL !== "string") throw new ScenarioStopped("no signedURLDetails.uploadURL in the answer");
  return { uploadURL: d.uploadURL, extensionHeaders: d.extensionHeaders ?? {} };
}

/** The URL with its signature parameter (any query parameter named like `*signature*`) altered. */
function tampered(url: string): string {
  const u = new URL(url);
  const name = [...u.searchParams.keys()].find((k) => /signature/i.test(k));
  if (!name) return `${url}x`;
  const v = u.searchParams.get(name)!;
  u.searchParams.set(name, v.slice(0, -1) + (v.endsWith("0") ? "1" : "0"));
  return u.toString();
}

const firstFile = (res: Res) => {
  const f = res.json?.filesMetadata?.[0];
  if (typeof f?.downloadURL !== "string") throw new ScenarioStopped("no filesMetadata[0].downloadURL to download");
  return f as { downloadURL: string; fileName: string };
};

export const singleImageUpload: Scenario = {
  name: "single-image-upload",
  title: "Workspace discovery, two single-image uploads, count, batch metadata, list and download (guide: cURL single image; client W, D2, D3, D5, D7, D14)",
  async run(ctx) {
    const batch = ctx.id("single");
    await ctx.step("discover workspace", { method: GET, path: "/" }, { expect: [200] });
    await uploadImage(ctx, "upload image", batch, "img-1.png", 1);
    await uploadImage(ctx, "upload second image", batch, "img-2.png", 2);
    await countReaches(ctx, "count", batch, 2);
    await ctx.step("batch metadata", { method: GET, path: ctx.staging(batch) });
    const list = await ctx.step("list files", { method: GET, path: ctx.staging(batch, "/list") }, { expect: [200] });
    const file = firstFile(list);
    await ctx.step("download a file (signed URL)", { method: GET, path: file.downloadURL }, { fileName: file.fileName });
    await ctx.step("parts of a simple batch", { method: GET, path: ctx.staging(batch, "/parts") });
    await ctx.step("bulk upload URL for a single-image batch (kinds cannot be mixed)", { method: POST, path: ctx.staging(batch, "/bulk-upload/image-files") });
  },
};

export const tarShardUpload: Scenario = {
  name: "tar-shard-upload",
  title:
    "Bulk upload: two .tar shards through signed URLs + PUT with extensionHeaders, indexing, shard details with a pageSize=1 walk, bad PUTs (guide: cURL bulk upload, list-ingest-details; client D6, D9, D10)",
  async run(ctx) {
    const batch = ctx.id("shards");
    const shards = [
      [1, 2, 3],
      [4, 5],
    ];
    let firstSlot: ReturnType<typeof signed> | undefined;
    for (const [i, seeds] of shards.entries()) {
      const slot = signed(
        await ctx.step(
          `request shard upload URL ${i + 1}`,
          { method: POST, path: ctx.staging(batch, "/bulk-upload/image-files"), query: { displayName: batch } },
          { expect: [200] },
        ),
      );
      firstSlot ??= slot;
      if (i === 0) await ctx.step("batch metadata before any PUT", { method: GET, path: ctx.staging(batch) });
      const body = tar(seeds.map((s) => ({ name: `shard${i + 1}-img-${s}.png`, data: png(100 + s) })));
      await ctx.step(`PUT shard ${i + 1}`, { method: "PUT", path: slot.uploadURL, raw: body, headers: slot.extensionHeaders }, { expect: [200, 201, 204] });
    }
    await countReaches(ctx, "count after indexing", batch, 5);
    await ctx.poll("shards (list-ingest details)", { method: GET, path: ctx.staging(batch, "/shards") }, (r) => allShardsDone(r, 2), { expect: [200] });
    await ctx.walk("shards pageSize=1", { method: GET, path: ctx.staging(batch, "/shards"), query: { pageSize: 1 } });
    await ctx.step("batch metadata", { method: GET, path: ctx.staging(batch) });
    await ctx.step("list files", { method: GET, path: ctx.staging(batch, "/list") });
    const third = signed(
      await ctx.step("request a third upload URL", { method: POST, path: ctx.staging(batch, "/bulk-upload/image-files") }, { expect: [200] }),
    );
    const extra = tar([{ name: "extra.png", data: png(200) }]);
    await ctx.step("PUT an empty body", { method: "PUT", path: third.uploadURL, raw: Buffer.alloc(0), headers: third.extensionHeaders });
    await ctx.step("PUT without the extension headers", { method: "PUT", path: third.uploadURL, raw: extra });
    await ctx.step("PUT with a tampered signature", { method: "PUT", path: tampered(third.uploadURL), raw: extra, headers: third.extensionHeaders });
    // Last, so a service that ingests it again cannot change the counts above.
    await ctx.step("PUT shard 1 again (a used URL)", {
      method: "PUT",
      path: firstSlot!.uploadURL,
      raw: tar([{ name: "again.png", data: png(201) }]),
      headers: firstSlot!.extensionHeaders,
    });
  },
};

export const videoUpload: Scenario = {
  name: "video-upload",
  title: "Video ingestion: signed upload URL, PUT with extensionHeaders, count, batch metadata, list, download (guide: video ingestion; client D8, D10)",
  async run(ctx) {
    const batch = ctx.id("video");
    const slot = signed(
      await ctx.step(
        "request video upload URL",
        { method: POST, path: ctx.staging(batch, "/upload/video"), query: { fileName: "clip.mp4", displayName: batch } },
        { expect: [200] },
      ),
    );
    await ctx.step("PUT video", { method: "PUT", path: slot.uploadURL, raw: mp4(1), headers: slot.extensionHeaders }, { expect: [200, 201, 204] });
    await countReaches(ctx, "count", batch, 1);
    await ctx.step("batch metadata", { method: GET, path: ctx.staging(batch) });
    const file = firstFile(await ctx.step("list files", { method: GET, path: ctx.staging(batch, "/list") }, { expect: [200] }));
    await ctx.step("download the video (signed URL)", { method: GET, path: file.downloadURL }, { fileName: file.fileName });
  },
};

export const imageReferencesIngest: Scenario = {
  name: "image-references-ingest",
  title:
    "Image references ingest ({name,url} list the target downloads), count, shards, the same ingest again (de-duplicated), both sources at once (guide: reference-file ingest; client D11)",
  skip: (o) => (o.references.length ? undefined : "no reference URLs the target can reach (pass --reference-url, or run against a loopback target)"),
  async run(ctx) {
    const batch = ctx.id("refs");
    const refs = ctx.opts.references;
    const path = ctx.staging(batch, "/bulk-upload/image-references");
    await ctx.step("ingest references", { method: POST, path, query: { displayName: batch }, json: { imageReferences: refs } }, { expect: [200] });
    await countReaches(ctx, "count after ingest", batch, refs.length);
    const n = (await ctx.step("shards once counted", { method: GET, path: ctx.staging(batch, "/shards") })).json?.shards?.length ?? 1;
    await ctx.poll("shards of the ingest", { method: GET, path: ctx.staging(batch, "/shards") }, (r) => allShardsDone(r, n));
    await ctx.step("the same ingest again (de-duplicated)", { method: POST, path, query: { displayName: batch }, json: { imageReferences: refs } });
    await ctx.step("batch metadata", { method: GET, path: ctx.staging(batch) });
    await ctx.step("list files", { method: GET, path: ctx.staging(batch, "/list") });
    await ctx.step("both imageReferences and imageReferencesURL", { method: POST, path, json: { imageReferences: refs, imageReferencesURL: refs[0].url } });
  },
};

export const listingPagination: Scenario = {
  name: "listing-pagination",
  title:
    "Listings and pagination: file list walked with pageSize=1 until nextPageToken is null, batch list pages, count (client D1, D3, D5; fidelity 'End of pagination')",
  async run(ctx) {
    const batch = ctx.id("pages");
    const other = ctx.id("pages-b");
    for (const i of [1, 2, 3]) await uploadImage(ctx, `upload image ${i}`, batch, `page-${i}.png`, 10 + i);
    await uploadImage(ctx, "upload into a second batch", other, "other.png", 20);
    await countReaches(ctx, "count", batch, 3);
    // Which file comes first is not documented: names are typed, not compared.
    await ctx.walk(
      "list files pageSize=1",
      { method: GET, path: ctx.staging(batch, "/list"), query: { pageSize: 1 } },
      { loose: ["body.filesMetadata[].fileName"] },
    );
    await ctx.step("list files pageSize=2", { method: GET, path: ctx.staging(batch, "/list"), query: { pageSize: 2 } });
    // Other batches of the workspace may be listed first: their values are typed, not compared.
    const loose = { loose: ["body.batches[]"] };
    const first = await ctx.step("list batches pageSize=1", { method: GET, path: ctx.staging(), query: { pageSize: 1 } }, { ...loose, expect: [200] });
    const token = first.json?.nextPageToken;
    if (typeof token !== "string" || !token) throw new ScenarioStopped("the first batches page (pageSize=1, at least two batches) has no nextPageToken");
    await ctx.step(
      "list batches next page",
      { method: GET, path: ctx.staging(), query: { pageSize: 1, nextPageToken: token } },
      { ...loose, ignore: ["body.nextPageToken"] },
    );
    await ctx.step("list batches default page size", { method: GET, path: ctx.staging() }, { ...loose, ignore: ["body.nextPageToken", "body.batches.length"] });
  },
};
