//! Staging spaces in SQLite: imported objects, links, pending exports.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use ucsync_model::{Attrs, EncodedAttrs};

use super::bulk::write_rows;
use super::runs::write_outcomes;
use super::{MAX_VARS, SqliteStore, fetch_in, sql_err};
use crate::types::*;
use crate::{Result, StagingStore, StoreError};

pub(crate) const STAGED_COLUMNS: &str = "id, connector_id, anchor, object_type, hash, attrs, entry_id, sync_state, sync_error, export_op, export_attrs, export_error";

fn decode_attrs(bytes: Option<&[u8]>, doing: &'static str) -> Result<Option<Attrs>> {
    bytes
        .map(Attrs::decode)
        .transpose()
        .map_err(|e| StoreError::Corrupt {
            doing,
            message: e.to_string(),
        })
}

/// Reads `len:anchor:id:hash;` records (`len` in characters, as SQLite counts them).
fn unpack_anchors(packed: &str, out: &mut Vec<AnchorInfo>) -> std::result::Result<(), String> {
    let bad = || format!("unreadable anchor index near byte {}", packed.len());
    let mut rest = packed;
    while !rest.is_empty() {
        let (len, after_len) = rest.split_once(':').ok_or_else(bad)?;
        let len: usize = len.parse().map_err(|_| bad())?;
        let end = after_len
            .char_indices()
            .nth(len)
            .map(|(i, _)| i)
            .unwrap_or(after_len.len());
        let anchor = &after_len[..end];
        let tail = after_len[end..].strip_prefix(':').ok_or_else(bad)?;
        let (id, tail) = tail.split_once(':').ok_or_else(bad)?;
        let (hash, tail) = tail.split_once(';').ok_or_else(bad)?;
        let hash: i64 = hash.parse().map_err(|_| bad())?;
        out.push(AnchorInfo {
            anchor: anchor.to_owned(),
            id: id.parse().map_err(|_| bad())?,
            hash,
            present: hash != 0,
        });
        rest = tail;
    }
    Ok(())
}

const LINK_COLUMNS: &str = "id, connector_id, anchor, entry_id, sync_state";
const LINKS: &str = "reading the links of staged objects";

fn link_from_row(row: &SqliteRow) -> Result<StagedLink> {
    (|| {
        Ok::<_, sqlx::Error>(StagedLink {
            id: row.try_get(0)?,
            connector_id: row.try_get(1)?,
            anchor: row.try_get(2)?,
            entry_id: row.try_get(3)?,
            sync_state: SyncState::from_i64(row.try_get(4)?),
        })
    })()
    .map_err(sql_err(LINKS))
}

pub(crate) fn staged_from_row(row: &SqliteRow) -> Result<StagedObject> {
    let doing = "reading a staged object";
    let e = sql_err(doing);
    let get = || -> std::result::Result<_, sqlx::Error> {
        Ok((
            row.try_get::<i64, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<String, _>(3)?,
            row.try_get::<i64, _>(4)?,
            row.try_get::<Option<&[u8]>, _>(5)?,
            row.try_get::<Option<i64>, _>(6)?,
            row.try_get::<i64, _>(7)?,
            row.try_get::<Option<String>, _>(8)?,
            row.try_get::<Option<i64>, _>(9)?,
            row.try_get::<Option<&[u8]>, _>(10)?,
            row.try_get::<Option<String>, _>(11)?,
        ))
    };
    let (
        id,
        connector_id,
        anchor,
        object_type,
        hash,
        attrs,
        entry_id,
        sync_state,
        sync_error,
        op,
        export_attrs,
        export_error,
    ) = get().map_err(e)?;
    let export = match op.and_then(op_from_i64) {
        Some(op) => Some(PendingExport {
            op,
            attrs: decode_attrs(export_attrs, doing)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(StagedObject {
        id,
        connector_id,
        anchor,
        object_type,
        hash,
        attrs: decode_attrs(attrs, doing)?,
        entry_id,
        sync_state: SyncState::from_i64(sync_state),
        sync_error,
        export,
        export_error,
    })
}

/// Runs `sql` once per chunk of `ids`, with the chunk bound as `(?, ?, …)` in place of `{ids}`.
pub(crate) async fn exec_for_ids(
    conn: &mut SqliteConnection,
    sql: &str,
    ids: &[i64],
    doing: &'static str,
) -> Result<()> {
    for chunk in ids.chunks(MAX_VARS - 8) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = sql.replace("{ids}", &marks);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await.map_err(sql_err(doing))?;
    }
    Ok(())
}

/// A new imported object's row: marked for sync (`SyncState::Changed`).
const CHANGED_ROW: &str = "(?, ?, ?, ?, ?, 1)";
/// A provisioned object's row: a pending add (`ExportOp::Add`), nothing to sync.
const PROVISIONED_ROW: &str = "(?, ?, ?, ?, ?, ?, 1, 0)";

async fn insert_upserts(
    conn: &mut SqliteConnection,
    connector_id: i64,
    rows: Vec<StagedUpsert>,
) -> Result<()> {
    let sql = (
        "INSERT OR FAIL INTO staging (connector_id, anchor, object_type, hash, attrs, sync_state) VALUES ",
        CHANGED_ROW,
        "",
    );
    write_rows(conn, rows, sql, "staging new objects", |v, u| {
        v.add(connector_id)
            .add(u.anchor)
            .add(u.object_type)
            .add(u.hash)
            .add(u.attrs);
    })
    .await
}

async fn update_upserts(conn: &mut SqliteConnection, rows: Vec<StagedUpsert>) -> Result<()> {
    let sql = (
        "UPDATE OR FAIL staging SET object_type = v.column2, hash = v.column3, attrs = v.column4, sync_state = 1 FROM (VALUES ",
        "(?, ?, ?, ?)",
        ") AS v WHERE staging.id = v.column1",
    );
    write_rows(conn, rows, sql, "staging changed objects", |v, u| {
        v.add(u.id.unwrap_or(0))
            .add(u.object_type)
            .add(u.hash)
            .add(u.attrs);
    })
    .await
}

pub(crate) async fn write_staged(
    conn: &mut SqliteConnection,
    writes: Vec<StagedWrite>,
) -> Result<()> {
    // Most writes leave the pending export alone (an object linked or marked as synced): they
    // bind half the values and SQLite evaluates none of the export columns (a 1M sync's
    // statements took a third less time than in the one form that serves both).
    let (plain, exporting): (Vec<StagedWrite>, Vec<StagedWrite>) =
        writes.into_iter().partition(|w| w.export.is_none());
    let sql = (
        "UPDATE OR FAIL staging SET entry_id = v.column2, sync_state = COALESCE(v.column3, sync_state), \
         sync_error = v.column4 FROM (VALUES ",
        "(?, ?, ?, ?)",
        ") AS v WHERE staging.id = v.column1",
    );
    write_rows(
        conn,
        plain,
        sql,
        "writing sync results to staged objects",
        |v, w| {
            v.add(w.id)
                .add(w.entry_id)
                .add(w.sync_state.map(|s| s as i64))
                .add(w.sync_error);
        },
    )
    .await?;
    let sql = (
        "UPDATE OR FAIL staging SET entry_id = v.column2, sync_state = COALESCE(v.column3, sync_state), sync_error = v.column4, \
         export_op = v.column5, export_attrs = v.column6, export_hash = v.column7, export_error = NULL FROM (VALUES ",
        "(?, ?, ?, ?, ?, ?, ?)",
        ") AS v WHERE staging.id = v.column1",
    );
    write_rows(
        conn,
        exporting,
        sql,
        "writing sync results to staged objects",
        |v, w| {
            let (op, attrs, hash) = match w.export.flatten() {
                None => (None, None, None),
                Some((op, attrs, hash)) => (Some(op_to_i64(op)), Some(attrs), Some(hash)),
            };
            v.add(w.id)
                .add(w.entry_id)
                .add(w.sync_state.map(|s| s as i64))
                .add(w.sync_error)
                .add(op)
                .add(attrs)
                .add(hash);
        },
    )
    .await
}

pub(crate) async fn insert_staged(
    conn: &mut SqliteConnection,
    rows: Vec<StagedInsert>,
) -> Result<()> {
    let sql = (
        "INSERT OR FAIL INTO staging (connector_id, anchor, object_type, entry_id, export_attrs, export_hash, export_op, sync_state) VALUES ",
        PROVISIONED_ROW,
        "",
    );
    write_rows(conn, rows, sql, "staging provisioned objects", |v, r| {
        v.add(r.connector_id)
            .add(r.anchor)
            .add(r.object_type)
            .add(r.entry_id)
            .add(r.export_attrs)
            .add(r.export_hash);
    })
    .await
}

#[async_trait]
impl StagingStore for SqliteStore {
    async fn anchor_index(&self, connector_id: i64) -> Result<Vec<AnchorInfo>> {
        // A million rows one by one cost seconds of per-row overhead in the driver; packed by
        // SQLite into one string per 100,000 they cost a tenth of that. Hash 0 marks an object
        // the external system does not have (a provisioned add, a deletion).
        let doing = "reading the staging space";
        let mut out = Vec::new();
        let mut after = 0i64;
        loop {
            let mut conn = self.read_lock().await;
            let row = sqlx::query(
                "SELECT group_concat(length(anchor) || ':' || anchor || ':' || id || ':' || hash || ';', ''), \
                 max(id) FROM (SELECT anchor, id, hash FROM staging \
                 WHERE +connector_id = ? AND id > ? ORDER BY id LIMIT 100000)",
            )
            .bind(connector_id)
            .bind(after)
            .fetch_one(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            drop(conn);
            let packed: Option<String> = row.try_get(0).map_err(sql_err(doing))?;
            let Some(packed) = packed else { break };
            after = row.try_get::<i64, _>(1).map_err(sql_err(doing))?;
            unpack_anchors(&packed, &mut out)
                .map_err(|message| StoreError::Corrupt { doing, message })?;
        }
        Ok(out)
    }

    async fn anchor_infos(&self, connector_id: i64, anchors: &[String]) -> Result<Vec<AnchorInfo>> {
        let doing = "reading the staging space";
        let mut conn = self.read_lock().await;
        let sql =
            "SELECT anchor, id, hash FROM staging WHERE connector_id = ? AND anchor IN ({list})";
        let rows = fetch_in(&mut conn, sql, Some(connector_id), anchors, doing).await?;
        rows.iter()
            .map(|row| {
                let hash: i64 = row.try_get(2).map_err(sql_err(doing))?;
                Ok(AnchorInfo {
                    anchor: row.try_get(0).map_err(sql_err(doing))?,
                    id: row.try_get(1).map_err(sql_err(doing))?,
                    hash,
                    present: hash != 0,
                })
            })
            .collect()
    }

    async fn anchors_of_type(&self, connector_id: i64, object_type: &str) -> Result<Vec<String>> {
        let mut conn = self.read_lock().await;
        sqlx::query_scalar("SELECT anchor FROM staging WHERE connector_id = ? AND object_type = ?")
            .bind(connector_id)
            .bind(object_type)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("reading the staging space"))
    }

    async fn apply_import_batch(&self, batch: ImportBatch) -> Result<()> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            let (new, changed): (Vec<StagedUpsert>, Vec<StagedUpsert>) =
                batch.upserts.into_iter().partition(|u| u.id.is_none());
            insert_upserts(&mut conn, batch.connector_id, new).await?;
            update_upserts(&mut conn, changed).await?;
            super::errors::write_import(
                &mut conn,
                batch.connector_id,
                batch.outcomes.run_id,
                &batch.cleared,
                batch.clear_unanchored,
                batch.errors,
            )
            .await?;
            // Deleted in the source: whatever a step reported of them is over.
            super::errors::clear_staged(
                &mut conn,
                &[ErrorStep::Sync, ErrorStep::Export],
                &batch.deletes,
            )
            .await?;
            if !batch.deletes.is_empty() {
                // Unlinked objects with nothing to export simply go; the others wait for sync.
                exec_for_ids(
                    &mut conn,
                    "DELETE FROM staging WHERE id IN ({ids}) AND entry_id IS NULL AND export_op IS NULL",
                    &batch.deletes,
                    "removing deleted objects",
                )
                .await?;
                exec_for_ids(
                    &mut conn,
                    "UPDATE OR FAIL staging SET attrs = NULL, hash = 0, sync_state = 2 WHERE id IN ({ids})",
                    &batch.deletes,
                    "marking deleted objects",
                )
                .await?;
            }
            if let Some(w) = &batch.watermark {
                sqlx::query("UPDATE connectors SET watermark = ?, watermark_at = datetime('now') WHERE id = ?")
                    .bind(w)
                    .bind(batch.connector_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("saving the watermark"))?;
            }
            write_outcomes(&mut conn, &batch.outcomes).await
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn staged_page(
        &self,
        connector_id: i64,
        after_id: i64,
        limit: i64,
        filter: StagedFilter,
    ) -> Result<Vec<StagedObject>> {
        // The marked pages read the partial indexes; a page of everything walks the rowid
        // (`+connector_id` keeps SQLite from choosing the anchor index and sorting the whole
        // staging space for every page).
        let sql = match filter {
            StagedFilter::PendingSync => format!(
                "SELECT {STAGED_COLUMNS} FROM staging WHERE connector_id = ? AND id > ? AND sync_state != 0 ORDER BY id LIMIT ?"
            ),
            StagedFilter::PendingExport => format!(
                "SELECT {STAGED_COLUMNS} FROM staging WHERE connector_id = ? AND id > ? AND export_op IS NOT NULL ORDER BY id LIMIT ?"
            ),
            StagedFilter::All => format!(
                "SELECT {STAGED_COLUMNS} FROM staging WHERE +connector_id = ? AND id > ? ORDER BY id LIMIT ?"
            ),
            StagedFilter::LinkedPendingSync => format!(
                "SELECT {STAGED_COLUMNS} FROM staging INDEXED BY staging_sync_linked \
                 WHERE connector_id = ? AND id > ? AND sync_state != 0 AND entry_id IS NOT NULL \
                 ORDER BY id LIMIT ?"
            ),
            StagedFilter::Linked => format!(
                "SELECT {STAGED_COLUMNS} FROM staging WHERE +connector_id = ? AND id > ? \
                 AND entry_id IS NOT NULL ORDER BY id LIMIT ?"
            ),
        };
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(connector_id)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("reading staged objects"))?;
        drop(conn);
        rows.iter().map(staged_from_row).collect()
    }

    async fn image_page(
        &self,
        connector_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ImageRow>> {
        let doing = "reading a target's image";
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT id, anchor, object_type, export_op, \
             CASE WHEN export_op IS NULL THEN attrs WHEN export_op = 3 THEN NULL ELSE export_attrs END \
             FROM staging WHERE +connector_id = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(connector_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        drop(conn);
        rows.iter()
            .map(|row| {
                let op: Option<i64> = row.try_get(3).map_err(sql_err(doing))?;
                Ok(ImageRow {
                    id: row.try_get(0).map_err(sql_err(doing))?,
                    anchor: row.try_get(1).map_err(sql_err(doing))?,
                    object_type: row.try_get(2).map_err(sql_err(doing))?,
                    op: op.and_then(op_from_i64),
                    attrs: row
                        .try_get::<Option<Vec<u8>>, _>(4)
                        .map_err(sql_err(doing))?
                        .map(EncodedAttrs::from_bytes),
                })
            })
            .collect()
    }

    async fn staged_by_entries(&self, entry_ids: &[i64]) -> Result<Vec<StagedObject>> {
        let mut conn = self.read_lock().await;
        let sql = format!(
            "SELECT {STAGED_COLUMNS} FROM staging WHERE entry_id IN ({{list}}) ORDER BY id"
        );
        let rows = fetch_in(
            &mut conn,
            &sql,
            None,
            entry_ids,
            "reading linked staged objects",
        )
        .await?;
        rows.iter().map(staged_from_row).collect()
    }

    async fn staged_by_anchors(
        &self,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedObject>> {
        let mut conn = self.read_lock().await;
        let sql = format!(
            "SELECT {STAGED_COLUMNS} FROM staging WHERE connector_id = ? AND anchor IN ({{list}})"
        );
        let rows = fetch_in(
            &mut conn,
            &sql,
            Some(connector_id),
            anchors,
            "reading staged objects by anchor",
        )
        .await?;
        rows.iter().map(staged_from_row).collect()
    }

    async fn links_by_entries(&self, entry_ids: &[i64]) -> Result<Vec<StagedLink>> {
        let mut conn = self.read_lock().await;
        let sql = format!("SELECT {LINK_COLUMNS} FROM staging WHERE entry_id IN ({{list}})");
        let rows = fetch_in(&mut conn, &sql, None, entry_ids, LINKS).await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn links_by_anchors(
        &self,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedLink>> {
        let mut conn = self.read_lock().await;
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM staging WHERE connector_id = ? AND anchor IN ({{list}})"
        );
        let rows = fetch_in(&mut conn, &sql, Some(connector_id), anchors, LINKS).await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn staging_is_empty(&self, connector_id: i64) -> Result<bool> {
        let mut conn = self.read_lock().await;
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM staging WHERE connector_id = ?)")
                .bind(connector_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err("looking into a staging space"))?;
        Ok(!any)
    }

    async fn staged_more_than(&self, connector_id: i64, n: i64) -> Result<bool> {
        let mut conn = self.read_lock().await;
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM staging WHERE connector_id = ? LIMIT 1 OFFSET ?)",
        )
        .bind(connector_id)
        .bind(n)
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("counting staged objects"))
    }

    async fn count_staged(&self, connector_id: i64, totals: bool) -> Result<StagedCounts> {
        let doing = "counting staged objects";
        let mut conn = self.read_lock().await;
        let mut counts = StagedCounts::default();
        // Both queries read only the partial indexes: cheap however large the staging space.
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(sync_state = 2), 0) FROM staging \
             WHERE connector_id = ? AND sync_state != 0",
        )
        .bind(connector_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        counts.pending_sync = row.try_get(0).map_err(sql_err(doing))?;
        let tombstones: i64 = row.try_get(1).map_err(sql_err(doing))?;
        let rows = sqlx::query(
            "SELECT export_op, COUNT(*) FROM staging \
             WHERE connector_id = ? AND export_op IS NOT NULL GROUP BY export_op",
        )
        .bind(connector_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        for row in &rows {
            let op: i64 = row.try_get(0).map_err(sql_err(doing))?;
            let n: i64 = row.try_get(1).map_err(sql_err(doing))?;
            match op_from_i64(op) {
                Some(ucsync_model::ExportOp::Add) => counts.pending_adds = n,
                Some(ucsync_model::ExportOp::Update) => counts.pending_updates = n,
                Some(ucsync_model::ExportOp::Delete) => counts.pending_deletes = n,
                None => {}
            }
        }
        if totals {
            counts.total = sqlx::query("SELECT COUNT(*) FROM staging WHERE connector_id = ?")
                .bind(connector_id)
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err(doing))?
                .try_get(0)
                .map_err(sql_err(doing))?;
            // Only provisioned objects not exported yet and tombstones have no external state.
            counts.present = counts.total - counts.pending_adds - tombstones;
        }
        Ok(counts)
    }

    async fn apply_export_results(&self, mut batch: ExportResultBatch) -> Result<()> {
        let confirmed = std::mem::take(&mut batch.confirmed);
        let anchors: Vec<(i64, String)> = batch
            .done
            .iter()
            .filter_map(|(id, anchor)| Some((*id, anchor.clone()?)))
            .collect();
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            let ids: Vec<i64> = batch.done.iter().map(|(id, _)| *id).collect();
            // Before the rows of exported deletes go: their errors are over too.
            super::errors::clear_staged(&mut conn, &[ErrorStep::Export], &ids).await?;
            super::errors::record_staged(
                &mut conn,
                ErrorStep::Export,
                batch.outcomes.run_id,
                &batch.failed,
            )
            .await?;
            // Anchors assigned on export, and below the states read back, a statement per
            // thousands of rows (a batch of adds has one of each per row).
            write_rows(
                &mut conn,
                anchors,
                (
                    "UPDATE staging SET anchor = v.column2 FROM (VALUES ",
                    "(?, ?)",
                    ") AS v WHERE staging.id = v.column1",
                ),
                "recording anchors assigned on export",
                |v, (id, anchor)| {
                    v.add(id).add(anchor);
                },
            )
            .await?;
            exec_for_ids(
                &mut conn,
                "DELETE FROM staging WHERE id IN ({ids}) AND export_op = 3",
                &ids,
                "removing exported deletes",
            )
            .await?;
            exec_for_ids(
                &mut conn,
                "UPDATE OR FAIL staging SET attrs = export_attrs, hash = export_hash, export_op = NULL, \
                 export_attrs = NULL, export_hash = NULL, export_error = NULL WHERE id IN ({ids})",
                &ids,
                "recording exported objects",
            )
            .await?;
            write_rows(
                &mut conn,
                confirmed,
                (
                    "UPDATE staging SET attrs = v.column2, hash = v.column3 FROM (VALUES ",
                    "(?, ?, ?)",
                    ") AS v WHERE staging.id = v.column1",
                ),
                "recording the states exports read back",
                |v, (id, attrs, hash)| {
                    v.add(id).add(attrs).add(hash);
                },
            )
            .await?;
            for (id, message) in &batch.failed {
                sqlx::query("UPDATE staging SET export_error = ? WHERE id = ?")
                    .bind(message)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("recording an export failure"))?;
            }
            write_outcomes(&mut conn, &batch.outcomes).await
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn commit_image_export(
        &self,
        connector_id: i64,
        rejected: &[(i64, String)],
        outcomes: OutcomeChunk,
    ) -> Result<()> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            // The whole target was written: the export errors outstanding are those of this
            // export's rejected objects, and only those.
            sqlx::query("DELETE FROM object_errors WHERE connector_id = ? AND step = 'export'")
                .bind(connector_id)
                .execute(&mut *conn)
                .await
                .map_err(sql_err("clearing outstanding errors"))?;
            super::errors::record_staged(&mut conn, ErrorStep::Export, outcomes.run_id, rejected)
                .await?;
            // Rejected objects keep their pending export: flag them first, then commit the rest.
            for (id, message) in rejected {
                sqlx::query("UPDATE staging SET export_error = ? WHERE id = ?")
                    .bind(message)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("recording a rejected export"))?;
            }
            let rejected_ids: Vec<i64> = rejected.iter().map(|(id, _)| *id).collect();
            sqlx::query("CREATE TEMP TABLE IF NOT EXISTS rejected_ids (id INTEGER PRIMARY KEY)")
                .execute(&mut *conn)
                .await
                .map_err(sql_err("committing an export"))?;
            sqlx::query("DELETE FROM rejected_ids")
                .execute(&mut *conn)
                .await
                .map_err(sql_err("committing an export"))?;
            for id in &rejected_ids {
                sqlx::query("INSERT OR IGNORE INTO rejected_ids (id) VALUES (?)")
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql_err("committing an export"))?;
            }
            sqlx::query(
                "DELETE FROM staging WHERE connector_id = ? AND export_op = 3 \
                 AND id NOT IN (SELECT id FROM rejected_ids)",
            )
            .bind(connector_id)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("committing exported deletes"))?;
            sqlx::query(
                "UPDATE OR FAIL staging SET attrs = export_attrs, hash = export_hash, export_op = NULL, \
                 export_attrs = NULL, export_hash = NULL, export_error = NULL \
                 WHERE connector_id = ? AND export_op IS NOT NULL AND id NOT IN (SELECT id FROM rejected_ids)",
            )
            .bind(connector_id)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("committing exported objects"))?;
            write_outcomes(&mut conn, &outcomes).await
        }
        .await;
        self.finish(&mut conn, result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_states_in_row_templates_are_the_enums_values() {
        assert!(CHANGED_ROW.ends_with(&format!(", {})", SyncState::Changed as i64)));
        let add = op_to_i64(ucsync_model::ExportOp::Add);
        let tail = format!(", {add}, {})", SyncState::Clean as i64);
        assert!(PROVISIONED_ROW.ends_with(&tail));
    }
}
