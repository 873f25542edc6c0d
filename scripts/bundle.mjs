// Bundles the CLI into one ES module (dist/cli.bundle.mjs). Loading one file instead of a few
// hundred modules (zod, hono, ...) cuts the emulator's start-up time by about a third; the
// per-module dist/ files stay for the library entry points. better-sqlite3 stays external: it is
// a native addon.
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli.ts"],
  outfile: "dist/cli.bundle.mjs",
  bundle: true,
  minify: true,
  sourcemap: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["better-sqlite3"],
  // Bundled CommonJS dependencies call require(); give them one in the ESM output.
  banner: { js: "import { createRequire as __rfCreateRequire } from 'node:module'; const require = __rfCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
