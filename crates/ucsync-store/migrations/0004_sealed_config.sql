-- The configuration sealed with the secret key, which is kept outside the database
-- (docs/SECURITY.md): `sealed` is a random 12-byte nonce followed by the AES-256-GCM ciphertext
-- and tag of the TOML text, `key_id` the fingerprint of the key that sealed it (never the key).
-- The store never holds the configuration, or a secret in it, in clear.
--
-- The clear-text table of earlier versions stays as `config_clear` until the first open that has
-- a key seals its text, empties it, rewrites the file without the pages that held it (VACUUM,
-- then an emptied write-ahead log) and drops it. A schema version above 3 also keeps an older
-- ucsync from reading this store as if it were its own.
ALTER TABLE config RENAME TO config_clear;

CREATE TABLE config (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    cipher     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    updated_at TEXT NOT NULL
);
