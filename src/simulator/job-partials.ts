// Partial result files of running processing tasks. Each attempt of a task gets a fresh temp file
// from the BlobStore (a random name, never built from workspace or job ids, so two jobs, two
// workspaces or two attempts can never share one), recorded here under the engine's run of the job
// (src/simulator/job-steps.ts JobRun) and the task row's seq. Row numbers restart after a full reset,
// so a task seq alone could name the task of the job that took the id since: files are only ever
// found through the run that opened them, and removed by their exact recorded name. A crash loses
// this record together with the temp folder (emptied at start-up), and the engine rewinds every
// running task then anyway.
import type { BlobStore } from "../state/blobs.js";
import type { JobRun } from "./job-steps.js";

export class PartialResults {
  private readonly files = new Map<JobRun, Map<number, string>>();

  constructor(private readonly blobs: BlobStore) {}

  /** The partial file of the task's current attempt in this run, if it has one. */
  get(run: JobRun, taskSeq: number): string | undefined {
    return this.files.get(run)?.get(taskSeq);
  }

  /** A fresh, empty partial file for a new attempt of the task. */
  open(run: JobRun, taskSeq: number): string {
    this.discard(run, taskSeq);
    const tmp = this.blobs.tempPath("job-part");
    this.blobs.appendTemp(tmp, "");
    let byTask = this.files.get(run);
    if (!byTask) this.files.set(run, (byTask = new Map<number, string>()));
    byTask.set(taskSeq, tmp);
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
  discard(run: JobRun, taskSeq: number, tmp?: string): void {
    if (tmp !== undefined) this.blobs.discard(tmp);
    const byTask = this.files.get(run);
    const recorded = byTask?.get(taskSeq);
    if (recorded === undefined || (tmp !== undefined && recorded !== tmp)) return;
    if (tmp === undefined) this.blobs.discard(recorded);
    byTask!.delete(taskSeq);
    if (byTask!.size === 0) this.files.delete(run);
  }

  /** Drops the record of a file that was committed into the blob tree (it is no longer a temp file). */
  committed(run: JobRun, taskSeq: number, tmp: string): void {
    const byTask = this.files.get(run);
    if (byTask?.get(taskSeq) !== tmp) return;
    byTask.delete(taskSeq);
    if (byTask.size === 0) this.files.delete(run);
  }

  /** Removes every partial file of one run of a job. */
  discardRun(run: JobRun): void {
    for (const tmp of this.files.get(run)?.values() ?? []) this.blobs.discard(tmp);
    this.files.delete(run);
  }

  discardAll(): void {
    for (const run of [...this.files.keys()]) this.discardRun(run);
  }
}
