// Partial result files of running processing tasks. Each attempt of a task gets a fresh temp file
// from the BlobStore (a random name, never built from workspace or job ids, so two jobs, two
// workspaces or two attempts can never share one), recorded here under the task row's unique seq.
// Files are removed by their exact recorded name only. A crash loses this record together with the
// temp folder (emptied at start-up), and the engine rewinds every running task then anyway.
import type { BlobStore } from "../state/blobs.js";

export class PartialResults {
  private readonly files = new Map<number, { job: string; tmp: string }>();

  constructor(private readonly blobs: BlobStore) {}

  /** The partial file of the task's current attempt, if it has one. */
  get(taskSeq: number): string | undefined {
    return this.files.get(taskSeq)?.tmp;
  }

  /** A fresh, empty partial file for a new attempt of the task (`job` groups the files of one job). */
  open(job: string, taskSeq: number): string {
    this.discard(taskSeq);
    const tmp = this.blobs.tempPath("job-part");
    this.blobs.appendTemp(tmp, "");
    this.files.set(taskSeq, { job, tmp });
    return tmp;
  }

  append(tmp: string, data: string): void {
    this.blobs.appendTemp(tmp, data);
  }

  /** The whole partial file, or null when it is gone. */
  read(tmp: string): Buffer | null {
    try {
      return this.blobs.readTemp(tmp);
    } catch {
      return null;
    }
  }

  /** Removes the task's partial file; with `tmp`, only that file (a newer attempt's file stays). */
  discard(taskSeq: number, tmp?: string): void {
    const entry = this.files.get(taskSeq);
    if (tmp !== undefined) this.blobs.discard(tmp);
    if (!entry || (tmp !== undefined && entry.tmp !== tmp)) return;
    if (tmp === undefined) this.blobs.discard(entry.tmp);
    this.files.delete(taskSeq);
  }

  /** Drops the record of a file that was committed into the blob tree (it is no longer a temp file). */
  committed(taskSeq: number, tmp: string): void {
    if (this.files.get(taskSeq)?.tmp === tmp) this.files.delete(taskSeq);
  }

  /** Removes every partial file of one job. */
  discardJob(job: string): void {
    for (const [seq, e] of this.files) if (e.job === job) this.discard(seq);
  }

  discardAll(): void {
    for (const seq of [...this.files.keys()]) this.discard(seq);
  }
}
