//! The audit in SQLite: one row per change or started run, never a secret.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, sql_err};
use crate::{AuditRecord, AuditStore, NewAudit, Result};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn add_audit(&self, entry: NewAudit) -> Result<()> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO audit (at, administrator, action, object, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(jiff::Timestamp::now().to_string())
        .bind(&entry.administrator)
        .bind(&entry.action)
        .bind(&entry.object)
        .bind(&entry.detail)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("recording an audit line"))?;
        Ok(())
    }

    async fn audit(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(
            "SELECT id, at, administrator, action, object, detail FROM audit \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("reading the audit"))?;
        rows.iter()
            .map(|row| {
                (|| {
                    Ok::<_, sqlx::Error>(AuditRecord {
                        id: row.try_get(0)?,
                        at: row.try_get(1)?,
                        administrator: row.try_get(2)?,
                        action: row.try_get(3)?,
                        object: row.try_get(4)?,
                        detail: row.try_get(5)?,
                    })
                })()
                .map_err(sql_err("reading the audit"))
            })
            .collect()
    }
}
