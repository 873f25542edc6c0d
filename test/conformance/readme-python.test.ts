// The README's pytest section is python/README.md word for word, so the Python suite that runs every
// example of python/README.md (python/tests/test_readme.py) covers what the main README shows.
import fs from "node:fs";
import { describe, expect, it } from "vitest";

describe("README: pytest plugin section", () => {
  it("is python/README.md verbatim below its heading", () => {
    const readme = fs.readFileSync("README.md", "utf8");
    const m = /<!-- python\/README\.md, verbatim[^>]*-->\n\n([\s\S]*?)\n\n<!-- end of python\/README\.md -->/.exec(readme);
    expect(m, "the README must hold the marked pytest section").not.toBeNull();
    const plugin = fs
      .readFileSync("python/README.md", "utf8")
      .split("\n")
      .slice(1)
      .join("\n")
      .replace(/^\n+|\n+$/g, "");
    expect(m![1]).toBe(plugin);
  });
});
