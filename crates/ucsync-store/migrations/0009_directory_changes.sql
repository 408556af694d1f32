-- What peers read: every directory entry remembers the change that last wrote it, and every
-- deleted entry leaves a tombstone, so that a peer's cursor (generation, change, entry) pages
-- through what changed since, at a cost that follows the changes.
-- generation: made once, when the store is created; a cursor of another store (replaced,
-- restored from elsewhere) names another one and starts over. change_seq: the last change
-- numbered; each batch that writes entries takes the next one. trimmed_seq: tombstones up to
-- this change were trimmed, so an older cursor starts over. deleted_id_high: the highest id of
-- a deleted entry; no new entry gets an id at or below it, so an id names one entry forever.
CREATE TABLE store_meta (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    generation       TEXT NOT NULL,
    change_seq       INTEGER NOT NULL DEFAULT 0,
    trimmed_seq      INTEGER NOT NULL DEFAULT 0,
    deleted_id_high  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO store_meta (id, generation) VALUES (1, lower(hex(randomblob(16))));

-- Entries from before this migration count as change 0.
ALTER TABLE entries ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX entries_changes ON entries (enterprise_id, change_seq, id);

CREATE TABLE entry_tombstones (
    enterprise_id INTEGER NOT NULL,
    change_seq    INTEGER NOT NULL,
    entry_id      INTEGER NOT NULL,
    deleted_at    TEXT NOT NULL,
    PRIMARY KEY (enterprise_id, change_seq, entry_id)
) WITHOUT ROWID;
CREATE INDEX entry_tombstones_age ON entry_tombstones (deleted_at);

-- An administrator bound to one enterprise (the peer role reads only that one's feed).
ALTER TABLE admins ADD COLUMN enterprise TEXT;
