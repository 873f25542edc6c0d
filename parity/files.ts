// A loopback file server for the image-references scenario: the emulator downloads references only from
// loopback URLs, so against a local target the CLI serves the reference images itself.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { png } from "./media.js";

export interface FileServer {
  url: string;
  references: { name: string; url: string }[];
  close(): Promise<void>;
}

export async function startFileServer(files = [1, 2, 3].map((i) => ({ name: `ref-${i}.png`, data: png(60 + i) }))): Promise<FileServer> {
  const byPath = new Map(files.map((f) => [`/${f.name}`, f.data]));
  const server = http.createServer((req, res) => {
    const data = byPath.get(new URL(req.url ?? "/", "http://x").pathname);
    if (!data) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "image/png", "content-length": data.length });
    res.end(req.method === "HEAD" ? undefined : data);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    references: files.map((f) => ({ name: f.name, url: `${url}/${f.name}` })),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
