// Journal entries carry what was sent and answered (owned by the controls area): the operation of
// the published API, request and response bodies as bounded summaries (JSON text, or sizes and
// sha256 for uploads and downloads, never raw file bytes) and the response headers.
export const JOURNAL_BODIES_MIGRATION = `
  ALTER TABLE journal ADD COLUMN operation TEXT;         -- "METHOD /openapi/path/{param}", null for an unknown route
  ALTER TABLE journal ADD COLUMN request_body TEXT;      -- JSON summary of the request body, null without one
  ALTER TABLE journal ADD COLUMN response_headers TEXT;  -- JSON object of the response headers
  ALTER TABLE journal ADD COLUMN response_body TEXT;     -- JSON summary of the response body
  CREATE INDEX journal_operation_seq ON journal (operation, seq);
`;
