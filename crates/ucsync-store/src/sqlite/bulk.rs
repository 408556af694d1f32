//! Statements that write many rows at once. Their SQL is laid out with plain string pushes (sqlx's
//! `QueryBuilder` formats every placeholder and separator), and their values are handed over to
//! the driver: a borrowed text or blob would be copied once more on its way in.

use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments, Encode, Sqlite, SqliteConnection, Type};

use super::{MAX_VARS, sql_err};
use crate::{Result, StoreError};

/// `head`, then `rows` groups of `cols` placeholders — `(?, ?), (?, ?)` — then `tail`.
fn rows_sql(head: &str, rows: usize, cols: usize, tail: &str) -> String {
    let group = cols * 3;
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (group + 2));
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(?" } else { ", (?" });
        for _ in 1..cols {
            sql.push_str(", ?");
        }
        sql.push(')');
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

/// Runs `head (…), (…) tail` over `rows`, as many rows per statement as SQLite takes; `bind`
/// adds each row's `cols` values.
pub(crate) async fn write_rows<T>(
    conn: &mut SqliteConnection,
    rows: impl IntoIterator<Item = T>,
    (head, cols, tail): (&str, usize, &str),
    doing: &'static str,
    mut bind: impl FnMut(&mut Values, T),
) -> Result<()> {
    let per = (MAX_VARS / cols).max(1);
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
            sqlx::AssertSqlSafe(rows_sql(head, n, cols, tail)),
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
            super::rows_sql("INSERT INTO t (a, b) VALUES ", 3, 2, ";"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?);"
        );
        assert_eq!(super::rows_sql("X ", 1, 1, ""), "X (?)");
    }
}
