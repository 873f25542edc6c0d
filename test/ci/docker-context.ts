// The build context `docker build .` sends: every file of the working tree that .dockerignore does
// not exclude, matched by @balena/dockerignore (Docker's own rules: patterns anchored at the context
// root, `**` at any depth, `!` exceptions, last match wins).
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Ignore } from "@balena/dockerignore";

// A CommonJS module (module.exports = factory) whose typings claim a default export: required as it is.
const dockerignore = createRequire(import.meta.url)("@balena/dockerignore") as () => Ignore;

export interface ContextLayout {
  dir: string;
  files: string[];
  bytes: number;
}

export function readDockerignore(root: string): string[] {
  const file = path.join(root, ".dockerignore");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split(/\r?\n/) : [];
}

/** Copies the context of `root` into `dest` (files and symlinks, modes kept) and lists it. */
export function layOutContext(root: string, dest: string): ContextLayout {
  const patterns = readDockerignore(root);
  const ig = dockerignore().add(patterns);
  // With no `!` exception an excluded folder can hold nothing that is sent, so it is not walked at all.
  const hasExceptions = patterns.some((p) => p.trim().startsWith("!"));
  const files: string[] = [];
  let bytes = 0;
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      const excluded = ig.ignores(r);
      if (entry.isDirectory()) {
        if (!excluded || hasExceptions) walk(r);
        continue;
      }
      if (excluded || !(entry.isFile() || entry.isSymbolicLink())) continue;
      const target = path.join(dest, r);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.cpSync(path.join(root, r), target, { verbatimSymlinks: true, preserveTimestamps: true });
      files.push(r);
      bytes += fs.lstatSync(target).size;
    }
  };
  fs.mkdirSync(dest, { recursive: true });
  walk("");
  return { dir: dest, files: files.sort(), bytes };
}
