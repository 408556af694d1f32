//! The embedded SQLite store: one file `ucsync.db` in the data directory, WAL journal, one
//! writing connection (ucsync runs one writer at a time) and one reading connection for the
//! sync's lookups, numbered migrations applied on open.

mod admins;
mod audit;
mod bulk;
mod changes;
mod config;
mod directory;
mod errors;
mod held_keys;
mod runs;
mod secrets;
mod staging;
mod stats;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard, OwnedMutexGuard};

use crate::{CatalogStore, ConnectorRow, FullMark, FullStep, Result, Store, StoreError};

/// The numbered migrations, in order. A database is upgraded from its version to the last one
/// on open; a database newer than this build is refused.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_admins.sql"),
    include_str!("../../migrations/0003_config.sql"),
    include_str!("../../migrations/0004_sealed_config.sql"),
    include_str!("../../migrations/0005_linked_pending_sync.sql"),
    include_str!("../../migrations/0006_rules_fingerprint.sql"),
    include_str!("../../migrations/0007_audit.sql"),
    include_str!("../../migrations/0008_object_errors.sql"),
    include_str!("../../migrations/0009_directory_changes.sql"),
    include_str!("../../migrations/0010_runs_latest.sql"),
    include_str!("../../migrations/0011_runs_history.sql"),
];
pub use changes::TOMBSTONE_DAYS;
pub const LAST_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// SQLite allows 32766 bound values per statement.
pub(crate) const MAX_VARS: usize = 32_000;

/// Runs `sql` once per chunk of `values`, the chunk bound as `(?, ?, …)` in place of `{list}`,
/// after `first` when given; returns every row.
pub(crate) async fn fetch_in<T>(
    conn: &mut SqliteConnection,
    sql: &str,
    first: Option<i64>,
    values: &[T],
    doing: &'static str,
) -> Result<Vec<sqlx::sqlite::SqliteRow>>
where
    T: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Clone + Send + 'static,
{
    let mut out = Vec::new();
    for chunk in values.chunks(MAX_VARS - 1) {
        let sql = sql.replace("{list}", &vec!["?"; chunk.len()].join(","));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(f) = first {
            q = q.bind(f);
        }
        for v in chunk {
            q = q.bind(v.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await.map_err(sql_err(doing))?);
    }
    Ok(out)
}

/// How long a statement waits for another process's lock on the file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What a store and its preview sessions share.
struct Shared {
    /// How connections to the file are opened (a preview session opens its own).
    options: SqliteConnectOptions,
    path: String,
    /// Held by every write of the store, and by a preview session for its whole life: SQLite
    /// has one writer at a time, so runs wait for a preview to end instead of failing with a
    /// busy database.
    gate: Arc<Mutex<()>>,
    /// The id the next directory entry gets ([`crate::DirectoryStore::reserve_entry_ids`]):
    /// runs of several enterprises take ranges of it at the same time.
    next_entry_id: Mutex<i64>,
}

/// What makes a store a preview session.
struct Session {
    /// The writing gate, held until the session ends.
    gate: std::sync::Mutex<Option<OwnedMutexGuard<()>>>,
}

pub struct SqliteStore {
    /// The writing connection; a preview session's only connection.
    conn: Mutex<SqliteConnection>,
    /// Reads the last committed state while a batch is being written on `conn` (WAL lets
    /// readers and one writer work at once). `None` in a preview session, which reads through
    /// its own connection to see its own writes.
    reader: Option<Mutex<SqliteConnection>>,
    shared: Arc<Shared>,
    session: Option<Session>,
    /// Join keys of large syncs not yet written, per enterprise
    /// ([`crate::DirectoryStore::hold_keys`]).
    held: std::sync::Mutex<HashMap<i64, held_keys::HeldKeys>>,
}

pub(crate) fn sql_err(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| StoreError::Sql {
        doing,
        message: e.to_string(),
    }
}

/// The writing connection, held for one write: with the store's writing gate, except in a
/// preview session, which holds the gate for its whole life.
pub(crate) struct Writer<'a> {
    _gate: Option<MutexGuard<'a, ()>>,
    conn: MutexGuard<'a, SqliteConnection>,
}

impl std::ops::Deref for Writer<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        let open_err = |message: String| StoreError::Open {
            path: data_dir.display().to_string(),
            message,
        };
        // Made (or tightened) private to this user, with ucsync.db 0600 before SQLite opens it.
        crate::data_dir::prepare_store(data_dir)
            .map_err(|e| open_err(format!("cannot create the data directory: {e}")))?;
        let file = data_dir.join("ucsync.db");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            // SQLite's own page cache, per connection. The file's pages are also in the
            // system's page cache, so a miss costs a copy, not a disk read; a large cache costs
            // fresh memory, which this kind of machine makes slow to touch the first time (a
            // cache of 256 MiB made a 1M sync a sixth slower than one of 16 MiB).
            .pragma("cache_size", "-16384")
            // Checkpoints every 128 MiB of WAL rather than 32: a page a run writes again and
            // again (an index's upper levels, a table's last page) is copied to the file once
            // per checkpoint. A peer's first sync of 100k contacts: sync step 15% faster, the
            // whole sync-now 7%; a 1M CSV sync within the noise.
            .pragma("wal_autocheckpoint", "32768")
            .pragma("temp_store", "memory")
            // Rows of a page wait in the channel from SQLite's thread instead of handing over
            // one by one: with sqlx's 50, every row of a 10,000-row page woke the other thread.
            .row_buffer_size(16_384)
            .foreign_keys(false);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| open_err(e.to_string()))?;
        migrate(&mut conn, &file.display().to_string()).await?;
        secrets::seal_clear_config(&mut conn, data_dir).await?;
        let reader = SqliteConnection::connect_with(
            &options
                .clone()
                .pragma("cache_size", "-8192")
                .pragma("query_only", "1"),
        )
        .await
        .map_err(|e| open_err(e.to_string()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            reader: Some(Mutex::new(reader)),
            shared: Arc::new(Shared {
                options,
                path: file.display().to_string(),
                gate: Arc::new(Mutex::new(())),
                next_entry_id: Mutex::new(1),
            }),
            session: None,
            held: std::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// Copies what the write-ahead log holds into `ucsync.db` and empties the log, so that the
    /// file alone holds the whole store: a copy of it taken while nothing runs (a backup) misses
    /// nothing, and the next process does not read the log again when it opens the store. Waits
    /// a second at most for the readers of other processes (a long read must not hold a command
    /// back from ending); `false` when one still held part of the log, which then stays for the
    /// next checkpoint. A preview session has nothing of its own to fold: `true` at once.
    pub async fn checkpoint(&self) -> Result<bool> {
        if self.session.is_some() {
            return Ok(true);
        }
        let doing = "writing the write-ahead log into the database file";
        let mut conn = self.lock().await;
        sqlx::raw_sql("PRAGMA busy_timeout = 1000")
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
        let busy = sqlx::query_scalar::<_, i64>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err(doing));
        let restore = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
        let restored = sqlx::raw_sql(sqlx::AssertSqlSafe(restore))
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing));
        let busy = busy?;
        restored?;
        Ok(busy == 0)
    }

    /// The writing connection for a write (or a read that must see this store's own writes).
    pub(crate) async fn lock(&self) -> Writer<'_> {
        let gate = match self.session {
            Some(_) => None,
            None => Some(self.shared.gate.lock().await),
        };
        Writer {
            _gate: gate,
            conn: self.conn.lock().await,
        }
    }

    /// The connection for reads: the reader, which sees the last committed state; in a preview
    /// session, its own connection, which also sees the session's writes.
    pub(crate) async fn read_lock(&self) -> MutexGuard<'_, SqliteConnection> {
        match &self.reader {
            Some(reader) => reader.lock().await,
            None => self.conn.lock().await,
        }
    }

    /// The keys held during large syncs, per enterprise.
    pub(crate) fn held(&self) -> std::sync::MutexGuard<'_, HashMap<i64, held_keys::HeldKeys>> {
        // Nothing panics while holding it; a poisoned lock still holds whole pairs.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a write: a transaction, or a savepoint inside a preview session's transaction.
    ///
    /// The statements that write many rows inside it say `OR FAIL`: a failed statement keeps
    /// the rows it already wrote, which costs nothing here because [`SqliteStore::finish`] rolls
    /// the whole write back on any error. With the default (`ABORT`), SQLite would copy every
    /// page such a statement touches into a statement journal first, in case it must undo the
    /// statement alone: for an export of a million objects, hundreds of megabytes of memory.
    pub(crate) async fn begin(&self, conn: &mut SqliteConnection) -> Result<()> {
        let sql = if self.session.is_some() {
            "SAVEPOINT batch"
        } else {
            "BEGIN IMMEDIATE"
        };
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("starting a transaction"))?;
        Ok(())
    }

    pub(crate) async fn finish<T>(
        &self,
        conn: &mut SqliteConnection,
        result: Result<T>,
    ) -> Result<T> {
        let session = self.session.is_some();
        match result {
            Ok(v) => {
                let sql = if session { "RELEASE batch" } else { "COMMIT" };
                sqlx::raw_sql(sql)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("committing a batch"))?;
                Ok(v)
            }
            Err(e) => {
                let sql = if session {
                    "ROLLBACK TO batch; RELEASE batch"
                } else {
                    "ROLLBACK"
                };
                let _ = sqlx::raw_sql(sql).execute(&mut *conn).await;
                Err(e)
            }
        }
    }
}

async fn migrate(conn: &mut SqliteConnection, path: &str) -> Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await
        .map_err(sql_err("reading the schema version"))?;
    let found: Option<i64> = sqlx::query("SELECT MAX(version) FROM schema_version")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("reading the schema version"))?
        .try_get(0)
        .map_err(sql_err("reading the schema version"))?;
    let found = found.unwrap_or(0);
    if found > LAST_SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            supported: LAST_SCHEMA_VERSION,
        });
    }
    for (i, &sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let mut tx = conn
            .begin()
            .await
            .map_err(sql_err("upgrading the schema"))?;
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(sql_err("upgrading the schema"))?;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(sql_err("upgrading the schema"))?;
        tx.commit().await.map_err(sql_err("upgrading the schema"))?;
        tracing::info!(version, "store schema upgraded");
    }
    Ok(())
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn ensure_enterprise(&self, name: &str) -> Result<i64> {
        let mut conn = self.lock().await;
        sqlx::query("INSERT INTO enterprises (name) VALUES (?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("recording an enterprise"))?;
        sqlx::query("SELECT id FROM enterprises WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err("reading an enterprise"))?
            .try_get(0)
            .map_err(sql_err("reading an enterprise"))
    }

    async fn ensure_connector(
        &self,
        name: &str,
        enterprise_id: i64,
        kind: &str,
    ) -> Result<ConnectorRow> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO connectors (name, enterprise_id, kind) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET enterprise_id = excluded.enterprise_id, kind = excluded.kind",
        )
        .bind(name)
        .bind(enterprise_id)
        .bind(kind)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("recording a connector"))?;
        let row = sqlx::query(
            "SELECT id, name, enterprise_id, kind, watermark, import_fingerprint, sync_fingerprint, full_import_unfinished, full_sync_unfinished, export_fingerprint FROM connectors WHERE name = ?",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("reading a connector"))?;
        connector_row(&row)
    }

    async fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT id, name, enterprise_id, kind, watermark, import_fingerprint, sync_fingerprint, full_import_unfinished, full_sync_unfinished, export_fingerprint FROM connectors ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("listing connectors"))?;
        rows.iter().map(connector_row).collect()
    }

    async fn remove_connector(&self, name: &str) -> Result<()> {
        let doing = "removing a connector";
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            sqlx::query(
                "DELETE FROM staging WHERE connector_id IN (SELECT id FROM connectors WHERE name = ?)",
            )
            .bind(name)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            sqlx::query(
                "DELETE FROM object_errors WHERE connector_id IN (SELECT id FROM connectors WHERE name = ?)",
            )
            .bind(name)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            sqlx::query("DELETE FROM connectors WHERE name = ?")
                .bind(name)
                .execute(&mut *conn)
                .await
                .map_err(sql_err(doing))?;
            Ok(())
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn record_full_step(
        &self,
        connector_id: i64,
        step: FullStep,
        mark: FullMark<'_>,
    ) -> Result<()> {
        let (fingerprint, unfinished) = match step {
            FullStep::Import => ("import_fingerprint", "full_import_unfinished"),
            FullStep::Sync => ("sync_fingerprint", "full_sync_unfinished"),
            FullStep::Export => ("export_fingerprint", ""),
        };
        let (sql, value) = match mark {
            // An image export is written whole or not at all.
            FullMark::Started if unfinished.is_empty() => return Ok(()),
            FullMark::Started => (
                format!("UPDATE connectors SET {unfinished} = 1 WHERE id = ?"),
                None,
            ),
            FullMark::Finished(f) if unfinished.is_empty() => (
                format!("UPDATE connectors SET {fingerprint} = ? WHERE id = ?"),
                Some(f),
            ),
            FullMark::Finished(f) => (
                format!("UPDATE connectors SET {fingerprint} = ?, {unfinished} = 0 WHERE id = ?"),
                Some(f),
            ),
            FullMark::Adopted(f) => (
                format!(
                    "UPDATE connectors SET {fingerprint} = ? WHERE id = ? AND {fingerprint} IS NULL"
                ),
                Some(f),
            ),
        };
        let mut conn = self.lock().await;
        // Only the column names are put in, and they are this function's own constants.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(f) = value {
            query = query.bind(f);
        }
        query
            .bind(connector_id)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("recording a connector's full import or sync"))?;
        Ok(())
    }
}

fn connector_row(row: &sqlx::sqlite::SqliteRow) -> Result<ConnectorRow> {
    let e = sql_err("reading a connector");
    (|| {
        Ok::<_, sqlx::Error>(ConnectorRow {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            enterprise_id: row.try_get(2)?,
            kind: row.try_get(3)?,
            watermark: row.try_get(4)?,
            import_fingerprint: row.try_get(5)?,
            sync_fingerprint: row.try_get(6)?,
            full_import_unfinished: row.try_get::<i64, _>(7)? != 0,
            full_sync_unfinished: row.try_get::<i64, _>(8)? != 0,
            export_fingerprint: row.try_get(9)?,
        })
    })()
    .map_err(e)
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_preview(&self) -> Result<Arc<dyn Store>> {
        if self.session.is_some() {
            return Err(StoreError::Sql {
                doing: "starting a preview",
                message: "a preview cannot start another preview".into(),
            });
        }
        // Waits for the write in progress (a batch of another run) to commit; runs then wait
        // for the preview to end.
        let gate = self.shared.gate.clone().lock_owned().await;
        let mut conn = SqliteConnection::connect_with(&self.shared.options)
            .await
            .map_err(sql_err("starting a preview"))?;
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .map_err(sql_err("starting a preview"))?;
        Ok(Arc::new(SqliteStore {
            conn: Mutex::new(conn),
            reader: None,
            shared: self.shared.clone(),
            session: Some(Session {
                gate: std::sync::Mutex::new(Some(gate)),
            }),
            held: std::sync::Mutex::new(HashMap::new()),
        }))
    }

    async fn end_preview(&self) -> Result<()> {
        let Some(session) = &self.session else {
            return Err(StoreError::Sql {
                doing: "ending a preview",
                message: "this store is not a preview session".into(),
            });
        };
        let mut conn = self.conn.lock().await;
        // Rolled back, and read-only from now on: a write after the end can never commit.
        let result = sqlx::raw_sql("ROLLBACK; PRAGMA query_only = 1")
            .execute(&mut *conn)
            .await
            .map_err(sql_err("ending a preview"));
        drop(conn);
        session
            .gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        result.map(|_| ())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests_changes;
