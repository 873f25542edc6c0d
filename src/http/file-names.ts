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
  if (problem)
    throw badRequest(`Invalid ${source} ${JSON.stringify(name.slice(0, 300))}: ${problem}`, [{ field: "fileName", problem, received: name.slice(0, 300) }]);
}

/** What upload/video takes as a name: the video extensions the official client selects (VIDEOS_EXTENSIONS in inference_cli/lib/utils.py), any case. */
export const VIDEO_FILE_EXTENSIONS = [
  "mp4",
  "m4a",
  "m4p",
  "m4b",
  "m4r",
  "m4v",
  "avi",
  "mov",
  "mkv",
  "flv",
  "wmv",
  "mpeg",
  "mpg",
  "3gp",
  "webm",
  "ogg",
] as const;

/** 400 unless `name` ends in a video extension (upload/video's fileName names "the video file"). */
export function assertVideoFileName(name: string): void {
  const ext = /\.([^./\\]+)$/.exec(name)?.[1]?.toLowerCase();
  if (ext && (VIDEO_FILE_EXTENSIONS as readonly string[]).includes(ext)) return;
  const allowed = VIDEO_FILE_EXTENSIONS.map((e) => `.${e}`);
  throw badRequest(
    `Invalid fileName ${JSON.stringify(name.slice(0, 300))}: upload/video takes a video file, so the name must end in one of ${allowed.join(", ")} (any case)`,
    [{ field: "fileName", problem: ext ? `".${ext}" is not a video file extension` : "no file extension", received: name.slice(0, 300), allowed }],
    "Upload images with upload/image or bulk-upload/image-files; name the video after its file, e.g. my_video.mp4.",
  );
}
