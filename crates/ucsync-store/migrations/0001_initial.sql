-- Enterprises and connectors as the store knows them; the configuration file is the truth
-- for their settings, the store keeps ids, watermarks and last-run status.
CREATE TABLE enterprises (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    -- which directory attributes entry_keys indexes (join attributes and references); when
    -- the rules change it, the keys are rebuilt
    key_spec TEXT
);

CREATE TABLE connectors (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    kind          TEXT NOT NULL,
    watermark     TEXT,
    watermark_at  TEXT
);

-- The staging space of every connector: the last known state of each external object,
-- its link to a directory entry, whether sync must look at it, and its pending export.
-- sync_state: 0 nothing to do, 1 changed since the last sync, 2 deleted in the source.
-- attrs NULL: the object is not (yet) in the external system (a provisioned add).
-- export_op: NULL none, 1 add, 2 update, 3 delete.
CREATE TABLE staging (
    id           INTEGER PRIMARY KEY,
    connector_id INTEGER NOT NULL,
    anchor       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    hash         INTEGER NOT NULL DEFAULT 0,
    attrs        BLOB,
    entry_id     INTEGER,
    sync_state   INTEGER NOT NULL DEFAULT 0,
    sync_error   TEXT,
    export_op    INTEGER,
    export_attrs BLOB,
    export_hash  INTEGER,
    export_error TEXT
);
CREATE UNIQUE INDEX staging_anchor ON staging (connector_id, anchor);
CREATE INDEX staging_entry ON staging (entry_id) WHERE entry_id IS NOT NULL;
-- The state and the operation ride along in the partial indexes, so that counting what is
-- pending never reads the rows themselves.
CREATE INDEX staging_sync ON staging (connector_id, id, sync_state) WHERE sync_state != 0;
CREATE INDEX staging_export ON staging (connector_id, id, export_op) WHERE export_op IS NOT NULL;

-- The directory: joined entries per enterprise; attrs keep the source of every value.
CREATE TABLE entries (
    id            INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL,
    object_type   TEXT NOT NULL,
    attrs         BLOB NOT NULL
);

-- Keys: a hash of (enterprise, attribute, normalized value) for the directory attributes that
-- join rules match on, and for the entries an entry refers to. Stale keys are deleted by value
-- (the engine knows an entry's old keys), so no second index is kept.
CREATE TABLE entry_keys (
    key_hash INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (key_hash, entry_id)
) WITHOUT ROWID;

-- Runs and their per-object outcomes (JSON arrays, written batch by batch).
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER,
    enterprise  TEXT NOT NULL,
    connector   TEXT,
    profile     TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    added       INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    errors      INTEGER NOT NULL DEFAULT 0,
    message     TEXT,
    status_file TEXT
);
CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE run_objects (
    run_id INTEGER NOT NULL,
    chunk  INTEGER NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, chunk)
) WITHOUT ROWID;
