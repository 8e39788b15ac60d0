-- The demo's tenant databases: each tenant's notes. IF NOT EXISTS: databases made before the
-- demo had migrations already hold the table, and adopt this migration as applied.
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
