// The GitHub Actions workflows (and the workflow YAML the README shows) validated by GitHub's own
// parser, broken copies caught by it, and what they promise: .ci/run on push and PR, a multi-arch
// image build with a smoke test, a GHCR + npm release on v* tags.
import fs from "node:fs";
import path from "node:path";
import { DockerfileParser } from "dockerfile-ast";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadWorkflowParser, workflowErrors } from "./workflow-parser.js";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");
const CI = read(".github/workflows/ci.yml");
const RELEASE = read(".github/workflows/release.yml");
const IMAGE = "ghcr.io/${{ github.repository_owner }}/roboflow-batch-emulator";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  permissions?: Record<string, string>;
  container?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const wf = (text: string) => parse(text) as Workflow;
const uses = (job: Job, action: string) => job.steps.filter((s) => s.uses?.split("@")[0] === action);

/** The fenced code blocks of the README's Docker section (down to the next level-2 heading). */
function dockerSectionBlocks(readme: string): { lang: string; code: string }[] {
  const start = readme.indexOf("\n## Docker\n");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2] }));
}

let parser: Awaited<ReturnType<typeof loadWorkflowParser>>;
beforeAll(async () => {
  parser = await loadWorkflowParser();
});

describe("workflow files pass GitHub's workflow parser", () => {
  it("ci.yml and release.yml have no errors", async () => {
    expect(await workflowErrors(parser, "ci.yml", CI)).toEqual([]);
    expect(await workflowErrors(parser, "release.yml", RELEASE)).toEqual([]);
  });

  it("catches broken copies: a misspelt key, a step with both uses and run, a bad expression, an unknown permission, context or job", async () => {
    const broken: [string, string, string, RegExp][] = [
      ["runs-on misspelt", CI, CI.replace("  test:\n    runs-on: ubuntu-latest", "  test:\n    runs-onn: ubuntu-latest"), /Unexpected value 'runs-onn'/],
      [
        "uses and run in one step",
        CI,
        CI.replace("      - uses: actions/checkout@v4\n", "      - uses: actions/checkout@v4\n        run: echo both\n"),
        /Unexpected value 'run'/,
      ],
      ["unclosed expression", RELEASE, RELEASE.replace("${{ github.actor }}", "${{ github.actor "), /The expression is not closed/],
      ["unknown permission", RELEASE, RELEASE.replace("packages: write", "packagez: write"), /Unexpected value 'packagez'/],
      ["unknown context", RELEASE, RELEASE.replace("${{ github.repository_owner }}", "${{ githubb.repository_owner }}"), /Unrecognized named-value: 'githubb'/],
      ["needs an unknown job", RELEASE, RELEASE.replace("  npm:\n    runs-on", "  npm:\n    needs: nope\n    runs-on"), /depends on unknown job 'nope'/],
    ];
    for (const [what, original, text, message] of broken) {
      expect(text, `${what}: the replacement applied`).not.toBe(original);
      const errors = await workflowErrors(parser, `${what}.yml`, text);
      expect(errors.join("\n"), what).toMatch(message);
    }
  });
});

describe("ci.yml", () => {
  const ci = wf(CI);

  it("runs .ci/run on every push to main and every pull request, as root on Debian bookworm like the project's machines", () => {
    expect(Object.keys(ci.on).sort()).toEqual(["pull_request", "push"]);
    expect(ci.jobs.test.container).toBe("node:20-bookworm");
    expect(ci.jobs.test.steps.map((s) => s.run).filter(Boolean)).toEqual(["bash .ci/run"]);
  });

  it("builds the image for linux/amd64 and linux/arm64 with QEMU + Buildx, then smoke-tests it with docker run and the healthcheck", () => {
    const job = ci.jobs.image;
    expect(uses(job, "docker/setup-qemu-action")).toHaveLength(1);
    expect(uses(job, "docker/setup-buildx-action")).toHaveLength(1);
    const builds = uses(job, "docker/build-push-action");
    expect(builds.map((s) => s.with?.platforms)).toEqual(["linux/amd64,linux/arm64", "linux/amd64"]);
    expect(builds.every((s) => s.with?.push !== true)).toBe(true);
    expect(builds[1].with).toMatchObject({ load: true, tags: "roboflow-batch-emulator:ci" });
    const smoke = job.steps.find((s) => s.name === "Smoke test")!.run!;
    expect(smoke).toContain("docker run -d --name emulator -p 9010:9010 roboflow-batch-emulator:ci");
    expect(smoke).toContain("docker inspect --format '{{.State.Health.Status}}' emulator");
    expect(smoke).toContain('test "$status" = healthy');
    expect(smoke).toContain("curl -fsS http://127.0.0.1:9010/health");
  });
});

describe("release.yml", () => {
  const rel = wf(RELEASE);

  it("runs on v* tags only", () => {
    expect(rel.on).toEqual({ push: { tags: ["v*"] } });
  });

  it("pushes the multi-arch image to GHCR under the repository owner with docker/metadata-action's tags", () => {
    const job = rel.jobs.image;
    expect(job.permissions).toEqual({ contents: "read", packages: "write" });
    expect(uses(job, "docker/login-action")[0].with).toMatchObject({ registry: "ghcr.io", password: "${{ secrets.GITHUB_TOKEN }}" });
    const meta = uses(job, "docker/metadata-action")[0] as Step & { id: string };
    expect(meta.with?.images).toBe(IMAGE);
    expect(String(meta.with?.tags)).toContain("type=semver,pattern={{version}}");
    expect(uses(job, "docker/build-push-action")[0].with).toMatchObject({
      platforms: "linux/amd64,linux/arm64",
      push: true,
      tags: `\${{ steps.${meta.id}.outputs.tags }}`,
      labels: `\${{ steps.${meta.id}.outputs.labels }}`,
    });
  });

  it("publishes to npm with provenance through an OIDC token, after checking the tag is the package version", () => {
    const job = rel.jobs.npm;
    expect(job.permissions).toEqual({ contents: "read", "id-token": "write" });
    const runs = job.steps.map((s) => s.run).filter(Boolean);
    expect(runs).toContain("npm publish --provenance --access public");
    expect(runs.some((r) => r!.includes('"v$(node -p "require(\'./package.json\').version")"'))).toBe(true);
    expect(runs.indexOf("npm ci --no-audit --no-fund")).toBeLessThan(runs.indexOf("npm publish --provenance --access public"));
  });
});

describe("README's Docker, docker-compose and GitHub Actions sections", () => {
  const blocks = dockerSectionBlocks(read("README.md"));
  const published = IMAGE.replace("${{ github.repository_owner }}", "<owner>") + ":latest";
  const dockerfile = DockerfileParser.parse(read("Dockerfile"));
  const runtimeFrom = dockerfile.getFROMs()[1].getRange().start.line;
  const runtime = dockerfile.getInstructions().filter((i) => i.getRange().start.line > runtimeFrom);
  const argsOf = (kw: string) => runtime.filter((i) => i.getKeyword() === kw).map((i) => (i.getArgumentsContent() ?? "").trim());

  it("name the image release.yml publishes, with the Dockerfile's port and volume", () => {
    const shell = blocks
      .filter((b) => b.lang === "bash")
      .map((b) => b.code)
      .join("\n");
    expect(shell).toContain(`docker run --rm -p 9010:9010 -v rf-emu:/data ${published}`);
    expect(shell).toContain("docker build -t roboflow-batch-emulator .");
    expect(argsOf("EXPOSE")).toEqual(["9010"]);
    expect(argsOf("VOLUME")).toEqual(['["/data"]']);
    for (const b of blocks.filter((x) => x.lang === "yaml")) expect(b.code).toContain(`image: ${published}`);
  });

  it("the compose file sets what the image test sets (time scale max, public URL http://roboflow:9010) and waits on the healthcheck", () => {
    const compose = parse(blocks.find((b) => b.lang === "yaml" && b.code.startsWith("services:"))!.code) as {
      services: Record<string, { environment?: Record<string, string>; depends_on?: unknown }>;
    };
    expect(compose.services.roboflow.environment).toEqual({ EMULATOR_TIME_SCALE: "max", EMULATOR_PUBLIC_URL: "http://roboflow:9010" });
    expect(compose.services.app.depends_on).toEqual({ roboflow: { condition: "service_healthy" } });
  });

  it("the service-container workflow passes GitHub's parser", async () => {
    const workflow = blocks.find((b) => b.lang === "yaml" && b.code.startsWith("name:"))!.code;
    expect(await workflowErrors(parser, "readme-service.yml", workflow)).toEqual([]);
    const job = wf(workflow).jobs.test as Job & { services: Record<string, { image: string; ports: string[] }> };
    expect(job.services.roboflow).toMatchObject({ image: published, ports: ["9010:9010"] });
  });
});
