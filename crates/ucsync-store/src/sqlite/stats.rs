//! Report queries in SQLite: run figures, pending work, directory size and search candidates,
//! all on the reading connection so that a scrape or a search never waits for a batch being
//! written (nor holds one up).
//!
//! Costs with 1M directory entries (2-core machine): pending counts read only the partial
//! indexes `staging_sync` and `staging_export`; counting entries walks the `entries` table once
//! per enterprise (about 60 ms); run figures read the `runs` table once; a search that matches
//! nothing reads every entry of the enterprise once in SQL (0.2–0.4 s) instead of decoding each
//! one.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use ucsync_model::EntryAttrs;

use super::{SqliteStore, sql_err};
use crate::stats::{DURATION_BUCKETS, EntrySearch, PendingWork, RunGroup, StatsStore};
use crate::{Counters, Entry, Result, StoreError};

/// A `LIKE` pattern that every entry whose values contain `text` (compared after Unicode
/// lowercasing, as `str::to_lowercase`) matches when its encoded attributes are read as text;
/// `None` when it would match everything.
///
/// SQLite's `LIKE` folds ASCII letters only, so the pattern keeps the needle's ASCII characters
/// in order (`%` wherever a non-ASCII character stands) and lets `_` stand for `i` and `k`: the
/// only characters outside ASCII whose lowercase contains ASCII are `İ` (to `i̇`) and the Kelvin
/// sign (to `k`). `LIKE` stops at a NUL byte, which the encoding uses for a hand-set value's
/// source and for empty strings, so the query lets entries with a NUL through as well.
pub(crate) fn like_pattern(text: &str) -> Option<String> {
    let mut pattern = String::from("%");
    // Whether the pattern ends with the wildcard `%`, and whether it holds a literal.
    let (mut wild, mut literal) = (true, false);
    for c in text.to_lowercase().chars() {
        match c {
            'i' | 'k' => pattern.push('_'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
                literal = true;
            }
            c if c.is_ascii() && c != '\0' => {
                pattern.push(c);
                literal = true;
            }
            _ => {
                if !wild {
                    pattern.push('%');
                    wild = true;
                }
                continue;
            }
        }
        wild = false;
    }
    if !wild {
        pattern.push('%');
    }
    literal.then_some(pattern)
}

fn entry_from_row(row: &SqliteRow) -> Result<Entry> {
    let doing = "searching directory entries";
    let id: i64 = row.try_get(0).map_err(sql_err(doing))?;
    let attrs: Vec<u8> = row.try_get(3).map_err(sql_err(doing))?;
    let attrs = EntryAttrs::decode(&attrs).map_err(|e| StoreError::Corrupt {
        doing,
        message: format!("entry {id}: {} at byte {}", e.what, e.at),
    })?;
    Ok(Entry {
        id,
        enterprise_id: row.try_get(1).map_err(sql_err(doing))?,
        object_type: row.try_get(2).map_err(sql_err(doing))?,
        attrs,
    })
}

fn run_group(row: &SqliteRow) -> std::result::Result<RunGroup, sqlx::Error> {
    let mut duration_buckets = Vec::with_capacity(DURATION_BUCKETS.len());
    for i in 0..DURATION_BUCKETS.len() {
        duration_buckets.push(row.try_get(14 + i)?);
    }
    Ok(RunGroup {
        enterprise: row.try_get(0)?,
        connector: row.try_get(1)?,
        profile: row.try_get(2)?,
        status: row.try_get(3)?,
        top_level: row.try_get::<i64, _>(4)? != 0,
        runs: row.try_get(5)?,
        counters: Counters {
            added: row.try_get(6)?,
            updated: row.try_get(7)?,
            deleted: row.try_get(8)?,
            unchanged: row.try_get(9)?,
            errors: row.try_get(10)?,
        },
        finished: row.try_get(11)?,
        duration_sum: row.try_get(12)?,
        last_end: row.try_get(13)?,
        duration_buckets,
    })
}

#[async_trait]
impl StatsStore for SqliteStore {
    async fn run_groups(&self) -> Result<Vec<RunGroup>> {
        let buckets: String = DURATION_BUCKETS
            .iter()
            .map(|b| format!(", COALESCE(SUM(d <= {b:?}), 0)"))
            .collect();
        // Times are RFC 3339 in UTC (`2026-11-22T10:00:00.123Z`), which julianday() reads.
        let sql = format!(
            "SELECT enterprise, connector, profile, status, parent_id IS NULL, COUNT(*), \
             COALESCE(SUM(added), 0), COALESCE(SUM(updated), 0), COALESCE(SUM(deleted), 0), \
             COALESCE(SUM(unchanged), 0), COALESCE(SUM(errors), 0), \
             COUNT(d), COALESCE(SUM(d), 0.0), MAX(e){buckets} \
             FROM (SELECT enterprise, connector, profile, status, parent_id, added, updated, \
                   deleted, unchanged, errors, \
                   (julianday(ended_at) - julianday(started_at)) * 86400.0 AS d, \
                   (julianday(ended_at) - 2440587.5) * 86400.0 AS e FROM runs) \
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
        );
        let mut conn = self.read_lock().await;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("adding up runs"))?;
        rows.iter()
            .map(|row| run_group(row).map_err(sql_err("adding up runs")))
            .collect()
    }

    async fn pending_work(&self) -> Result<Vec<PendingWork>> {
        let doing = "counting pending work";
        let mut conn = self.read_lock().await;
        // Each query walks one partial index in connector order: no sort, no table row read.
        let sync: HashMap<i64, i64> = sqlx::query(
            "SELECT connector_id, COUNT(*) FROM staging WHERE sync_state != 0 \
             GROUP BY connector_id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(sql_err(doing))?;
        let exports: HashMap<i64, [i64; 3]> = sqlx::query(
            "SELECT connector_id, SUM(export_op = 1), SUM(export_op = 2), SUM(export_op = 3) \
             FROM staging WHERE export_op IS NOT NULL GROUP BY connector_id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?
        .iter()
        .map(|r| Ok((r.try_get(0)?, [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?])))
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(sql_err(doing))?;
        let connectors = sqlx::query(
            "SELECT c.id, c.name, e.name FROM connectors c \
             JOIN enterprises e ON e.id = c.enterprise_id ORDER BY c.name",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_err(doing))?;
        connectors
            .iter()
            .map(|r| {
                let id: i64 = r.try_get(0)?;
                let [adds, updates, deletes] = exports.get(&id).copied().unwrap_or_default();
                Ok(PendingWork {
                    connector: r.try_get(1)?,
                    enterprise: r.try_get(2)?,
                    pending_sync: sync.get(&id).copied().unwrap_or(0),
                    pending_adds: adds,
                    pending_updates: updates,
                    pending_deletes: deletes,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(sql_err(doing))
    }

    async fn entry_counts(&self) -> Result<Vec<(String, i64)>> {
        let doing = "counting directory entries";
        let mut conn = self.read_lock().await;
        let enterprises = sqlx::query("SELECT id, name FROM enterprises ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err(doing))?;
        let mut out = Vec::with_capacity(enterprises.len());
        for row in &enterprises {
            let id: i64 = row.try_get(0).map_err(sql_err(doing))?;
            let name: String = row.try_get(1).map_err(sql_err(doing))?;
            // With one enterprise every entry is its own, and SQLite counts the table's cells
            // without decoding a row (half the time of the filtered count).
            let query = if enterprises.len() == 1 {
                sqlx::query("SELECT COUNT(*) FROM entries")
            } else {
                sqlx::query("SELECT COUNT(*) FROM entries WHERE enterprise_id = ?").bind(id)
            };
            let n: i64 = query
                .fetch_one(&mut *conn)
                .await
                .map_err(sql_err(doing))?
                .try_get(0)
                .map_err(sql_err(doing))?;
            out.push((name, n));
        }
        Ok(out)
    }

    async fn enterprise_id(&self, name: &str) -> Result<Option<i64>> {
        let mut conn = self.read_lock().await;
        sqlx::query("SELECT id FROM enterprises WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .map_err(sql_err("reading an enterprise"))?
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(sql_err("reading an enterprise"))
    }

    async fn search_page(&self, search: &EntrySearch) -> Result<Vec<Entry>> {
        let pattern = search.text.as_deref().and_then(like_pattern);
        let sql = search_sql(search.object_type.is_some(), pattern.is_some());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(search.enterprise_id)
            .bind(search.after_id);
        if let Some(t) = &search.object_type {
            query = query.bind(t.clone());
        }
        if let Some(p) = pattern {
            query = query.bind(p);
        }
        let mut conn = self.read_lock().await;
        let rows = query
            .bind(search.limit)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql_err("searching directory entries"))?;
        drop(conn);
        rows.iter().map(entry_from_row).collect()
    }
}

/// A page of a directory search: the candidates in id order (an object type, a pattern that
/// every match fits). As [`super::directory::ENTRIES_PAGE`], `+enterprise_id` walks the rowid
/// from the last page's end: a search that finds its entries early reads only those.
pub(super) fn search_sql(object_type: bool, pattern: bool) -> String {
    let mut sql = String::from(
        "SELECT id, enterprise_id, object_type, attrs FROM entries \
         WHERE +enterprise_id = ? AND id > ?",
    );
    if object_type {
        sql.push_str(" AND object_type = ?");
    }
    if pattern {
        sql.push_str(" AND (CAST(attrs AS TEXT) LIKE ? ESCAPE '\\' OR instr(attrs, X'00') > 0)");
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    sql
}

#[cfg(test)]
mod tests {
    use super::like_pattern;
    use crate::*;
    use ucsync_model::EntryAttrs;

    #[test]
    fn like_patterns_keep_ascii_in_order_and_never_miss_a_match() {
        assert_eq!(like_pattern("Sur42").as_deref(), Some("%sur42%"));
        assert_eq!(
            like_pattern("50%_off\\").as_deref(),
            Some("%50\\%\\_off\\\\%")
        );
        // i and k may come from İ and the Kelvin sign; ü is compared in Rust.
        assert_eq!(like_pattern("Müller-Kim").as_deref(), Some("%m%ller-__m%"));
        assert_eq!(like_pattern("%ü").as_deref(), Some("%\\%%"));
        assert_eq!(like_pattern("ü"), None);
        assert_eq!(like_pattern("ik"), None);
        assert_eq!(like_pattern(""), None);
    }

    fn entry(id: i64, enterprise_id: i64, source: Option<i64>, values: &[&str]) -> EntryWrite {
        let mut attrs = EntryAttrs::new();
        attrs.set("cn", source, values.iter().map(|v| v.to_string()).collect());
        attrs.set("uid", Some(1), vec![format!("u{id}")]);
        EntryWrite {
            id,
            enterprise_id,
            object_type: if id % 2 == 0 { "person" } else { "group" }.into(),
            attrs: attrs.encode(),
            keys: Vec::new(),
            is_new: true,
        }
    }

    /// Every entry a search in Rust finds is among the store's candidates, whatever the case,
    /// the script, NUL bytes of hand-set values, or `LIKE`'s own wildcards in the text.
    #[tokio::test]
    async fn search_candidates_include_every_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let e = store.ensure_enterprise("default").await.unwrap();
        let other = store.ensure_enterprise("other").await.unwrap();
        let long = "x".repeat(300);
        let values: &[&[&str]] = &[
            &["Anna Müller"],
            &["ANNA MÜLLER"],
            &["İstanbul Office"],
            &["\u{212A}elvin Kay"],
            &["50%_off\\now", ""],
            &[long.as_str(), "tail Match"],
            &["Plain"],
            &["ünïcode ÉCOLE"],
        ];
        let mut batch = SyncBatch::default();
        for (i, v) in values.iter().enumerate() {
            let id = i as i64 + 1;
            // Every third value is set by hand: its source is encoded as a NUL byte.
            let source = (i % 3 != 0).then_some(2);
            batch.entries.push(entry(id, e, source, v));
        }
        batch
            .entries
            .push(entry(100, other, Some(2), &["Anna Müller"]));
        store.apply_sync_batch(batch).await.unwrap();
        let all = store
            .entries_by_ids(&(1..=8).collect::<Vec<_>>())
            .await
            .unwrap();

        for needle in [
            "müller",
            "MÜLLER",
            "anna m",
            "i̇stanbul",
            "istanbul",
            "kelvin",
            "k",
            "%_off\\",
            "_",
            "%",
            "match",
            "x tail",
            "école",
            "ÜNÏ",
            "plain",
            "nothing",
            "u3",
        ] {
            let n = needle.to_lowercase();
            let expected: Vec<i64> = all
                .iter()
                .filter(|x| {
                    x.attrs
                        .iter()
                        .any(|(_, _, vs)| vs.iter().any(|v| v.to_lowercase().contains(&n)))
                })
                .map(|x| x.id)
                .collect();
            let found: Vec<i64> = store
                .search_page(&EntrySearch {
                    enterprise_id: e,
                    text: Some(needle.into()),
                    limit: 1000,
                    ..EntrySearch::default()
                })
                .await
                .unwrap()
                .iter()
                .map(|x| x.id)
                .collect();
            for id in &expected {
                assert!(found.contains(id), "{needle}: {id} missing from {found:?}");
            }
            assert!(
                !found.contains(&100),
                "{needle}: another enterprise's entry"
            );
        }
        // Candidates come in id order, paged: the matches, and the entries with a hand-set
        // value (1, 4 and 7: a NUL byte, where `LIKE` would stop reading).
        let search = |text: &str, object_type: Option<&str>, after_id: i64, limit: i64| {
            let search = EntrySearch {
                enterprise_id: e,
                text: Some(text.into()),
                object_type: object_type.map(Into::into),
                after_id,
                limit,
            };
            let store = &store;
            async move {
                let page = store.search_page(&search).await.unwrap();
                page.iter().map(|x| x.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(search("anna", None, 0, 10).await, [1, 2, 4, 7]);
        assert_eq!(search("anna", None, 1, 10).await, [2, 4, 7]);
        assert_eq!(search("anna", None, 0, 1).await, [1]);
        assert_eq!(search("anna", Some("person"), 0, 10).await, [2, 4]);
        assert_eq!(search("nothing-like-it", None, 0, 10).await, [1, 4, 7]);
        assert_eq!(search("plain", None, 5, 10).await, [7]);

        assert_eq!(store.enterprise_id("other").await.unwrap(), Some(other));
        assert_eq!(store.enterprise_id("nope").await.unwrap(), None);
        assert_eq!(
            store.entry_counts().await.unwrap(),
            [("default".to_owned(), 8), ("other".to_owned(), 1)]
        );
    }

    #[tokio::test]
    async fn runs_are_added_up_by_kind_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let new = |parent_id, connector: Option<&str>, profile: &str, started: &str| NewRun {
            parent_id,
            enterprise: "default".into(),
            connector: connector.map(Into::into),
            profile: profile.into(),
            started_at: started.into(),
            started_by: "local".into(),
        };
        let end = |status: &str, ended: &str, added| RunEnd {
            status: status.into(),
            ended_at: ended.into(),
            counters: Counters {
                added,
                ..Counters::default()
            },
            message: None,
            status_file: None,
        };
        let parent = store
            .create_run(new(None, None, "sync-now", "2026-11-22T10:00:00Z"))
            .await
            .unwrap();
        for (i, seconds) in ["00.250", "02.000"].iter().enumerate() {
            let step = store
                .create_run(new(
                    Some(parent),
                    Some("hr"),
                    "delta-import",
                    "2026-11-22T10:00:00Z",
                ))
                .await
                .unwrap();
            let ended = format!("2026-11-22T10:00:{seconds}Z");
            store
                .finish_run(step, end("success", &ended, 10 + i as i64))
                .await
                .unwrap();
        }
        store
            .finish_run(parent, end("success", "2026-11-22T10:00:03.500Z", 21))
            .await
            .unwrap();
        store
            .create_run(new(None, Some("hr"), "export", "2026-11-22T11:00:00Z"))
            .await
            .unwrap();

        let groups = store.run_groups().await.unwrap();
        assert_eq!(groups.len(), 3, "{groups:?}");
        let steps = &groups[1];
        assert_eq!(
            (
                steps.connector.as_deref(),
                steps.profile.as_str(),
                steps.top_level
            ),
            (Some("hr"), "delta-import", false)
        );
        assert_eq!(
            (steps.runs, steps.finished, steps.counters.added),
            (2, 2, 21)
        );
        assert!((steps.duration_sum - 2.25).abs() < 0.01, "{steps:?}");
        // Bounds 0.1, 0.5, 1, 5, …: one run took 0.25 s, the other 2 s.
        assert_eq!(steps.duration_buckets[..4], [0, 1, 1, 2]);
        let last = steps.last_end.unwrap();
        assert!((last - 1_795_341_602.0).abs() < 0.01, "{last}");
        let running = &groups[2];
        assert_eq!(
            (
                running.profile.as_str(),
                running.status.as_str(),
                running.finished
            ),
            ("export", "running", 0)
        );
        assert_eq!(running.last_end, None);
        assert_eq!(running.duration_buckets, vec![0; DURATION_BUCKETS.len()]);
        let sync_now = &groups[0];
        assert_eq!(
            (sync_now.connector.as_deref(), sync_now.top_level),
            (None, true)
        );
        assert!((sync_now.duration_sum - 3.5).abs() < 0.01, "{sync_now:?}");
    }
}
