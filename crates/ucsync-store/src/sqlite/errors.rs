//! Outstanding per-object errors in SQLite (`object_errors`): written and cleared inside the
//! transactions of the batches that find them (import batches, sync batches, export results),
//! read for `connector status|errors`, the API and the metrics.
//!
//! It knows which step a batch belongs to and what its outcomes say, not why an object was
//! rejected: the engine says that in the messages.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{Row, SqliteConnection};

use super::bulk::write_rows;
use super::staging::exec_for_ids;
use super::{MAX_VARS, SqliteStore, sql_err};
use crate::types::*;
use crate::{ErrorStore, Result};

const UPSERT_TAIL: &str = " ON CONFLICT (step, connector_id, object) DO UPDATE SET \
     anchored = excluded.anchored, name = excluded.name, line = excluded.line, \
     message = excluded.message, last_run = excluded.last_run";

/// Whether any error of `step` is outstanding: batches skip their clearing when none is.
async fn any_outstanding(conn: &mut SqliteConnection, step: ErrorStep) -> Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM object_errors WHERE step = ?)")
        .bind(step.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("looking for outstanding errors"))
}

/// Clears the errors of one connector's step for these objects.
async fn clear_objects(
    conn: &mut SqliteConnection,
    connector_id: i64,
    step: ErrorStep,
    objects: &[String],
) -> Result<()> {
    for chunk in objects.chunks(MAX_VARS - 8) {
        let sql = format!(
            "DELETE FROM object_errors WHERE connector_id = ? AND step = ? AND object IN ({})",
            vec!["?"; chunk.len()].join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(connector_id)
            .bind(step.as_str());
        for o in chunk {
            q = q.bind(o);
        }
        q.execute(&mut *conn)
            .await
            .map_err(sql_err("clearing outstanding errors"))?;
    }
    Ok(())
}

/// Clears the errors of `steps` for the staged objects with these ids (before the rows go).
pub(crate) async fn clear_staged(
    conn: &mut SqliteConnection,
    steps: &[ErrorStep],
    ids: &[i64],
) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for step in steps {
        if !any_outstanding(conn, *step).await? {
            continue;
        }
        // The step is one of this module's constants, never outside text.
        let sql = format!(
            "DELETE FROM object_errors WHERE step = '{}' AND (connector_id, object) IN \
             (SELECT connector_id, anchor FROM staging WHERE id IN ({{ids}}))",
            step.as_str()
        );
        exec_for_ids(conn, &sql, ids, "clearing outstanding errors").await?;
    }
    Ok(())
}

/// Entries provisioned into connectors, (connector, entry): an error that an entry could not be
/// provisioned there (object `entry:<id>`) is over.
pub(crate) async fn clear_provisioned(
    conn: &mut SqliteConnection,
    provisioned: Vec<(i64, i64)>,
) -> Result<()> {
    if provisioned.is_empty() || !any_outstanding(conn, ErrorStep::Sync).await? {
        return Ok(());
    }
    write_rows(
        conn,
        provisioned,
        (
            "DELETE FROM object_errors WHERE step = 'sync' AND (connector_id, object) IN (VALUES ",
            "(?, ?)",
            ")",
        ),
        "clearing outstanding errors",
        |v, (connector, entry)| {
            v.add(connector).add(format!("entry:{entry}"));
        },
    )
    .await
}

/// Entries deleted from the directory: an error that one could not be provisioned is over.
pub(crate) async fn clear_deleted_entries(conn: &mut SqliteConnection, ids: &[i64]) -> Result<()> {
    if ids.is_empty() || !any_outstanding(conn, ErrorStep::Sync).await? {
        return Ok(());
    }
    let objects: Vec<String> = ids.iter().map(|e| format!("entry:{e}")).collect();
    for chunk in objects.chunks(MAX_VARS - 8) {
        let sql = format!(
            "DELETE FROM object_errors WHERE step = 'sync' AND object IN ({})",
            vec!["?"; chunk.len()].join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for o in chunk {
            q = q.bind(o);
        }
        q.execute(&mut *conn)
            .await
            .map_err(sql_err("clearing outstanding errors"))?;
    }
    Ok(())
}

/// Records `step` errors for staged objects by id: (id, message), seen by `run_id`.
pub(crate) async fn record_staged(
    conn: &mut SqliteConnection,
    step: ErrorStep,
    run_id: i64,
    failed: &[(i64, String)],
) -> Result<()> {
    for (id, message) in failed {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO object_errors (connector_id, step, object, anchored, name, line, message, first_run, last_run) \
             SELECT connector_id, ?, anchor, 1, anchor, NULL, ?, ?, ? FROM staging WHERE id = ?{UPSERT_TAIL}"
        )))
        .bind(step.as_str())
        .bind(message)
        .bind(run_id)
        .bind(run_id)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("recording an outstanding error"))?;
    }
    Ok(())
}

/// An import batch's errors: first what is over, then what it rejected (a rejection wins over
/// a success of the same object in the same batch).
pub(crate) async fn write_import(
    conn: &mut SqliteConnection,
    connector_id: i64,
    run_id: i64,
    cleared: &[String],
    clear_unanchored: bool,
    errors: Vec<ObjectErrorWrite>,
) -> Result<()> {
    clear_objects(conn, connector_id, ErrorStep::Import, cleared).await?;
    if clear_unanchored {
        sqlx::query(
            "DELETE FROM object_errors WHERE connector_id = ? AND step = 'import' AND anchored = 0 AND last_run < ?",
        )
        .bind(connector_id)
        .bind(run_id)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("clearing outstanding errors"))?;
    }
    let head = "INSERT INTO object_errors (connector_id, step, object, anchored, name, line, message, first_run, last_run) VALUES ";
    write_rows(
        conn,
        errors,
        (head, "(?, 'import', ?, ?, ?, ?, ?, ?, ?)", UPSERT_TAIL),
        "recording outstanding errors",
        |v, e| {
            v.add(connector_id)
                .add(e.object)
                .add(e.anchored)
                .add(e.name)
                .add(e.line)
                .add(e.message)
                .add(run_id)
                .add(run_id);
        },
    )
    .await
}

/// A sync batch's outcomes: an `error` naming a connector's object records it, any other
/// outcome of that object (joined, projected, provisioned, disconnected, …) clears it.
pub(crate) async fn write_sync_outcomes(
    conn: &mut SqliteConnection,
    chunk: &OutcomeChunk,
) -> Result<()> {
    let step = ErrorStep::Sync;
    let named = |o: &&ObjectOutcome| !o.connector.is_empty() && !o.object.is_empty();
    let errors: Vec<&ObjectOutcome> = chunk
        .outcomes
        .iter()
        .filter(named)
        .filter(|o| o.action == "error")
        .collect();
    // Only looked at when some error is outstanding: a large sync has none to clear.
    if any_outstanding(conn, step).await? {
        let mut done: HashMap<&str, Vec<String>> = HashMap::new();
        for o in chunk.outcomes.iter().filter(named) {
            if o.action != "error" && o.action != "warning" {
                done.entry(o.connector.as_str())
                    .or_default()
                    .push(o.object.clone());
            }
        }
        for (connector, objects) in done {
            let id: Option<i64> = sqlx::query_scalar("SELECT id FROM connectors WHERE name = ?")
                .bind(connector)
                .fetch_optional(&mut *conn)
                .await
                .map_err(sql_err("clearing outstanding errors"))?;
            if let Some(id) = id {
                clear_objects(conn, id, step, &objects).await?;
            }
        }
    }
    let head = "INSERT INTO object_errors (connector_id, step, object, anchored, name, line, message, first_run, last_run) \
                SELECT c.id, 'sync', v.column2, 1, v.column2, NULL, v.column3, v.column4, v.column4 FROM (VALUES ";
    let tail = format!(") AS v JOIN connectors c ON c.name = v.column1 WHERE true{UPSERT_TAIL}");
    write_rows(
        conn,
        errors,
        (head, "(?, ?, ?, ?)", tail.as_str()),
        "recording outstanding errors",
        |v, o| {
            v.add(o.connector.clone())
                .add(o.object.clone())
                .add(o.message.clone().unwrap_or_default())
                .add(chunk.run_id);
        },
    )
    .await
}

fn outstanding_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<OutstandingError> {
    (|| {
        Ok::<_, sqlx::Error>(OutstandingError {
            connector: row.try_get(0)?,
            step: row.try_get(1)?,
            object: row.try_get(2)?,
            name: row.try_get(3)?,
            line: row.try_get(4)?,
            message: row.try_get(5)?,
            first_run: row.try_get(6)?,
            last_run: row.try_get(7)?,
        })
    })()
    .map_err(sql_err("reading outstanding errors"))
}

#[async_trait]
impl ErrorStore for SqliteStore {
    async fn outstanding_objects(
        &self,
        connector_id: i64,
        step: ErrorStep,
    ) -> Result<Vec<(String, bool)>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT object, anchored FROM object_errors WHERE connector_id = ? AND step = ?",
        )
        .bind(connector_id)
        .bind(step.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("reading outstanding errors"))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? != 0)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(sql_err("reading outstanding errors"))
    }

    async fn clear_unreported_errors(
        &self,
        connector_id: i64,
        step: ErrorStep,
        run_id: i64,
    ) -> Result<u64> {
        // Errors last reported by an earlier run of this connector's step, whichever connector
        // they are on (a sync reports what it cannot provision into another connector).
        let mut conn = self.lock().await;
        let done = sqlx::query(
            "DELETE FROM object_errors WHERE step = ?1 AND last_run < ?2 AND last_run IN \
             (SELECT r.id FROM runs r JOIN connectors c ON c.name = r.connector \
              WHERE c.id = ?3 AND r.id < ?2)",
        )
        .bind(step.as_str())
        .bind(run_id)
        .bind(connector_id)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("clearing errors a full step no longer reports"))?;
        Ok(done.rows_affected())
    }

    async fn outstanding_errors(&self, connector: Option<&str>) -> Result<Vec<OutstandingError>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT c.name, e.step, e.object, e.name, e.line, e.message, e.first_run, e.last_run \
             FROM object_errors e JOIN connectors c ON c.id = e.connector_id \
             WHERE ?1 IS NULL OR c.name = ?1 \
             ORDER BY c.name, CASE e.step WHEN 'import' THEN 0 WHEN 'sync' THEN 1 ELSE 2 END, \
             e.line, e.object",
        )
        .bind(connector)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("reading outstanding errors"))?;
        rows.iter().map(outstanding_from_row).collect()
    }

    async fn error_counts(&self) -> Result<Vec<ErrorCount>> {
        let doing = "counting outstanding errors";
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT c.name, n.name, e.step, COUNT(*) FROM object_errors e \
             JOIN connectors c ON c.id = e.connector_id JOIN enterprises n ON n.id = c.enterprise_id \
             GROUP BY c.name, n.name, e.step ORDER BY c.name, e.step",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        rows.iter()
            .map(|r| {
                Ok(ErrorCount {
                    connector: r.try_get(0)?,
                    enterprise: r.try_get(1)?,
                    step: r.try_get(2)?,
                    count: r.try_get(3)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(sql_err(doing))
    }
}
