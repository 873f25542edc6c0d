// Installs the comparison peers (Prism 5.14.2, autocannon 9.0.0) into the git-ignored bench/.peers
// on first use, never into the project's package.json.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PEERS } from "./procs.js";

export const PEER_PACKAGES = ["@stoplight/prism-cli@5.14.2", "autocannon@9.0.0"];

export function ensurePeers(): void {
  const have = ["@stoplight/prism-cli", "autocannon"].every((p) => fs.existsSync(path.join(PEERS, "node_modules", p, "package.json")));
  if (have) return;
  fs.mkdirSync(PEERS, { recursive: true });
  if (!fs.existsSync(path.join(PEERS, "package.json"))) fs.writeFileSync(path.join(PEERS, "package.json"), '{"name":"bench-peers","private":true}\n');
  console.log(`installing benchmark peers into ${PEERS}: ${PEER_PACKAGES.join(", ")}`);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefix", PEERS, ...PEER_PACKAGES], { stdio: "inherit", timeout: 600_000 });
}
