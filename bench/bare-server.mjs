// Baseline servers for the benchmark, run as their own process (like the emulator):
//   MODE=json BODY_FILE=f  answers every request with the fixed JSON body in f;
//   MODE=put  DIR=d        streams every request body to a new file in d (fsync + rename, as the
//                          emulator does for blobs) and answers {"ok":true}.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";

const mode = process.env.MODE ?? "json";
const body = mode === "json" ? fs.readFileSync(process.env.BODY_FILE) : Buffer.from('{"ok":true}');
const dir = process.env.DIR;
let n = 0;

const server = http.createServer((req, res) => {
  if (mode === "json") {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
      res.end(body);
    });
    return;
  }
  const tmp = path.join(dir, `tmp-${process.pid}-${n++}`);
  const out = fs.createWriteStream(tmp);
  req.pipe(out);
  out.on("finish", () => {
    const fd = fs.openSync(tmp, "r");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(dir, crypto.randomUUID()));
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
