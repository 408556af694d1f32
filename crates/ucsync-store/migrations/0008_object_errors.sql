-- Outstanding per-object errors: an object a step rejected stays listed here, per connector and
-- step, until the object is imported, synced or exported without error, is deleted in the
-- source, or a full step of that connector no longer reports it; a delta run that does not see
-- the object leaves it. Written in the transaction of the batch that found or cleared it.
-- step: import, sync or export. object: the anchor; for a record without one, where it is
-- (`line 12`), with anchored = 0. name: how an administrator finds the object (a DN, a key).
-- line: the file line, for files. first_run / last_run: the runs that first and last reported it.
-- The step leads the key: every batch first asks whether any error of its step is outstanding.
CREATE TABLE object_errors (
    connector_id INTEGER NOT NULL,
    step         TEXT NOT NULL,
    object       TEXT NOT NULL,
    anchored     INTEGER NOT NULL DEFAULT 1,
    name         TEXT NOT NULL,
    line         INTEGER,
    message      TEXT NOT NULL,
    first_run    INTEGER NOT NULL,
    last_run     INTEGER NOT NULL,
    PRIMARY KEY (step, connector_id, object)
) WITHOUT ROWID;
