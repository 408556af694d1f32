//! The sealed configuration in the SQLite store: the `config` row holds the TOML text sealed
//! with the secret key ([`crate::secret_key`]), never the text itself. Here: reading and writing
//! the sealed row, choosing the key that opens it (and saying which one is needed when it is
//! missing or wrong), sealing the clear text an older build left when the store is opened,
//! rotating the key, and discarding a configuration whose key is lost.
//!
//! Whatever a secret once was in (a clear-text row of an older build, a row sealed with a key
//! rotated away) is removed from the file and its write-ahead log by rewriting them (VACUUM,
//! then a checkpoint that empties the log), since SQLite leaves replaced rows in free space.

use std::path::{Path, PathBuf};

use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, sql_err};
use crate::secret_key::{
    CIPHER, CREDENTIAL, KEY_ENV, KeyLocation, Rotated, SecretKey, SecretStatus,
};
use crate::{Result, StoreError};

/// Bound to every sealed configuration, so that a sealed value means nothing elsewhere.
const CONTEXT: &[u8] = b"ucsync stored configuration v1";

/// The stored `config` row.
pub(super) struct Sealed {
    pub key_id: String,
    pub blob: Vec<u8>,
}

/// The data directory of the store whose file is `db`.
pub(super) fn data_dir_of(db: &str) -> PathBuf {
    match Path::new(db).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

pub(super) async fn read_sealed(conn: &mut SqliteConnection) -> Result<Option<Sealed>> {
    let doing = "reading the configuration";
    let Some(row) = sqlx::query("SELECT cipher, key_id, sealed FROM config WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err(doing))?
    else {
        return Ok(None);
    };
    let cipher: String = row.try_get(0).map_err(sql_err(doing))?;
    if cipher != CIPHER {
        return Err(StoreError::Corrupt {
            doing,
            message: format!(
                "the configuration is sealed with {cipher}, which this build does not know; use the ucsync that wrote it"
            ),
        });
    }
    Ok(Some(Sealed {
        key_id: row.try_get(1).map_err(sql_err(doing))?,
        blob: row.try_get(2).map_err(sql_err(doing))?,
    }))
}

pub(super) async fn write_sealed(
    conn: &mut SqliteConnection,
    key: &SecretKey,
    text: &str,
) -> Result<()> {
    let blob = key.seal(text.as_bytes(), CONTEXT)?;
    sqlx::query(
        "INSERT INTO config (id, cipher, key_id, sealed, updated_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET cipher = excluded.cipher, key_id = excluded.key_id,
             sealed = excluded.sealed, updated_at = excluded.updated_at",
    )
    .bind(CIPHER)
    .bind(key.id())
    .bind(blob)
    .bind(jiff::Timestamp::now().to_string())
    .execute(&mut *conn)
    .await
    .map_err(sql_err("saving the configuration"))?;
    Ok(())
}

fn lost_key_help(id: &str) -> String {
    format!(
        "If no copy of key {id} is left, `ucsync secrets reset --discard-configuration` discards the stored configuration (staging spaces, directory and runs stay) so that you can apply your configuration file again."
    )
}

/// The key that opens a configuration sealed with key `id`. A rotation cut short after the
/// store was sealed with the new key, before the new key file replaced the old one, is finished
/// here.
pub(super) fn key_for(loc: &KeyLocation, id: &str, db: &str) -> Result<SecretKey> {
    let found = match loc.read()? {
        Some(key) if key.id() == id => return Ok(key),
        other => other.map(|k| k.id().to_owned()),
    };
    if loc.replaceable() {
        let pending = KeyLocation {
            path: loc.pending(),
            origin: loc.origin,
        };
        if let Ok(Some(key)) = pending.read()
            && key.id() == id
        {
            loc.install_pending()?;
            tracing::warn!(
                "finished a key rotation that was cut short: the secret key {loc} is now key {id}"
            );
            return Ok(key);
        }
    }
    let what = match found {
        None => format!("{loc} does not exist"),
        Some(other) => format!("{loc} holds key {other}"),
    };
    Err(StoreError::Secret(format!(
        "the configuration in {db} is sealed with secret key {id}, but {what}. Give ucsync the key it was sealed with: restore the key file from your backup (the key is backed up apart from the database), or point {KEY_ENV} at a copy of it; ucsync makes no new key while the store holds a configuration sealed with another. {}",
        lost_key_help(id)
    )))
}

/// The key to seal with when nothing is sealed yet: the key file, made on first use.
pub(super) fn key_for_new(loc: &KeyLocation) -> Result<SecretKey> {
    match loc.read()? {
        Some(key) => Ok(key),
        None => loc.create(),
    }
}

/// The configuration text `sealed` holds, opened with `key` (from `loc`).
pub(super) fn unseal(
    key: &SecretKey,
    sealed: &Sealed,
    db: &str,
    loc: &KeyLocation,
) -> Result<String> {
    let plain = key.open(&sealed.blob, CONTEXT).ok_or_else(|| {
        StoreError::Secret(format!(
            "the configuration in {db} is sealed with key {}, the key in {loc}, but does not open with it: the stored configuration is damaged. Restore {db} from a backup, or discard the stored configuration with `ucsync secrets reset --discard-configuration` and apply your configuration file again",
            key.id()
        ))
    })?;
    String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Corrupt {
        doing: "reading the configuration",
        message: "the opened configuration is not UTF-8 text".into(),
    })
}

/// Seals the clear-text configuration an older build left (`config_clear`, kept by migration
/// 4), then rewrites the file without it. Called when the store is opened; does nothing once
/// done. When the rewrite cannot be done now (another process reads the store), the text is
/// sealed already and the rewrite is tried again at the next open.
pub(super) async fn seal_clear_config(conn: &mut SqliteConnection, data_dir: &Path) -> Result<()> {
    let doing = "sealing the configuration of an earlier version";
    let table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'config_clear'",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql_err(doing))?;
    if table.is_none() {
        return Ok(());
    }
    let clear: Option<String> = sqlx::query_scalar("SELECT text FROM config_clear WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
    let db = data_dir
        .join(crate::data_dir::STORE_FILE)
        .display()
        .to_string();
    match clear.as_deref() {
        // Nothing was ever stored in clear (a new store): nothing to rewrite.
        None => {}
        // Sealed by an earlier open whose rewrite did not happen.
        Some("") => {}
        Some(text) => {
            let loc = KeyLocation::find(data_dir);
            let key = match read_sealed(conn).await? {
                Some(sealed) => key_for(&loc, &sealed.key_id, &db)?,
                None => key_for_new(&loc)?,
            };
            sqlx::raw_sql("BEGIN IMMEDIATE")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(doing))?;
            let sealed = async {
                if read_sealed(conn).await?.is_none() {
                    write_sealed(conn, &key, text).await?;
                }
                // Emptied, not dropped: an empty text says the rewrite below is still owed.
                sqlx::query("UPDATE config_clear SET text = ''")
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err(doing))?;
                Ok::<_, StoreError>(())
            }
            .await;
            end(conn, sealed, doing).await?;
            tracing::warn!(
                "{db}: the configuration an earlier ucsync stored in clear is now sealed with secret key {} ({loc}); back up that key apart from the database. The store file is rewritten once so that no copy in clear stays behind",
                key.id()
            );
        }
    }
    if clear.is_some()
        && let Err(e) = scrub(conn).await
    {
        tracing::warn!(
            "{db}: old pages that held the configuration in clear could not be removed yet ({e}); this is tried again the next time the store is opened"
        );
        return Ok(());
    }
    sqlx::raw_sql("DROP TABLE config_clear")
        .execute(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
    Ok(())
}

/// Commits on success, rolls back on failure.
async fn end(conn: &mut SqliteConnection, result: Result<()>, doing: &'static str) -> Result<()> {
    match result {
        Ok(()) => {
            sqlx::raw_sql("COMMIT")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(doing))?;
            Ok(())
        }
        Err(e) => {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// Rewrites the store's file without its free pages (VACUUM, through a temporary file rather
/// than memory) and empties the write-ahead log, so that no page a secret was once in stays
/// in either.
async fn scrub(conn: &mut SqliteConnection) -> Result<()> {
    let doing = "rewriting the store without old copies of the configuration";
    sqlx::raw_sql("PRAGMA temp_store = FILE")
        .execute(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
    let vacuum = sqlx::raw_sql("VACUUM")
        .execute(&mut *conn)
        .await
        .map_err(sql_err(doing));
    let _ = sqlx::raw_sql("PRAGMA temp_store = MEMORY")
        .execute(&mut *conn)
        .await;
    vacuum?;
    let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err(doing))?
        .try_get(0)
        .map_err(sql_err(doing))?;
    if busy != 0 {
        return Err(StoreError::Sql {
            doing,
            message:
                "another process is reading the store, so its write-ahead log could not be emptied"
                    .into(),
        });
    }
    Ok(())
}

impl SqliteStore {
    /// The directory the store's file is in.
    pub fn data_dir(&self) -> PathBuf {
        data_dir_of(self.path())
    }

    /// The key found for this store and the key its configuration is sealed with.
    pub async fn secret_status(&self) -> Result<SecretStatus> {
        let location = KeyLocation::find(&self.data_dir());
        let sealed = read_sealed(&mut *self.lock().await).await?;
        let (key, key_error) = match &sealed {
            Some(s) => match key_for(&location, &s.key_id, self.path()) {
                Ok(k) => (Some(k), None),
                Err(e) => (location.read().ok().flatten(), Some(e.to_string())),
            },
            None => match location.read() {
                Ok(k) => (k, None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let opens = match (&sealed, &key) {
            (None, _) => key_error.is_none(),
            (Some(s), Some(k)) => k.id() == s.key_id && k.open(&s.blob, CONTEXT).is_some(),
            (Some(_), None) => false,
        };
        Ok(SecretStatus {
            location,
            key_id: key.map(|k| k.id().to_owned()),
            key_error,
            sealed_with: sealed.map(|s| s.key_id),
            opens,
        })
    }

    /// Seals the stored configuration with a new key (from `new_key_file`, else random) in one
    /// transaction, then replaces the key file: the new key is written beside it and synced
    /// first, the transaction is made durable before the rename, and a `.new` left by a crash
    /// in between is taken up by the next read ([`key_for`]), so no moment leaves the secrets
    /// sealed with a key that no file holds. Finally the file is rewritten without what the old
    /// key sealed. A systemd credential is not replaced: the caller installs the new key.
    pub async fn rotate_secret_key(&self, new_key_file: Option<&Path>) -> Result<Rotated> {
        let doing = "sealing the configuration with the new key";
        let location = KeyLocation::find(&self.data_dir());
        let mut conn = self.lock().await;
        let sealed = read_sealed(&mut conn).await?;
        let current = match &sealed {
            Some(s) => Some(key_for(&location, &s.key_id, self.path())?),
            None => location.read()?,
        };
        let new = match new_key_file {
            Some(path) => SecretKey::read_file(path)?,
            None if !location.replaceable() => {
                return Err(StoreError::Secret(format!(
                    "the secret key is {location}, which ucsync cannot replace: make a new key (`head -c 32 /dev/urandom > new.key`), run `ucsync secrets rotate-key --new-key-file new.key`, then install new.key as the service's credential {CREDENTIAL} before it starts again"
                )));
            }
            None => SecretKey::generate()?,
        };
        if current.as_ref().is_some_and(|k| k.id() == new.id()) {
            return Err(StoreError::Secret(format!(
                "the new key {} is the key in use already; give another",
                new.id()
            )));
        }
        let text = match (&sealed, &current) {
            (Some(s), Some(old)) => Some(unseal(old, s, self.path(), &location)?),
            _ => None,
        };
        let installed = location.replaceable();
        if installed {
            location.write_pending(&new)?;
        }
        if let Some(text) = text {
            // This commit must be on disk before the key file is replaced.
            sqlx::raw_sql("PRAGMA synchronous = FULL")
                .execute(&mut *conn)
                .await
                .map_err(sql_err(doing))?;
            let resealed = async {
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err(doing))?;
                let written = write_sealed(&mut conn, &new, &text).await;
                end(&mut conn, written, doing).await
            }
            .await;
            let _ = sqlx::raw_sql("PRAGMA synchronous = NORMAL")
                .execute(&mut *conn)
                .await;
            resealed?;
        }
        if installed {
            location.install_pending()?;
        }
        if sealed.is_some() {
            scrub(&mut conn).await?;
        }
        Ok(Rotated {
            location,
            old_id: current.map(|k| k.id().to_owned()),
            new_id: new.id().to_owned(),
            installed,
            resealed: sealed.is_some(),
        })
    }

    /// Forgets the stored configuration (after its key is lost for good): the next one applied
    /// is sealed with the key found then. True when there was one.
    pub async fn discard_sealed_config(&self) -> Result<bool> {
        let mut conn = self.lock().await;
        let done = sqlx::query("DELETE FROM config WHERE id = 1")
            .execute(&mut *conn)
            .await
            .map_err(sql_err("discarding the configuration"))?;
        Ok(done.rows_affected() > 0)
    }
}
