//! Statements that write many rows at once. Their SQL is laid out with plain string pushes (sqlx's
//! `QueryBuilder` formats every placeholder and separator), and their values are handed over to
//! the driver: a borrowed text or blob would be copied once more on its way in.

use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, Sqlite, SqliteConnection, Type};

use super::{MAX_VARS, sql_err};
use crate::{Result, StoreError};

/// `head`, then `rows` copies of `row` — `(?, ?), (?, ?)` — then `tail`.
fn rows_sql(head: &str, rows: usize, row: &str, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 2));
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    sql
}

/// The values of one statement, in placeholder order.
pub(crate) struct Values {
    args: SqliteArguments,
    error: Option<BoxDynError>,
}

impl Values {
    fn with_capacity(n: usize) -> Self {
        let mut args = SqliteArguments::default();
        args.reserve(n, 0);
        Values { args, error: None }
    }

    pub fn add<'q, T: Encode<'q, Sqlite> + Type<Sqlite>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
        self
    }
}

/// Runs `head row, row tail` over `rows`, as many rows per statement as SQLite takes; `row` is
/// a group of placeholders, and values that are the same for every row can be written into it
/// as literals instead (fewer values to bind); `bind` adds each row's values.
pub(crate) async fn write_rows<T>(
    conn: &mut SqliteConnection,
    rows: impl IntoIterator<Item = T>,
    (head, row, tail): (&str, &str, &str),
    doing: &'static str,
    mut bind: impl FnMut(&mut Values, T),
) -> Result<()> {
    let cols = row.matches('?').count();
    let per = (MAX_VARS / cols.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut values = Values::with_capacity(per * cols);
        let mut n = 0;
        for row in rows.by_ref().take(per) {
            bind(&mut values, row);
            n += 1;
        }
        if let Some(e) = values.error {
            return Err(StoreError::Sql {
                doing,
                message: e.to_string(),
            });
        }
        sqlx::query_with(
            sqlx::AssertSqlSafe(rows_sql(head, n, row, tail)),
            values.args,
        )
        .execute(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_are_laid_out_in_groups() {
        assert_eq!(
            super::rows_sql("INSERT INTO t (a, b, c) VALUES ", 3, "(?, ?, 1)", ";"),
            "INSERT INTO t (a, b, c) VALUES (?, ?, 1), (?, ?, 1), (?, ?, 1);"
        );
        assert_eq!(super::rows_sql("X ", 1, "(?)", ""), "X (?)");
    }
}
