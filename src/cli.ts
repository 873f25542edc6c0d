// Command-line entry: reads flags and environment, starts the emulator, prints where it is.
import { ConfigError, resolveConfig } from "./config.js";
import { startEmulator } from "./server.js";

const HELP = `roboflow-batch-emulator: local emulator of Roboflow's Batch Processing and Data Staging APIs

Flags (each also read from the environment variable in brackets):
  --port N            [PORT]                  default 9010; 0 picks a free port
  --host H            [HOST]                  default 127.0.0.1
  --data-dir DIR      [DATA_DIR]              default ./.emulator-data; ":memory:" keeps nothing
  --workspace W       [EMULATOR_WORKSPACE]    default emulator-workspace
  --api-key K         [EMULATOR_API_KEY]      default emulator-api-key
  --time-scale S      [EMULATOR_TIME_SCALE]   1 = real time, 10 = ten times faster, max = no waiting
  --seed FILE         [EMULATOR_SEED_FILE]    JSON seed (workspaces, keys, ...)
  --admin-token T     [EMULATOR_ADMIN_TOKEN]  require "Authorization: Bearer T" on /_emulator controls
  --signing-secret S  [EMULATOR_SIGNING_SECRET]
  --public-url URL    [EMULATOR_PUBLIC_URL]   base URL to put in signed URLs (e.g. behind Docker port mapping)
  --headers-timeout-ms N  [EMULATOR_HEADERS_TIMEOUT_MS]  default 30000; headers slower than this get 408
  --idle-timeout-ms N     [EMULATOR_IDLE_TIMEOUT_MS]     default 120000; a body that stalls this long gets 408
  --max-connections N     [EMULATOR_MAX_CONNECTIONS]     default 1024; more are refused at once
  --url-map FROM=TO       [EMULATOR_URL_MAP]             serve reference URLs under FROM from TO (file:///folder/ or http://127.0.0.1:PORT/);
                          repeatable, or comma-separated; e.g. https://storage.example.com/=file:///fixtures/
  --ca-file PEM           [EMULATOR_CA_FILE]             trust this CA (or self-signed certificate) for https reference downloads
  --batch-retention-ms N  [EMULATOR_BATCH_RETENTION_MS]  default 604800000 (7 days); batches expire this long after creation (emulator clock)
  --quiet                 [EMULATOR_QUIET=1]             print only the "listening on URL" line, and errors
`;

async function main(): Promise<void> {
  let config;
  try {
    config = resolveConfig(process.env, process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (process.argv.includes("--help")) {
    console.log(HELP);
    return;
  }
  const running = await startEmulator(config);
  console.log(
    `Roboflow batch emulator listening on ${running.url}  workspace=${running.workspace}  api_key=${running.apiKey}  ` +
      `data=${config.dataDir}  time-scale=${config.timeScale === Infinity ? "max" : config.timeScale}`,
  );
  // The first line is parsed by scripts and the pytest plugin: it stays first and alone under --quiet.
  if (!config.quiet) {
    console.log(`Point the official client at it: export API_BASE_URL=${running.url} ROBOFLOW_API_KEY=${running.apiKey}`);
    console.log(`Dashboard: ${running.url}/_emulator/dashboard`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (!config.quiet) console.log(`${signal} received, closing`);
    running.close().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  // Last line of defence: background work catches its own failures and retries; anything that still
  // escapes is logged and the server keeps serving (a test double that dies mid-suite helps no one).
  process.on("uncaughtException", (err) => console.error("[emulator] uncaught exception (the server keeps running):", err));
  process.on("unhandledRejection", (err) => console.error("[emulator] unhandled rejection (the server keeps running):", err));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err) => {
  console.error("error: could not start the emulator:", err instanceof Error ? err.message : err);
  process.exit(1);
});
