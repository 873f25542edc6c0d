// Bundles the CLI into one ES module (dist/cli.bundle.mjs). Loading one file instead of a few
// hundred modules (zod, hono, ...) cuts the emulator's start-up time by about a third; the
// per-module dist/ files stay for the library entry points. better-sqlite3 stays external: it is
// a native addon; so does undici, imported only when --ca-file is set (bundled, it costs every start).
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
  external: ["better-sqlite3", "undici"],
  // Bundled CommonJS dependencies call require(); give them one in the ESM output.
  banner: { js: "import { createRequire as __rfCreateRequire } from 'node:module'; const require = __rfCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
