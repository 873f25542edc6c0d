// An emulator in its own process (`node --import tsx src/cli.ts`), as a user runs it, so a test can
// kill -9 it and start it again on the same data folder.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export interface ChildEmulator {
  url: string;
  pid: number;
  child: ChildProcess;
  output(): string;
  /** SIGKILL, no chance to clean up; resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export async function startChildEmulator(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ChildEmulator> {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts"], {
    cwd: root,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, EMULATOR_TIME_SCALE: "max", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out = (out + d).slice(-50_000)));
  child.stderr.on("data", (d) => (out = (out + d).slice(-50_000)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with ${code} before listening:\n${out}`));
    });
  });
  const gone = () => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
  return {
    url,
    pid: child.pid!,
    child,
    output: () => out,
    kill9: async () => {
      child.kill("SIGKILL");
      await gone();
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.kill("SIGTERM");
      await gone();
      clearTimeout(t);
    },
  };
}
