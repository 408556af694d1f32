//! The stored configuration and the scheduler's memory in the SQLite store. The configuration
//! is sealed with the secret key on the way in and opened on the way out (`secrets.rs`).

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, secrets, sql_err};
use crate::secret_key::KeyLocation;
use crate::{ConfigStore, Result, ScheduleState};

#[async_trait]
impl ConfigStore for SqliteStore {
    /// The configuration, opened with the secret key (it is stored sealed, never in clear).
    async fn config_text(&self) -> Result<Option<String>> {
        let location = KeyLocation::find(&self.data_dir());
        let mut conn = self.lock().await;
        let Some(sealed) = secrets::read_sealed(&mut conn).await? else {
            return Ok(None);
        };
        let key = secrets::key_for(&location, &sealed.key_id, self.path())?;
        secrets::unseal(&key, &sealed, self.path(), &location).map(Some)
    }

    /// Seals `text` with the key the stored configuration is sealed with (the key file, made
    /// on first use, when none is stored yet) and replaces the stored one.
    async fn put_config_text(&self, text: &str) -> Result<()> {
        let location = KeyLocation::find(&self.data_dir());
        let mut conn = self.lock().await;
        let key = match secrets::read_sealed(&mut conn).await? {
            Some(sealed) => secrets::key_for(&location, &sealed.key_id, self.path())?,
            None => secrets::key_for_new(&location)?,
        };
        secrets::write_sealed(&mut conn, &key, text).await
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
