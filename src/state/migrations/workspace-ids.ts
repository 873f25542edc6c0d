// Workspaces get the internal id the real service names in its webhooks (Authorization: Bearer
// rf_{workspace_id}, where the id is not the URL name). NULL means "derived from the workspace's name"
// (src/state/workspaces.ts internalIdOf), so existing rows need no backfill.
export const WORKSPACE_IDS_MIGRATION = `
  ALTER TABLE workspaces ADD COLUMN internal_id TEXT;
  CREATE UNIQUE INDEX workspaces_internal_id ON workspaces (internal_id);
`;
