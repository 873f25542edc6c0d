// Schema of the batch-processing jobs, stages, tasks and logs (owned by the jobs area).
export const JOBS_MIGRATION = `
  CREATE TABLE IF NOT EXISTS jobs_placeholder (id INTEGER PRIMARY KEY);
`;
