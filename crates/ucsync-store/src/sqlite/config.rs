//! The stored configuration and the scheduler's memory in the SQLite store.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, sql_err};
use crate::{ConfigStore, Result, ScheduleState};

#[async_trait]
impl ConfigStore for SqliteStore {
    async fn config_text(&self) -> Result<Option<String>> {
        let mut conn = self.lock().await;
        sqlx::query("SELECT text FROM config WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err("reading the configuration"))?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(sql_err("reading the configuration"))
    }

    async fn put_config_text(&self, text: &str) -> Result<()> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO config (id, text, updated_at) VALUES (1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
        )
        .bind(text)
        .bind(jiff::Timestamp::now().to_string())
        .execute(&mut *conn)
        .await
        .map_err(sql_err("saving the configuration"))?;
        Ok(())
    }

    async fn schedule_states(&self) -> Result<Vec<ScheduleState>> {
        let mut conn = self.lock().await;
        let rows = sqlx::query("SELECT name, last_slot, run_id, note FROM schedule_state")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("reading the schedules' state"))?;
        rows.iter()
            .map(|row| {
                Ok(ScheduleState {
                    name: row.try_get(0)?,
                    last_slot: row.try_get(1)?,
                    run_id: row.try_get(2)?,
                    note: row.try_get(3)?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(sql_err("reading the schedules' state"))
    }

    async fn put_schedule_state(&self, state: &ScheduleState) -> Result<()> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO schedule_state (name, last_slot, run_id, note) VALUES (?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET last_slot = excluded.last_slot,
                 run_id = excluded.run_id, note = excluded.note",
        )
        .bind(&state.name)
        .bind(&state.last_slot)
        .bind(state.run_id)
        .bind(&state.note)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("saving a schedule's state"))?;
        Ok(())
    }
}
