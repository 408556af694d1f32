//! The directory in SQLite: entries, join keys, and the sync batch that changes them together
//! with links and pending exports.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use ucsync_model::EntryAttrs;

use super::bulk::write_rows;
use super::held_keys::HeldKeys;
use super::runs::write_outcomes;
use super::staging::{exec_for_ids, insert_staged, write_staged};
use super::{SqliteStore, fetch_in, sql_err};
use crate::types::*;
use crate::{DirectoryStore, Result, StoreError};

/// A page of an enterprise's entries in id order. `+enterprise_id` keeps SQLite from reading
/// the enterprise's entries through the `entries_changes` index and sorting all of them for
/// every page: the rowid is walked from `id`, and a page costs its own rows.
pub(super) const ENTRIES_PAGE: &str = "SELECT id, enterprise_id, object_type, attrs FROM entries \
     WHERE +enterprise_id = ? AND id > ? ORDER BY id LIMIT ?";

/// Adds (key, entry) pairs to the key index.
async fn insert_keys(conn: &mut sqlx::SqliteConnection, keys: &[(i64, i64)]) -> Result<()> {
    let sql = (
        "INSERT OR IGNORE INTO entry_keys (key_hash, entry_id) VALUES ",
        "(?, ?)",
        "",
    );
    write_rows(conn, keys, sql, "indexing keys", |v, (k, id)| {
        v.add(*k).add(*id);
    })
    .await
}

fn entry_from_row(row: &SqliteRow) -> Result<Entry> {
    let doing = "reading a directory entry";
    let (id, enterprise_id, object_type, attrs): (i64, i64, String, &[u8]) = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
        ))
    })()
    .map_err(sql_err(doing))?;
    let attrs = EntryAttrs::decode(attrs).map_err(|e| StoreError::Corrupt {
        doing,
        message: format!("entry {id}: {e}"),
    })?;
    Ok(Entry {
        id,
        enterprise_id,
        object_type,
        attrs,
    })
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    async fn directory_changes(
        &self,
        enterprise_id: i64,
        after: Option<(i64, i64)>,
        types: &[&str],
        limit: usize,
    ) -> Result<DirectoryChanges> {
        self.read_changes(enterprise_id, after, types, limit).await
    }

    async fn reserve_entry_ids(&self, count: i64) -> Result<i64> {
        // Past every id handed out by this process, every id committed (or written by this
        // preview session) and every id deleted: ranges taken by runs at the same time never
        // meet, and an id names one entry forever.
        let mut next = self.shared.next_entry_id.lock().await;
        let stored = {
            let mut conn = self.read_lock().await;
            super::changes::next_entry_id(&mut conn).await?
        };
        let first = (*next).max(stored);
        *next = first + count.max(0);
        Ok(first)
    }

    async fn entries_by_ids(&self, ids: &[i64]) -> Result<Vec<Entry>> {
        let mut conn = self.read_lock().await;
        let sql = "SELECT id, enterprise_id, object_type, attrs FROM entries WHERE id IN ({list})";
        let rows = fetch_in(&mut conn, sql, None, ids, "reading directory entries").await?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn entries_by_keys(&self, key_hashes: &[i64]) -> Result<Vec<(i64, i64)>> {
        let doing = "looking up join keys";
        let mut conn = self.read_lock().await;
        let sql = "SELECT key_hash, entry_id FROM entry_keys WHERE key_hash IN ({list})";
        let rows = fetch_in(&mut conn, sql, None, key_hashes, doing).await?;
        drop(conn);
        let mut found = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(sql_err(doing))?,
                    row.try_get(1).map_err(sql_err(doing))?,
                ))
            })
            .collect::<Result<Vec<(i64, i64)>>>()?;
        // Keys hash their enterprise in, so every enterprise's held keys can be asked.
        let held = self.held();
        if !held.is_empty() {
            for keys in held.values() {
                for key in key_hashes {
                    keys.find(*key, &mut found);
                }
            }
            found.sort_unstable();
            found.dedup();
        }
        Ok(found)
    }

    async fn entries_page(
        &self,
        enterprise_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Entry>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(ENTRIES_PAGE)
            .bind(enterprise_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("reading directory entries"))?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn count_entries(&self, enterprise_id: i64) -> Result<i64> {
        let mut conn = self.read_lock().await;
        sqlx::query("SELECT COUNT(*) FROM entries WHERE enterprise_id = ?")
            .bind(enterprise_id)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err("counting directory entries"))?
            .try_get(0)
            .map_err(sql_err("counting directory entries"))
    }

    async fn key_spec(&self, enterprise_id: i64) -> Result<Option<String>> {
        let mut conn = self.read_lock().await;
        sqlx::query("SELECT key_spec FROM enterprises WHERE id = ?")
            .bind(enterprise_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err("reading the key spec"))?
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()
            .map(Option::flatten)
            .map_err(sql_err("reading the key spec"))
    }

    async fn clear_keys(&self, enterprise_id: i64) -> Result<()> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            sqlx::query("UPDATE enterprises SET key_spec = NULL WHERE id = ?")
                .bind(enterprise_id)
                .execute(&mut *conn)
                .await
                .map_err(sql_err("clearing keys"))?;
            sqlx::query("DELETE FROM entry_keys WHERE entry_id IN (SELECT id FROM entries WHERE enterprise_id = ?)")
                .bind(enterprise_id)
                .execute(&mut *conn)
                .await
                .map_err(sql_err("clearing keys"))?;
            Ok(())
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn hold_keys(&self, enterprise_id: i64) -> Result<()> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = sqlx::query("UPDATE enterprises SET key_spec = NULL WHERE id = ?")
            .bind(enterprise_id)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("holding join keys"));
        self.finish(&mut conn, result).await?;
        self.held().insert(enterprise_id, HeldKeys::default());
        Ok(())
    }

    async fn write_held_keys(&self, enterprise_id: i64, spec: &str) -> Result<()> {
        let Some(held) = self.held().remove(&enterprise_id) else {
            return Ok(());
        };
        self.add_keys(enterprise_id, &held.into_sorted(), Some(spec))
            .await
    }

    async fn add_keys(
        &self,
        enterprise_id: i64,
        keys: &[(i64, i64)],
        spec: Option<&str>,
    ) -> Result<()> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            insert_keys(&mut conn, keys).await?;
            if let Some(spec) = spec {
                sqlx::query("UPDATE enterprises SET key_spec = ? WHERE id = ?")
                    .bind(spec)
                    .bind(enterprise_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("recording the key spec"))?;
            }
            Ok(())
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn edit_hand_set(&self, entry_id: i64, attr: &str, edit: HandEdit) -> Result<HandEdited> {
        let doing = "changing a hand-set value";
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            let row = sqlx::query(
                "SELECT id, enterprise_id, object_type, attrs FROM entries WHERE id = ?",
            )
            .bind(entry_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            let Some(row) = row else {
                return Ok(HandEdited::NoEntry);
            };
            let mut entry = entry_from_row(&row)?;
            let current: Vec<String> = match entry.attrs.source(attr) {
                Some(None) => entry.attrs.get(attr).to_vec(),
                _ => Vec::new(),
            };
            let values = match edit(&current) {
                Ok(v) => v,
                Err(message) => return Ok(HandEdited::Refused(message)),
            };
            entry.attrs.set(attr, None, values);
            let seq = super::changes::next_seq(&mut conn).await?;
            sqlx::query("UPDATE entries SET attrs = ?, change_seq = ? WHERE id = ?")
                .bind(entry.attrs.encode())
                .bind(seq)
                .bind(entry_id)
                .execute(&mut *conn)
                .await
                .map_err(sql_err(doing))?;
            // An object its source no longer has (one the number-retention rule keeps linked)
            // is looked at again as deleted in the source; the others as changed.
            sqlx::query(
                "UPDATE staging SET sync_state = CASE WHEN attrs IS NULL AND export_op IS NULL \
                 THEN 2 ELSE 1 END WHERE entry_id = ? AND sync_state = 0",
            )
            .bind(entry_id)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            Ok(HandEdited::Done(entry))
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn apply_sync_batch(&self, batch: SyncBatch) -> Result<()> {
        let keys: Vec<(i64, i64)> = batch
            .entries
            .iter()
            .flat_map(|e| e.keys.iter().map(move |k| (*k, e.id)))
            .collect();
        let enterprise = batch.enterprise_id;
        let held = self.held().contains_key(&enterprise);
        let stale = if held {
            batch.stale_keys.clone()
        } else {
            Vec::new()
        };
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            let (new, changed): (Vec<EntryWrite>, Vec<EntryWrite>) =
                batch.entries.into_iter().partition(|e| e.is_new);
            // The change every entry this batch writes or deletes is numbered with.
            let seq = if new.is_empty() && changed.is_empty() && batch.deleted_entries.is_empty() {
                0
            } else {
                super::changes::next_seq(&mut conn).await?
            };
            // The number is bound, not written into the SQL: a statement's text is the same in
            // every batch, so SQLite parses it once (a 1,000-row statement written anew for
            // each number was parsed again in each batch).
            let sql = (
                "INSERT OR FAIL INTO entries (id, enterprise_id, object_type, attrs, change_seq) VALUES ",
                "(?, ?, ?, ?, ?)",
                "",
            );
            write_rows(&mut conn, new, sql, "adding directory entries", |v, e| {
                v.add(e.id)
                    .add(e.enterprise_id)
                    .add(e.object_type)
                    .add(e.attrs)
                    .add(seq);
            })
            .await?;
            let sql = (
                "UPDATE OR FAIL entries SET object_type = v.column2, attrs = v.column3, \
                 change_seq = (SELECT change_seq FROM store_meta) FROM (VALUES ",
                "(?, ?, ?)",
                ") AS v WHERE entries.id = v.column1",
            );
            write_rows(&mut conn, changed, sql, "updating directory entries", |v, e| {
                v.add(e.id).add(e.object_type).add(e.attrs);
            })
            .await?;
            let sql = (
                "DELETE FROM entry_keys WHERE (key_hash, entry_id) IN (VALUES ",
                "(?, ?)",
                ")",
            );
            write_rows(&mut conn, batch.stale_keys, sql, "removing stale keys", |v, (k, e)| {
                v.add(k).add(e);
            })
            .await?;
            if !held {
                insert_keys(&mut conn, &keys).await?;
            }
            super::changes::tombstones(&mut conn, seq, &batch.deleted_entries).await?;
            exec_for_ids(
                &mut conn,
                "DELETE FROM entries WHERE id IN ({ids})",
                &batch.deleted_entries,
                "deleting directory entries",
            )
            .await?;
            // Objects the sync took without error, and deletions it processed: their errors
            // are over (before the rows of the deletions go).
            let fine: Vec<i64> = batch
                .staged
                .iter()
                .filter(|w| w.sync_error.is_none())
                .map(|w| w.id)
                .collect();
            super::errors::clear_staged(&mut conn, &[ErrorStep::Sync], &fine).await?;
            // A pending export replaced or dropped: the error of the old one is over (as
            // `export_error` is cleared with it).
            let exports: Vec<i64> = batch
                .staged
                .iter()
                .filter(|w| w.export.is_some())
                .map(|w| w.id)
                .collect();
            super::errors::clear_staged(&mut conn, &[ErrorStep::Export], &exports).await?;
            super::errors::clear_staged(
                &mut conn,
                &[ErrorStep::Sync, ErrorStep::Export],
                &batch.staged_deletes,
            )
            .await?;
            let provisioned: Vec<(i64, i64)> = batch
                .staged_inserts
                .iter()
                .map(|i| (i.connector_id, i.entry_id))
                .collect();
            super::errors::clear_provisioned(&mut conn, provisioned).await?;
            super::errors::clear_deleted_entries(&mut conn, &batch.deleted_entries).await?;
            write_staged(&mut conn, batch.staged).await?;
            insert_staged(&mut conn, batch.staged_inserts).await?;
            exec_for_ids(
                &mut conn,
                "DELETE FROM staging WHERE id IN ({ids})",
                &batch.staged_deletes,
                "removing processed deletions",
            )
            .await?;
            super::errors::write_sync_outcomes(&mut conn, &batch.outcomes).await?;
            write_outcomes(&mut conn, &batch.outcomes).await
        }
        .await;
        self.finish(&mut conn, result).await?;
        if let Some(h) = self.held().get_mut(&enterprise) {
            // Committed: what the batch removed and added now holds, in that order.
            for (k, e) in stale {
                h.remove(k, e);
            }
            for (k, e) in keys {
                h.add(k, e);
            }
        }
        Ok(())
    }
}
