//! Runs and their per-object outcomes in SQLite.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{SqliteStore, sql_err};
use crate::types::*;
use crate::{Result, RunStore, StoreError};

/// `latest`: the ids of each connector's last run of each profile and of its last successful
/// one. The profiles a connector ran are found by skipping through the `runs_latest` index
/// (one look-up each), and each last run by one more: the cost follows the number of
/// connectors and profiles, not the history (reading every run took 0.3 s at 300,000 runs).
pub(super) const LATEST_CONNECTOR_RUNS: &str = "WITH RECURSIVE pairs(connector, profile) AS ( \
     SELECT c.name, (SELECT r.profile FROM runs r WHERE r.connector = c.name ORDER BY r.profile LIMIT 1) \
     FROM connectors c \
     UNION ALL \
     SELECT p.connector, (SELECT r.profile FROM runs r WHERE r.connector = p.connector AND r.profile > p.profile \
     ORDER BY r.profile LIMIT 1) FROM pairs p WHERE p.profile IS NOT NULL), \
     latest(id) AS ( \
     SELECT (SELECT r.id FROM runs r WHERE r.connector = p.connector AND r.profile = p.profile \
     ORDER BY r.id DESC LIMIT 1) FROM pairs p WHERE p.profile IS NOT NULL \
     UNION \
     SELECT (SELECT r.id FROM runs r WHERE r.connector = p.connector AND r.profile = p.profile \
     AND r.status = 'success' ORDER BY r.id DESC LIMIT 1) FROM pairs p WHERE p.profile IS NOT NULL)";

const RUN_COLUMNS: &str = "id, parent_id, enterprise, connector, profile, status, started_at, ended_at, added, updated, deleted, unchanged, errors, message, status_file, started_by";

/// Appends outcomes to their run as one chunk (inside the caller's transaction). A chunk is
/// one line per outcome, tab-separated (action, connector, object, type, message, changes as
/// JSON): a large run records millions of them, and this is a third of the size of JSON objects.
pub(crate) async fn write_outcomes(
    conn: &mut SqliteConnection,
    chunk: &OutcomeChunk,
) -> Result<()> {
    if chunk.outcomes.is_empty() {
        return Ok(());
    }
    let data = encode_outcomes(&chunk.outcomes)?;
    sqlx::query(
        "INSERT INTO run_objects (run_id, chunk, data) \
         VALUES (?, (SELECT COALESCE(MAX(chunk), 0) + 1 FROM run_objects WHERE run_id = ?), ?)",
    )
    .bind(chunk.run_id)
    .bind(chunk.run_id)
    .bind(data)
    .execute(&mut *conn)
    .await
    .map_err(sql_err("recording object outcomes"))?;
    Ok(())
}

fn escape_into(out: &mut String, field: &str) {
    if !field
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(field);
        return;
    }
    for c in field.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn encode_outcomes(outcomes: &[ObjectOutcome]) -> Result<String> {
    let mut data = String::with_capacity(outcomes.len() * 48);
    for o in outcomes {
        for (i, field) in [&o.action, &o.connector, &o.object, &o.object_type]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                data.push('\t');
            }
            escape_into(&mut data, field);
        }
        data.push('\t');
        escape_into(&mut data, o.message.as_deref().unwrap_or(""));
        data.push('\t');
        if !o.changes.is_empty() {
            let json = serde_json::to_string(&o.changes).map_err(|e| StoreError::Corrupt {
                doing: "recording object outcomes",
                message: e.to_string(),
            })?;
            escape_into(&mut data, &json);
        }
        data.push('\n');
    }
    Ok(data)
}

fn decode_outcomes(data: &str, out: &mut Vec<ObjectOutcome>) -> Result<()> {
    for line in data.lines() {
        let fields: Vec<String> = line.split('\t').map(unescape).collect();
        let [action, connector, object, object_type, message, changes] = fields.as_slice() else {
            return Err(StoreError::Corrupt {
                doing: "reading object outcomes",
                message: format!("an outcome line has {} fields instead of 6", fields.len()),
            });
        };
        let changes = if changes.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(changes).map_err(|e| StoreError::Corrupt {
                doing: "reading object outcomes",
                message: e.to_string(),
            })?
        };
        out.push(ObjectOutcome {
            connector: connector.clone(),
            object: object.clone(),
            object_type: object_type.clone(),
            action: action.clone(),
            message: (!message.is_empty()).then(|| message.clone()),
            changes,
        });
    }
    Ok(())
}

fn run_from_row(row: &SqliteRow) -> Result<RunRecord> {
    (|| {
        Ok::<_, sqlx::Error>(RunRecord {
            id: row.try_get(0)?,
            parent_id: row.try_get(1)?,
            enterprise: row.try_get(2)?,
            connector: row.try_get(3)?,
            profile: row.try_get(4)?,
            status: row.try_get(5)?,
            started_at: row.try_get(6)?,
            ended_at: row.try_get(7)?,
            counters: Counters {
                added: row.try_get(8)?,
                updated: row.try_get(9)?,
                deleted: row.try_get(10)?,
                unchanged: row.try_get(11)?,
                errors: row.try_get(12)?,
            },
            message: row.try_get(13)?,
            status_file: row.try_get(14)?,
            started_by: row.try_get(15)?,
        })
    })()
    .map_err(sql_err("reading a run"))
}

#[async_trait]
impl RunStore for SqliteStore {
    async fn create_run(&self, run: NewRun) -> Result<i64> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO runs (parent_id, enterprise, connector, profile, status, started_at, \
             started_by) VALUES (?, ?, ?, ?, 'running', ?, ?) RETURNING id",
        )
        .bind(run.parent_id)
        .bind(&run.enterprise)
        .bind(&run.connector)
        .bind(&run.profile)
        .bind(&run.started_at)
        .bind(&run.started_by)
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("recording a run"))?
        .try_get(0)
        .map_err(sql_err("recording a run"))
    }

    async fn finish_run(&self, id: i64, end: RunEnd) -> Result<()> {
        let mut conn = self.lock().await;
        sqlx::query(
            "UPDATE runs SET status = ?, ended_at = ?, added = ?, updated = ?, deleted = ?, \
             unchanged = ?, errors = ?, message = ?, status_file = ? WHERE id = ?",
        )
        .bind(&end.status)
        .bind(&end.ended_at)
        .bind(end.counters.added)
        .bind(end.counters.updated)
        .bind(end.counters.deleted)
        .bind(end.counters.unchanged)
        .bind(end.counters.errors)
        .bind(&end.message)
        .bind(&end.status_file)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("recording the end of a run"))?;
        Ok(())
    }

    async fn add_outcomes(&self, chunk: OutcomeChunk) -> Result<()> {
        let mut conn = self.lock().await;
        write_outcomes(&mut conn, &chunk).await
    }

    async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        // The reading connection: the API answers while a batch is being written.
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?"
        )))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("listing runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn latest_connector_runs(&self) -> Result<Vec<RunRecord>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{LATEST_CONNECTOR_RUNS} SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT id FROM latest) \
             ORDER BY connector, id"
        )))
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("reading the last runs of connectors"))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn run(&self, id: i64) -> Result<Option<RunRecord>> {
        // The reading connection: the API answers while a batch is being written.
        let mut conn = self.read_lock().await;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err("reading a run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    async fn child_runs(&self, parent_id: i64) -> Result<Vec<RunRecord>> {
        // The reading connection: the API answers while a batch is being written.
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE parent_id = ? ORDER BY id"
        )))
        .bind(parent_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("listing runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    async fn remove_runs_before(&self, enterprise: &str, before: &str) -> Result<u64> {
        const OLD: &str = "SELECT id FROM runs WHERE enterprise = ?1 AND parent_id IS NULL \
             AND started_at < ?2 AND ended_at IS NOT NULL";
        let doing = "removing old runs";
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM run_objects WHERE run_id IN ({OLD}) \
                 OR run_id IN (SELECT id FROM runs WHERE parent_id IN ({OLD}))"
            )))
            .bind(enterprise)
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            let done = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM runs WHERE id IN ({OLD}) OR parent_id IN ({OLD})"
            )))
            .bind(enterprise)
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
            Ok(done.rows_affected())
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn end_unfinished_runs(
        &self,
        root: Option<i64>,
        status: &str,
        ended_at: &str,
        message: &str,
    ) -> Result<Vec<i64>> {
        let doing = "recording the end of unfinished runs";
        let mut conn = self.lock().await;
        let rows = sqlx::query(
            "UPDATE runs SET status = ?1, ended_at = ?2, \
             message = CASE WHEN message IS NULL THEN ?3 ELSE message || '; ' || ?3 END \
             WHERE status = 'running' AND (?4 IS NULL OR id = ?4 OR parent_id = ?4) RETURNING id",
        )
        .bind(status)
        .bind(ended_at)
        .bind(message)
        .bind(root)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        let mut ids = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<Vec<i64>, _>>()
            .map_err(sql_err(doing))?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn outcomes(&self, run_id: i64) -> Result<Vec<ObjectOutcome>> {
        // The reading connection: the API answers while a batch is being written.
        let mut conn = self.read_lock().await;
        let rows = sqlx::query("SELECT data FROM run_objects WHERE run_id = ? ORDER BY chunk")
            .bind(run_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("reading object outcomes"))?;
        let mut out = Vec::new();
        for row in &rows {
            let data: String = row.try_get(0).map_err(sql_err("reading object outcomes"))?;
            decode_outcomes(&data, &mut out)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsync_model::AttrChange;

    #[test]
    fn outcomes_round_trip_through_their_compact_form() {
        let outcomes = vec![
            ObjectOutcome {
                connector: "hr".into(),
                object: "a\tb\\c\nd".into(),
                object_type: "person".into(),
                action: "updated".into(),
                message: Some("line 3: \"x\"\r\n".into()),
                changes: vec![AttrChange {
                    attribute: "mail".into(),
                    old: vec!["a@b".into()],
                    new: vec!["tab\there".into(), "ünï".into()],
                }],
            },
            ObjectOutcome {
                connector: String::new(),
                object: "entry:7".into(),
                object_type: String::new(),
                action: "entry-deleted".into(),
                message: None,
                changes: Vec::new(),
            },
        ];
        let mut back = Vec::new();
        decode_outcomes(&encode_outcomes(&outcomes).unwrap(), &mut back).unwrap();
        assert_eq!(back, outcomes);
        assert!(decode_outcomes("only\tthree\tfields\n", &mut back).is_err());
    }
}
