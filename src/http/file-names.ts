// Rules for the names files get in a batch. A name ends up in download URLs, in export folders on
// users' disks and in webhook payloads, so it must be a plain, single path component.
import { badRequest } from "../errors.js";

export const MAX_FILE_NAME_BYTES = 255;

/** Why `name` cannot be a staged file's name, or null when it is fine. */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0) return "file name is empty";
  if (Buffer.byteLength(name, "utf8") > MAX_FILE_NAME_BYTES) return `file name is longer than ${MAX_FILE_NAME_BYTES} bytes`;
  if (name === "." || name === "..") return `"${name}" is not a file name`;
  if (/[/\\]/.test(name)) return "file name must not contain path separators (/ or \\)";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "file name must not contain control characters";
  return null;
}

/** Last component of a slash-separated archive path ("a/b/c.jpg" → "c.jpg"). */
export function baseName(p: string): string {
  const parts = p.split("/").filter((s) => s !== "");
  return parts.length ? parts[parts.length - 1] : "";
}

/** 400 naming the rule `name` breaks; `source` says where the name came from ("fileName", "part filename"). */
export function assertFileName(name: string, source: string): void {
  const problem = fileNameProblem(name);
  if (problem) throw badRequest(`Invalid ${source} ${JSON.stringify(name.slice(0, 300))}: ${problem}`, [{ field: "fileName", problem, received: name.slice(0, 300) }]);
}
