// npm run parity -- --target URL --api-key KEY --workspace WS [--record] [options]   compare (default) or record
// npm run parity -- proxy --proxy-to URL --port N --store DIR [--replay]              record-and-replay proxy
// npm run parity -- list                                                              the scenarios
// Exit codes: 0 no drift, 1 drift (or a scenario without snapshot), 2 bad arguments or an unreachable target.
import path from "node:path";
import { parseArgs } from "node:util";
import { formatDiffs } from "./compare.js";
import { send, type Target } from "./http.js";
import { runParity } from "./parity.js";
import { startProxy } from "./proxy.js";
import { SCENARIOS } from "./scenarios/index.js";
import { DEFAULT_SNAPSHOT_DIR } from "./snapshot.js";

const USAGE = `Usage:
  npm run parity -- --target URL --api-key KEY --workspace WS [--record]
      [--scenario NAME[,NAME]] [--snapshots DIR] [--workflow-id ID] [--other-workspace WS]
      [--reference-url URL]... [--poll-timeout SECONDS] [--poll-max-interval SECONDS] [--run-tag TAG] [--source LABEL] [--quiet]
  npm run parity -- proxy --proxy-to URL --port N --store DIR [--replay]
  npm run parity -- list

Without --record the scenarios run against the target and are compared with parity/snapshots/*.json.
--api-key defaults to $ROBOFLOW_API_KEY, --workspace to the key's workspace (GET /).`;

class UsageError extends Error {}

const seconds = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${name} must be a positive number of seconds`);
  return n * 1000;
};

/** `GET /` with the key: proves the target is reachable (else exit 2, not a page of drift) and names the key's workspace. */
async function discover(baseUrl: string, apiKey: string) {
  try {
    return (await send({ baseUrl, apiKey, workspace: "" }, { method: "GET", path: "/" }, 30_000)).res;
  } catch (err) {
    throw new UsageError(`cannot reach ${baseUrl}: ${(err as Error).message}`);
  }
}

async function discoverWorkspace(baseUrl: string, apiKey: string): Promise<string> {
  const res = await discover(baseUrl, apiKey);
  if (res.status !== 200 || typeof res.json?.workspace !== "string")
    throw new UsageError(`could not discover the workspace (GET / answered ${res.status}); pass --workspace`);
  return res.json.workspace;
}

async function compareOrRecord(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: "string" },
      "api-key": { type: "string" },
      workspace: { type: "string" },
      record: { type: "boolean", default: false },
      scenario: { type: "string", multiple: true },
      snapshots: { type: "string" },
      "workflow-id": { type: "string" },
      "other-workspace": { type: "string" },
      "reference-url": { type: "string", multiple: true },
      "poll-timeout": { type: "string" },
      "poll-max-interval": { type: "string" },
      "run-tag": { type: "string" },
      source: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const baseUrl = (values.target ?? process.env.API_BASE_URL)?.replace(/\/+$/, "");
  const apiKey = values["api-key"] ?? process.env.ROBOFLOW_API_KEY;
  if (!baseUrl || !/^https?:\/\//.test(baseUrl)) throw new UsageError("--target URL is required (http:// or https://)");
  if (!apiKey) throw new UsageError("--api-key KEY is required (or ROBOFLOW_API_KEY)");
  if (values["run-tag"] !== undefined && !/^[a-z][a-z0-9]{3,9}$/.test(values["run-tag"]))
    throw new UsageError("--run-tag must be 4-10 lowercase letters/digits starting with a letter");
  const workspace = values.workspace ?? (await discoverWorkspace(baseUrl, apiKey));
  if (values.workspace) await discover(baseUrl, apiKey);
  const target: Target = { baseUrl, apiKey, workspace };
  const snapshotDir = values.snapshots ? path.resolve(values.snapshots) : DEFAULT_SNAPSHOT_DIR;
  const log = values.quiet ? () => {} : (line: string) => console.log(line);
  const result = await runParity({
    target,
    record: values.record,
    snapshotDir,
    scenarios: values.scenario?.flatMap((s) => s.split(",")).filter(Boolean),
    workflowId: values["workflow-id"],
    otherWorkspace: values["other-workspace"],
    referenceUrls: values["reference-url"],
    runTag: values["run-tag"],
    source: values.source,
    pollTimeoutMs: seconds(values["poll-timeout"], "--poll-timeout"),
    pollMaxIntervalMs: seconds(values["poll-max-interval"], "--poll-max-interval"),
    log,
  });
  if (values.record) {
    for (const r of result.results)
      console.log(
        r.skipped
          ? `skipped ${r.scenario}: ${r.skipped}`
          : `recorded ${r.scenario} (${r.run?.steps.length} steps${r.run?.failure ? `, STOPPED: ${r.run.failure}` : ""}) → ${r.file}`,
      );
    console.log(`source: ${result.source}`);
    return result.results.some((r) => r.run?.failure) ? 1 : 0;
  }
  const all = result.results.flatMap((r) => r.diffs);
  if (all.length) console.log(formatDiffs(all));
  for (const r of result.results) {
    const drift = r.diffs.filter((d) => !d.allowedBy).length;
    console.log(
      `${r.skipped ? "-" : drift ? "✗" : "✓"} ${r.scenario}: ${r.skipped ? `skipped (${r.skipped})` : drift ? `${drift} difference(s)` : `matches (${r.run?.steps.length} steps)`}`,
    );
  }
  console.log(result.drift.length ? `DRIFT: ${result.drift.length} difference(s) from ${snapshotDir}` : `no drift against ${snapshotDir}`);
  return result.drift.length ? 1 : 0;
}

async function proxy(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "proxy-to": { type: "string" },
      port: { type: "string" },
      store: { type: "string" },
      replay: { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
  if (!values.store) throw new UsageError("--store DIR is required");
  if (!values.replay && !values["proxy-to"]) throw new UsageError("--proxy-to URL is required (or --replay)");
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError("--port must be 0-65535");
  const running = await startProxy({
    upstream: values["proxy-to"],
    port,
    store: path.resolve(values.store),
    replay: values.replay,
    log: values.quiet ? undefined : (l) => console.log(l),
  });
  console.log(`parity proxy ${values.replay ? "replaying" : `recording ${values["proxy-to"]}`} on ${running.url} (store ${path.resolve(values.store)})`);
  await new Promise<void>((resolve) => {
    const stop = () => void running.close().then(resolve);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--help" || argv[0] === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (argv[0] === "list") {
    for (const s of SCENARIOS) console.log(`${s.name}\n    ${s.title}`);
    return 0;
  }
  if (argv[0] === "proxy") return proxy(argv.slice(1));
  return compareOrRecord(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(
      err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
        ? `${err.message}\n\n${USAGE}`
        : `parity: ${err.stack ?? err.message}`,
    );
    process.exit(2);
  },
);
