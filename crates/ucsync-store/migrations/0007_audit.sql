-- The audit: who changed what, newest last. `administrator` is the name of the administrator
-- whose token made the change, `local` for the command line without a server, `scheduler`
-- for a schedule. `detail` never holds a secret (no password, token or hash).
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    administrator TEXT NOT NULL,
    action        TEXT NOT NULL,
    object        TEXT NOT NULL,
    detail        TEXT
);
-- Who started a run (as in the audit). NULL: a run from before this version.
ALTER TABLE runs ADD COLUMN started_by TEXT;
