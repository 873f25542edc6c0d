// Slow and silent clients: headers that trickle in byte by byte and upload bodies that stop half-way
// are cut off by the server within the configured timeouts (408 where an answer can still be sent),
// while other clients are served; a slow upload that keeps moving still succeeds; connections past
// the cap are refused. Before the limits existed, none of these connections was ever closed.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator, type TestEmulator } from "../helpers/emulator.js";
import { multipart, png } from "../helpers/fixtures.js";

const HEADERS_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1500;
const TRICKLERS = 200;
const SILENT_UPLOADS = 30;

interface Outcome {
  /** Real time from connect to close. */
  closedAfterMs: number;
  received: string;
}

/** Opens a raw connection, runs `drive` on it, and resolves when the server closes it (or `giveUpMs` passes). */
function rawClient(port: number, drive: (s: net.Socket) => void, giveUpMs: number): Promise<Outcome | "still-open"> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = net.connect(port, "127.0.0.1");
    let received = "";
    let done = false;
    const finish = (v: Outcome | "still-open") => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      s.destroy();
      resolve(v);
    };
    const giveUp = setTimeout(() => finish("still-open"), giveUpMs);
    s.on("data", (d) => (received += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => finish({ closedAfterMs: Date.now() - started, received }));
    s.on("connect", () => drive(s));
  });
}

/** Writes `text` one byte every `everyMs`, stopping when the socket closes. */
function trickle(s: net.Socket, text: string, everyMs: number): void {
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed || i >= text.length) return clearInterval(t);
    s.write(text[i++]);
  }, everyMs);
  s.on("close", () => clearInterval(t));
}

/** An image upload body: one part named "file". */
const imageBody = (name: string, image: Buffer, boundary?: string) =>
  multipart([{ field: "file", filename: name, contentType: "image/png", data: image }], { boundary });

describe("slow clients", () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator({ headersTimeoutMs: HEADERS_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS, maxConnections: 1024 });
  });
  afterAll(async () => emu?.close());

  it("closes byte-by-byte header connections and silent upload bodies within the timeouts, and keeps serving others", async () => {
    const uploadPath = (name: string) => `${emu.staging("slow-batch")}/upload/image?api_key=${emu.apiKey}&fileName=${name}`;
    const giveUp = 10_000;
    const tricklers = Array.from({ length: TRICKLERS }, () =>
      rawClient(emu.port, (s) => trickle(s, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`, 50), giveUp),
    );
    const silent = Array.from({ length: SILENT_UPLOADS }, (_, i) =>
      rawClient(
        emu.port,
        (s) => {
          const image = png(i);
          const m = imageBody(`silent-${i}.png`, image, "b0undary");
          s.write(
            `POST ${uploadPath(`silent-${i}.png`)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${m.contentType}\r\nContent-Length: ${m.body.length}\r\n\r\n`,
          );
          // The part's head and half of the image, then nothing more.
          s.write(m.body.subarray(0, m.body.indexOf(image) + (image.length >> 1)));
        },
        giveUp,
      ),
    );
    // While those hang, ordinary clients are served.
    await new Promise((r) => setTimeout(r, 200));
    expect((await emu.call("GET", "/health", { apiKey: null })).status).toBe(200);
    const fineBody = imageBody("fine.png", png(99));
    const fine = await emu.call("POST", `${emu.staging("slow-batch")}/upload/image?fileName=fine.png`, {
      body: fineBody.body,
      headers: { "content-type": fineBody.contentType },
    });
    expect(fine.status).toBe(200);

    const t = await Promise.all(tricklers);
    const s = await Promise.all(silent);
    expect(t.filter((o) => o === "still-open")).toHaveLength(0);
    expect(s.filter((o) => o === "still-open")).toHaveLength(0);
    const tClosed = t as Outcome[];
    const sClosed = s as Outcome[];
    // Header deadline plus the server's check interval and scheduling slack on a busy 2-core machine.
    expect(Math.max(...tClosed.map((o) => o.closedAfterMs))).toBeLessThan(HEADERS_TIMEOUT_MS + 4000);
    expect(tClosed.filter((o) => o.received.startsWith("HTTP/1.1 408")).length).toBeGreaterThan(TRICKLERS * 0.9);
    expect(Math.max(...sClosed.map((o) => o.closedAfterMs))).toBeLessThan(IDLE_TIMEOUT_MS + 4000);
    for (const o of sClosed) {
      expect(o.received).toMatch(/^HTTP\/1\.1 408/);
      expect(o.received).toContain('"type":"request-timeout"');
    }
    // Nothing of the silent uploads was stored; the good one was.
    const list = await emu.call("GET", `${emu.staging("slow-batch")}/list`);
    expect(list.json.filesMetadata.map((f: { fileName: string }) => f.fileName)).toEqual(["fine.png"]);
  });

  it("lets a slow upload that keeps moving finish, even when it takes longer than the idle timeout", async () => {
    const { body, contentType } = imageBody("moving.png", png(7), "m0ving");
    const outcome = await rawClient(
      emu.port,
      (s) => {
        s.write(
          `POST ${emu.staging("slow-batch")}/upload/image?api_key=${emu.apiKey}&fileName=moving.png HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
            `Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        // The whole body over about 2.5 idle timeouts, a chunk every half timeout.
        const chunks = 5;
        const size = Math.ceil(body.length / chunks);
        let i = 0;
        const t = setInterval(() => {
          if (s.destroyed) return clearInterval(t);
          s.write(body.subarray(i * size, (i + 1) * size));
          if (++i >= chunks) clearInterval(t);
        }, IDLE_TIMEOUT_MS / 2);
      },
      20_000,
    );
    expect(outcome).not.toBe("still-open");
    expect((outcome as Outcome).received).toMatch(/^HTTP\/1\.1 200/);
    expect((outcome as Outcome).closedAfterMs).toBeGreaterThan(IDLE_TIMEOUT_MS);
  });
});

describe("connection cap", () => {
  let emu: TestEmulator;
  beforeAll(async () => {
    emu = await startTestEmulator({ maxConnections: 10 });
  });
  afterAll(async () => emu?.close());

  it("refuses connections past the cap at once and serves again once they go", async () => {
    const held: net.Socket[] = [];
    for (let i = 0; i < 10; i++) {
      const s = net.connect(emu.port, "127.0.0.1");
      s.on("error", () => {});
      await new Promise((r) => s.once("connect", r));
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawClient(emu.port, (s) => s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), 3000);
    expect(extra).not.toBe("still-open");
    expect((extra as Outcome).received).toBe("");
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await emu.call("GET", "/health", { apiKey: null })).status).toBe(200);
  });
});
