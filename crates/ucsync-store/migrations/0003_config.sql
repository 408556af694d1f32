-- The configuration as data: one validated TOML document (enterprises, connectors, rules,
-- schedules), replaced whole by a file applied at start, the API or `ucsync config apply`.
CREATE TABLE config (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    text       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Per schedule, the slot it last fired for (RFC 3339), so that a restart after downtime owes at
-- most one catch-up run, and what became of that slot (the run it started, or why it skipped).
CREATE TABLE schedule_state (
    name      TEXT PRIMARY KEY,
    last_slot TEXT NOT NULL,
    run_id    INTEGER,
    note      TEXT
) WITHOUT ROWID;
