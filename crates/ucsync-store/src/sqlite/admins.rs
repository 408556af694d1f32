//! Administrators and API tokens in the SQLite store.

use async_trait::async_trait;
use sqlx::Row;

use super::{SqliteStore, sql_err};
use crate::{AdminRow, AdminStore, Result, TokenRow};

const COLUMNS: &str = "admins.id, admins.name, admins.role, admins.password_hash, admins.created_at, \
     admins.enterprise";

fn admin_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<AdminRow> {
    (|| {
        Ok::<_, sqlx::Error>(AdminRow {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            role: row.try_get(2)?,
            password_hash: row.try_get(3)?,
            created_at: row.try_get(4)?,
            enterprise: row.try_get(5)?,
        })
    })()
    .map_err(sql_err("reading an administrator"))
}

/// A token as it may be shown: no hash.
const TOKEN_COLUMNS: &str = "api_tokens.id, admins.name, api_tokens.label, api_tokens.created_at";

fn token_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<TokenRow> {
    (|| {
        Ok::<_, sqlx::Error>(TokenRow {
            id: row.try_get(0)?,
            admin: row.try_get(1)?,
            label: row.try_get(2)?,
            created_at: row.try_get(3)?,
        })
    })()
    .map_err(sql_err("reading an API token"))
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn put_admin(
        &self,
        name: &str,
        role: &str,
        enterprise: Option<&str>,
        password_hash: &str,
    ) -> Result<i64> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO admins (name, role, enterprise, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, enterprise = excluded.enterprise,
             password_hash = excluded.password_hash
             RETURNING id",
        )
        .bind(name)
        .bind(role)
        .bind(enterprise)
        .bind(password_hash)
        .bind(now())
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("recording an administrator"))?
        .try_get(0)
        .map_err(sql_err("recording an administrator"))
    }

    async fn admin(&self, name: &str) -> Result<Option<AdminRow>> {
        let mut conn = self.read_lock().await;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admins WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err("reading an administrator"))?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn admins(&self) -> Result<Vec<AdminRow>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM admins ORDER BY name"
        )))
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("listing administrators"))?;
        rows.iter().map(admin_from_row).collect()
    }

    async fn remove_admin(&self, name: &str) -> Result<bool> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            sqlx::query(
                "DELETE FROM api_tokens WHERE admin_id IN (SELECT id FROM admins WHERE name = ?)",
            )
            .bind(name)
            .execute(&mut *conn)
            .await
            .map_err(sql_err("removing an administrator's tokens"))?;
            let done = sqlx::query("DELETE FROM admins WHERE name = ?")
                .bind(name)
                .execute(&mut *conn)
                .await
                .map_err(sql_err("removing an administrator"))?;
            Ok(done.rows_affected() > 0)
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn add_token(&self, admin_id: i64, token_hash: &str, label: &str) -> Result<i64> {
        let mut conn = self.lock().await;
        sqlx::query(
            "INSERT INTO api_tokens (admin_id, token_hash, label, created_at) VALUES (?, ?, ?, ?) \
             RETURNING id",
        )
        .bind(admin_id)
        .bind(token_hash)
        .bind(label)
        .bind(now())
        .fetch_one(&mut *conn)
        .await
        .map_err(sql_err("recording an API token"))?
        .try_get(0)
        .map_err(sql_err("recording an API token"))
    }

    async fn admin_by_token(&self, token_hash: &str) -> Result<Option<AdminRow>> {
        let mut conn = self.read_lock().await;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens JOIN admins ON admins.id = api_tokens.admin_id \
             WHERE api_tokens.token_hash = ?"
        )))
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await
        .map_err(sql_err("checking an API token"))?;
        row.as_ref().map(admin_from_row).transpose()
    }

    async fn tokens(&self, admin_id: Option<i64>) -> Result<Vec<TokenRow>> {
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens JOIN admins ON admins.id = api_tokens.admin_id \
             WHERE ?1 IS NULL OR api_tokens.admin_id = ?1 ORDER BY api_tokens.id"
        )))
        .bind(admin_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err("listing API tokens"))?;
        rows.iter().map(token_from_row).collect()
    }

    async fn remove_token(&self, id: i64) -> Result<Option<TokenRow>> {
        let mut conn = self.lock().await;
        self.begin(&mut conn).await?;
        let result = async {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens \
                 JOIN admins ON admins.id = api_tokens.admin_id WHERE api_tokens.id = ?"
            )))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err("revoking an API token"))?;
            let token = row.as_ref().map(token_from_row).transpose()?;
            sqlx::query("DELETE FROM api_tokens WHERE id = ?")
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(sql_err("revoking an API token"))?;
            Ok(token)
        }
        .await;
        self.finish(&mut conn, result).await
    }

    async fn remove_labelled_tokens(
        &self,
        admin_id: i64,
        label: &str,
        keep: Option<&str>,
    ) -> Result<u64> {
        let mut conn = self.lock().await;
        let done = sqlx::query(
            "DELETE FROM api_tokens WHERE admin_id = ? AND label = ? AND token_hash IS NOT ?",
        )
        .bind(admin_id)
        .bind(label)
        .bind(keep)
        .execute(&mut *conn)
        .await
        .map_err(sql_err("revoking an administrator's tokens"))?;
        Ok(done.rows_affected())
    }
}
