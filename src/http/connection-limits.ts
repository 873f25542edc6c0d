// Guards the HTTP server against clients that never finish: headers that trickle in, bodies that
// stall, and more connections than the machine should hold. Node does the header timeout itself
// (it answers 408); a stalled body is answered 408 here, since Node's own request timeout would
// also cut multi-GB uploads that are still moving.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface ConnectionLimits {
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
}

/** Options for http.createServer that must be set before it listens. */
export function serverOptionsFor(limits: ConnectionLimits) {
  return {
    // Off: the whole-request deadline would cut large uploads; stalled bodies are caught by the idle timeout.
    requestTimeout: 0,
    // Node 20 derives headersTimeout from requestTimeout (min of the two), so 0 above would disable it: set it explicitly.
    headersTimeout: limits.headersTimeoutMs,
    // How often Node checks header deadlines; a tenth of the deadline keeps the overshoot small.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 10))),
  };
}

const TIMEOUT_BODY = JSON.stringify({
  message: "Request timeout: the request body stopped arriving; nothing was stored",
  error: { status: 408, type: "request-timeout", hint: "Send the body without long pauses; large uploads are fine as long as bytes keep moving." },
});

/** Installs the idle-body timeout and the connection cap on a listening (or about to listen) server. */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.maxConnections = limits.maxConnections;
  // Which request each socket is serving, so a timeout knows whether a body is still expected.
  const current = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    current.set(socket, { req, res });
    res.once("finish", () => {
      if (current.get(socket)?.res === res) current.delete(socket);
    });
  });
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => {
    const active = current.get(socket);
    if (active && active.req.complete) {
      // The body is in; the server is still working on the answer (e.g. advancing the clock to idle).
      return;
    }
    if (active && !active.res.headersSent && socket.writable) {
      socket.end(
        `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(TIMEOUT_BODY)}\r\n\r\n${TIMEOUT_BODY}`,
      );
      // Readers of the request body see it end abruptly and discard what they staged.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.destroy();
  });
}
