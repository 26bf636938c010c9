/**
 * SQLite schema of the metadata store. `chain` holds the ancestor ids,
 * nearest first (parents never change, so it is written once). `parent_id` references the committed
 * parent, so SQLite itself refuses to delete a snapshot with children.
 */
export const schemaSql = `
CREATE TABLE IF NOT EXISTS snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  parent_id INTEGER REFERENCES snapshots(id),
  chain TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('view', 'active', 'committed')),
  created_us INTEGER NOT NULL,
  updated_us INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  inodes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);
CREATE TABLE IF NOT EXISTS labels (
  snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, key)
);
`;
