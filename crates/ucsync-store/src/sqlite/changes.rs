//! The directory's changes as peers read them: each batch that writes entries numbers its
//! change (`store_meta.change_seq`), every entry keeps the number of the change that last wrote
//! it, and a deleted entry leaves a tombstone. A page is what changed after a (change, entry)
//! position, in that order, through the `entries_changes` index: its cost follows the changes.

use sqlx::{Row, SqliteConnection};

use ucsync_model::EntryAttrs;

use super::{SqliteStore, sql_err};
use crate::{DirectoryChange, DirectoryChanges, Entry, Result, StoreError};

/// How long tombstones are kept; a cursor older than the oldest kept one starts over.
pub const TOMBSTONE_DAYS: u32 = 30;

/// Numbers the next change (in the caller's transaction).
pub(crate) async fn next_seq(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar("UPDATE store_meta SET change_seq = change_seq + 1 RETURNING change_seq")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("numbering a directory change"))
}

/// The id after the highest one ever given: of the entries, and of every entry deleted. An id
/// names one entry forever, so a peer never takes a newcomer for a deleted entry (reading both
/// in one delta, it would delete the newcomer).
pub(crate) async fn next_entry_id(conn: &mut SqliteConnection) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT max(COALESCE((SELECT MAX(id) FROM entries), 0), \
         (SELECT deleted_id_high FROM store_meta)) + 1",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(sql_err("allocating entry ids"))
}

/// Leaves a tombstone, numbered `seq`, for each of the entries `ids` about to be deleted, and
/// trims those older than [`TOMBSTONE_DAYS`].
pub(crate) async fn tombstones(conn: &mut SqliteConnection, seq: i64, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let doing = "recording deleted directory entries";
    super::staging::exec_for_ids(
        conn,
        &format!(
            "INSERT OR IGNORE INTO entry_tombstones (enterprise_id, change_seq, entry_id, deleted_at) \
             SELECT enterprise_id, {seq}, id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM entries WHERE id IN ({{ids}})"
        ),
        ids,
        doing,
    )
    .await?;
    let highest = ids.iter().copied().max().unwrap_or(0);
    sqlx::query("UPDATE store_meta SET deleted_id_high = max(deleted_id_high, ?)")
        .bind(highest)
        .execute(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
    let trimmed: Option<i64> = sqlx::query_scalar(
        "DELETE FROM entry_tombstones WHERE deleted_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?) \
         RETURNING change_seq",
    )
    .bind(format!("-{TOMBSTONE_DAYS} days"))
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_err(doing))?
    .into_iter()
    .max();
    if let Some(t) = trimmed {
        sqlx::query("UPDATE store_meta SET trimmed_seq = max(trimmed_seq, ?)")
            .bind(t)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
    }
    Ok(())
}

impl SqliteStore {
    pub(crate) async fn read_changes(
        &self,
        enterprise_id: i64,
        after: Option<(i64, i64)>,
        types: &[&str],
        limit: usize,
    ) -> Result<DirectoryChanges> {
        let doing = "reading the directory's changes";
        let mut conn = self.read_lock().await;
        let meta = sqlx::query("SELECT generation, change_seq, trimmed_seq FROM store_meta")
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
        let generation: String = meta.try_get(0).map_err(sql_err(doing))?;
        let last_seq: i64 = meta.try_get(1).map_err(sql_err(doing))?;
        let trimmed_seq: i64 = meta.try_get(2).map_err(sql_err(doing))?;
        let (seq, id) = after.unwrap_or((0, 0));
        let marks = vec!["?"; types.len().max(1)].join(", ");
        // A full listing (no cursor) has the tombstones too: an entry it named on an early page
        // may be deleted before it ends.
        let sql = format!(
            "SELECT change_seq, id, 0 AS gone, enterprise_id, object_type, attrs FROM entries \
             WHERE enterprise_id = ? AND (change_seq, id) > (?, ?) AND object_type IN ({marks}) \
             UNION ALL \
             SELECT change_seq, entry_id, 1, enterprise_id, NULL, NULL FROM entry_tombstones \
             WHERE enterprise_id = ? AND (change_seq, entry_id) > (?, ?) \
             ORDER BY 1, 2 LIMIT ?"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(enterprise_id)
            .bind(seq)
            .bind(id);
        if types.is_empty() {
            q = q.bind("");
        }
        for t in types {
            q = q.bind(*t);
        }
        let rows = q
            .bind(enterprise_id)
            .bind(seq)
            .bind(id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
        drop(conn);
        let more = rows.len() == limit;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get(0).map_err(sql_err(doing))?;
            let id: i64 = row.try_get(1).map_err(sql_err(doing))?;
            let gone: bool = row.try_get(2).map_err(sql_err(doing))?;
            if gone {
                items.push(DirectoryChange::Deleted { seq, id });
                continue;
            }
            let attrs: &[u8] = row.try_get(5).map_err(sql_err(doing))?;
            let entry = Entry {
                id,
                enterprise_id: row.try_get(3).map_err(sql_err(doing))?,
                object_type: row.try_get(4).map_err(sql_err(doing))?,
                attrs: EntryAttrs::decode(attrs).map_err(|e| StoreError::Corrupt {
                    doing,
                    message: format!("entry {id}: {e}"),
                })?,
            };
            items.push(DirectoryChange::Entry { seq, entry });
        }
        Ok(DirectoryChanges {
            generation,
            last_seq,
            trimmed_seq,
            items,
            more,
        })
    }
}
