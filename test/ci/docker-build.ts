// Emulates `docker build` of a Dockerfile without a container engine: each stage gets a folder that
// stands for its root file system, and WORKDIR, COPY (from the build context or --from an earlier
// stage), ENV, USER and RUN are applied to it in order. RUN steps run for real (sh -c, in the
// emulated working directory) except apt-get ones, which need the image's root file system and
// Debian mirror and are reported as skipped. The base image's own files are not there: the host's
// node (the same Node 20 the tests run on) stands in for the image's.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";

export interface HealthCheck {
  flags: Record<string, string>;
  /** Shell form command (what Docker runs with /bin/sh -c). */
  shell: string;
}

export interface Stage {
  index: number;
  name: string | null;
  base: string;
  /** Host folder standing for the stage's `/`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string;
  cmd: string[] | null;
  healthcheck: HealthCheck | null;
  volumes: string[];
  expose: string[];
  /** Owner given by COPY --chown, by container path (everything else belongs to root). */
  owners: Record<string, string>;
}

export interface StepLog {
  stage: string;
  line: number;
  text: string;
  outcome: "done" | "skipped" | "substituted";
  note?: string;
  ms: number;
}

export interface BuildResult {
  stages: Stage[];
  final: Stage;
  steps: StepLog[];
}

/** May take over a RUN command (returns what it did instead) or leave it to run for real (null). */
export type RunSubstitute = (command: string, cwd: string) => Promise<string | null>;

export interface BuildOptions {
  dockerfile: string;
  /** Folder holding exactly the build context (see docker-context.ts). */
  context: string;
  /** Empty folder for the stages' file systems. */
  workDir: string;
  /** Environment for RUN steps besides the stage's ENV (PATH, HOME, npm settings). */
  runEnv: Record<string, string>;
  substitute?: RunSubstitute;
  log?: (line: string) => void;
}

export class DockerBuildError extends Error {}

/** Known uids of the official node image (`node` is 1000:1000), for chown when the tests run as root. */
export const IMAGE_USERS: Record<string, number> = { root: 0, node: 1000 };

const APT_SEGMENT = /^(apt-get\s|rm -rf \/var\/lib\/apt\/lists\/\*$)/;

export function hostPath(root: string, containerPath: string): string {
  const p = path.posix.normalize(containerPath);
  if (!p.startsWith("/")) throw new DockerBuildError(`not an absolute container path: ${containerPath}`);
  return path.join(root, p);
}

function args(i: Instruction): string[] {
  const raw = (i.getArgumentsContent() ?? "").trim();
  // Exec (JSON) form: parsed as JSON, the way Docker reads it.
  if (raw.startsWith("[")) return JSON.parse(raw) as string[];
  return i.getArguments().map((a) => a.getValue());
}

function flags(i: Instruction): Record<string, string> {
  const out: Record<string, string> = {};
  const fl = (i as unknown as { getFlags?: () => { getName(): string; getValue(): string | null }[] }).getFlags?.() ?? [];
  for (const f of fl) out[f.getName()] = f.getValue() ?? "";
  return out;
}

function where(stage: Stage, line: number, text: string): string {
  return `${text} (Dockerfile line ${line}, stage ${stage.name ?? stage.index})`;
}

function runShell(command: string, cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("exit", (code, signal) => (code === 0 ? resolve() : reject(new DockerBuildError(`"${command}" exited with ${code ?? signal}:\n${out}`))));
  });
}

function applyCopy(stage: Stage, stages: Stage[], opts: BuildOptions, parts: string[], fl: Record<string, string>, label: string): void {
  if (parts.length < 2) throw new DockerBuildError(`${label}: COPY needs a source and a destination`);
  const unsupported = Object.keys(fl).filter((f) => !["from", "chown", "link"].includes(f));
  if (unsupported.length) throw new DockerBuildError(`${label}: COPY --${unsupported[0]} is not emulated`);
  const rawDest = parts[parts.length - 1];
  const sources = parts.slice(0, -1);
  let fromRoot = opts.context;
  let fromLabel = "the build context";
  if (fl.from !== undefined) {
    const src = stages.find((s) => s.name === fl.from || String(s.index) === fl.from);
    if (!src) throw new DockerBuildError(`${label}: --from=${fl.from} names no earlier stage (images are not emulated)`);
    fromRoot = src.root;
    fromLabel = `stage ${fl.from}`;
  }
  const dest = path.posix.resolve(stage.workdir, rawDest);
  const intoDir = rawDest.endsWith("/") || sources.length > 1;
  for (const source of sources) {
    if (/[*?[]/.test(source)) throw new DockerBuildError(`${label}: wildcards in COPY sources are not emulated`);
    const rel = path.posix.normalize(source.replace(/^\/+/, ""));
    if (rel.startsWith("..")) throw new DockerBuildError(`${label}: "${source}" is outside the build context`);
    const from = path.join(fromRoot, rel);
    if (!fs.existsSync(from)) {
      const why = fl.from === undefined ? "is not in the build context (missing, or excluded by .dockerignore)" : `does not exist in ${fromLabel}`;
      throw new DockerBuildError(`${label}: COPY source "${source}" ${why}`);
    }
    const isDir = fs.statSync(from).isDirectory();
    const destIsDir = intoDir || (fs.existsSync(hostPath(stage.root, dest)) && fs.statSync(hostPath(stage.root, dest)).isDirectory());
    const target = isDir || !destIsDir ? dest : path.posix.join(dest, path.posix.basename(rel));
    const targetHost = hostPath(stage.root, target);
    fs.mkdirSync(isDir ? targetHost : path.dirname(targetHost), { recursive: true });
    // A folder's contents go into the destination, as with Docker (not the folder itself).
    fs.cpSync(from, targetHost, { recursive: true, verbatimSymlinks: true, force: true, preserveTimestamps: true });
    if (fl.chown) chownTree(stage, target, fl.chown);
  }
}

function chownTree(stage: Stage, containerPath: string, owner: string): void {
  stage.owners[containerPath] = owner;
  const [user, group = user] = owner.split(":");
  const uid = IMAGE_USERS[user];
  const gid = IMAGE_USERS[group];
  // Only root can give files away; without it the recorded owner is what the tests check.
  if (uid === undefined || gid === undefined || process.getuid?.() !== 0) return;
  const visit = (p: string) => {
    fs.lchownSync(p, uid, gid);
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  visit(hostPath(stage.root, containerPath));
}

async function applyRun(stage: Stage, opts: BuildOptions, command: string, label: string): Promise<Pick<StepLog, "outcome" | "note">> {
  const segments = command.split("&&").map((s) => s.trim());
  const apt = segments.filter((s) => APT_SEGMENT.test(s));
  if (apt.length === segments.length) return { outcome: "skipped", note: "apt-get: needs the image's root file system and Debian mirror" };
  if (apt.length) throw new DockerBuildError(`${label}: a RUN that mixes apt-get with other commands cannot be emulated; split it`);
  const cwd = hostPath(stage.root, stage.workdir);
  const taken = await opts.substitute?.(command, cwd);
  if (taken) return { outcome: "substituted", note: taken };
  await runShell(command, cwd, { ...opts.runEnv, ...stage.env });
  return { outcome: "done" };
}

/** Runs the emulated build; throws DockerBuildError naming the Dockerfile line on the first failure. */
export async function emulateBuild(opts: BuildOptions): Promise<BuildResult> {
  const doc = DockerfileParser.parse(opts.dockerfile);
  const stages: Stage[] = [];
  const steps: StepLog[] = [];
  let stage: Stage | null = null;
  for (const ins of doc.getInstructions()) {
    const keyword = ins.getKeyword();
    const line = ins.getRange().start.line + 1;
    const text = `${keyword} ${(ins.getArgumentsContent() ?? "").replace(/\s+/g, " ")}`;
    const started = Date.now();
    let result: Pick<StepLog, "outcome" | "note"> = { outcome: "done" };
    if (keyword === "FROM") {
      const a = args(ins);
      const index = stages.length;
      const name = a[1]?.toUpperCase() === "AS" ? a[2] : null;
      const root = path.join(opts.workDir, `stage-${index}${name ? `-${name}` : ""}`);
      fs.mkdirSync(root, { recursive: true });
      const parent = stages.find((s) => s.name === a[0]);
      if (parent) fs.cpSync(parent.root, root, { recursive: true, verbatimSymlinks: true });
      stage = {
        index,
        name,
        base: a[0],
        root,
        workdir: "/",
        env: parent ? { ...parent.env } : {},
        user: "root",
        cmd: null,
        healthcheck: null,
        volumes: [],
        expose: [],
        owners: {},
      };
      stages.push(stage);
    } else {
      if (!stage) throw new DockerBuildError(`${text} (line ${line}) comes before any FROM`);
      const label = where(stage, line, text);
      switch (keyword) {
        case "WORKDIR":
          stage.workdir = path.posix.resolve(stage.workdir, args(ins).join(" "));
          fs.mkdirSync(hostPath(stage.root, stage.workdir), { recursive: true });
          break;
        case "ENV":
          for (const p of (ins as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties())
            stage.env[p.getName()] = p.getValue() ?? "";
          break;
        case "COPY":
          applyCopy(stage, stages, opts, args(ins), flags(ins), label);
          break;
        case "RUN":
          result = await applyRun(stage, opts, (ins.getArgumentsContent() ?? "").trim(), label);
          break;
        case "USER":
          stage.user = args(ins)[0];
          break;
        case "VOLUME":
          stage.volumes.push(...args(ins));
          break;
        case "EXPOSE":
          stage.expose.push(...args(ins));
          break;
        case "CMD":
          stage.cmd = args(ins);
          break;
        case "HEALTHCHECK": {
          const body = (ins.getArgumentsContent() ?? "").trim();
          if (!/^CMD\s/.test(body)) throw new DockerBuildError(`${label}: only HEALTHCHECK [flags] CMD <shell command> is emulated`);
          stage.healthcheck = { flags: flags(ins), shell: body.replace(/^CMD\s+/, "") };
          break;
        }
        case "LABEL":
          break;
        default:
          throw new DockerBuildError(`${label}: ${keyword} is not emulated`);
      }
    }
    const step: StepLog = { stage: stage.name ?? String(stage.index), line, text, ...result, ms: Date.now() - started };
    steps.push(step);
    opts.log?.(`[${step.stage}] line ${line} ${step.outcome}${step.note ? ` (${step.note})` : ""} ${step.ms} ms: ${text.slice(0, 120)}`);
  }
  if (!stage) throw new DockerBuildError("the Dockerfile has no FROM");
  return { stages, final: stage, steps };
}
