// GitHub's own workflow parser and validator (@actions/workflow-parser, the one behind the Actions
// language service). Its ES modules import their JSON schema without an import attribute, which
// only bundlers accept, so it is bundled once with esbuild (already a devDependency) and loaded.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

type Parser = typeof import("@actions/workflow-parser");

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");

export async function loadWorkflowParser(): Promise<Parser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rf-workflow-parser-"));
  const outfile = path.join(dir, "workflow-parser.mjs");
  await build({
    stdin: { contents: 'export * from "@actions/workflow-parser";', resolveDir: ROOT, loader: "js" },
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Its CommonJS dependencies (yaml) call require(); give them one in the ESM output.
    banner: { js: "import { createRequire as __rfCreateRequire } from 'node:module'; const require = __rfCreateRequire(import.meta.url);" },
    logLevel: "warning",
  });
  try {
    return (await import(pathToFileURL(outfile).href)) as Parser;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Every problem the parser and the template conversion report, e.g. "ci.yml (Line: 4, Col: 5): Unexpected value 'runs-onn'". */
export async function workflowErrors(parser: Parser, name: string, content: string): Promise<string[]> {
  const parsed = parser.parseWorkflow({ name, content }, new parser.NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (parsed.value) {
    const template = await parser.convertWorkflowTemplate(parsed.context, parsed.value);
    errors.push(...(template.errors ?? []).map((e) => e.Message));
  }
  return [...new Set(errors)];
}
