// Schema of the test-double controls: request journal and fault rules (owned by the controls area).
export const CONTROLS_MIGRATION = `
  CREATE TABLE IF NOT EXISTS controls_placeholder (id INTEGER PRIMARY KEY);
`;
