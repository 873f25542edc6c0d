// ESLint, configured once: typescript-eslint's type-aware recommended rules for every TypeScript
// file the project compiles, plain recommended rules for the JavaScript around it. Formatting is
// Prettier's job (.prettierrc.json), so no stylistic rules here.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "bench/.peers/**", "python/**", "openapi/**", "coverage/**", "test-results/**", ".emulator-data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Root config files are outside tsconfig's folders; the default project covers them.
      parserOptions: { projectService: { allowDefaultProject: ["*.config.ts", "*.config.js"] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      // `const { seq: _seq, ...rest } = row` drops a field on purpose.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
    },
  },
  {
    // Tests, benchmarks and the parity tool read arbitrary JSON answers of the API under test: their
    // values are untyped on purpose, so the no-unsafe family would only demand casts to `any` again.
    files: ["test/**", "bench/**", "parity/**"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      // Hostile inputs (control characters, streams that never wait) are what these files build on purpose.
      "no-control-regex": "off",
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["src/dashboard/**/*.js"],
    languageOptions: { globals: { ...globals.browser } },
  },
);
