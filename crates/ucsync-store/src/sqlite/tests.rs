//! The SQLite store against a real file.

use super::*;
use crate::*;
use ucsync_model::Attrs;

fn upsert(anchor: &str, mail: &str) -> StagedUpsert {
    let mut a = Attrs::new();
    a.set_one("mail", mail);
    StagedUpsert {
        id: None,
        anchor: anchor.into(),
        object_type: "person".into(),
        hash: ucsync_model::attrs::object_hash("person", &a.encode()),
        attrs: a.encode(),
    }
}

/// Stages `upserts` in one import batch of connector `c`.
async fn stage(store: &dyn Store, c: i64, upserts: Vec<StagedUpsert>) -> Result<()> {
    store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            upserts,
            ..ImportBatch::default()
        })
        .await
}

async fn store_with_connector() -> (tempfile::TempDir, SqliteStore, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let e = store.ensure_enterprise("default").await.unwrap();
    let c = store.ensure_connector("hr", e, "csv").await.unwrap().id;
    (dir, store, c)
}

#[tokio::test]
async fn opening_twice_keeps_data_and_a_newer_schema_is_refused() {
    let (dir, store, c) = store_with_connector().await;
    store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            upserts: vec![upsert("1", "a@x")],
            watermark: Some("w1".into()),
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.anchor_index(c).await.unwrap().len(), 1);
    assert_eq!(
        store.connectors().await.unwrap()[0].watermark.as_deref(),
        Some("w1")
    );
    {
        let mut conn = store.lock().await;
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(LAST_SCHEMA_VERSION + 1)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    drop(store);
    let err = SqliteStore::open(dir.path()).await.err().unwrap();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

#[tokio::test]
async fn staged_more_than_counts_one_connector_up_to_the_limit() {
    let (_dir, store, c) = store_with_connector().await;
    assert!(!store.staged_more_than(c, 0).await.unwrap());
    assert!(store.staging_is_empty(c).await.unwrap());
    let rows = ["1", "2", "3"].map(|a| upsert(a, &format!("{a}@x")));
    stage(&store, c, rows.to_vec()).await.unwrap();
    for (n, more) in [(0, true), (2, true), (3, false), (4, false)] {
        assert_eq!(store.staged_more_than(c, n).await.unwrap(), more, "{n}");
    }
    assert!(!store.staged_more_than(c + 1, 0).await.unwrap());
}

#[tokio::test]
async fn a_failing_batch_leaves_nothing_behind() {
    let (_dir, store, c) = store_with_connector().await;
    // Two new rows with the same anchor violate the unique index: the whole batch goes.
    let err = store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            upserts: vec![upsert("1", "a@x"), upsert("2", "b@x"), upsert("1", "c@x")],
            watermark: Some("w".into()),
            ..ImportBatch::default()
        })
        .await;
    assert!(err.is_err());
    assert!(store.anchor_index(c).await.unwrap().is_empty());
    assert_eq!(store.connectors().await.unwrap()[0].watermark, None);
}

#[tokio::test]
async fn a_failing_batch_in_a_preview_leaves_the_earlier_batches_of_the_preview() {
    let (_dir, store, c) = store_with_connector().await;
    let preview = store.begin_preview().await.unwrap();
    stage(preview.as_ref(), c, vec![upsert("1", "a@x")])
        .await
        .unwrap();
    // The failing statement wrote "2" before it met the duplicate "3"; none of it stays.
    let err = stage(
        preview.as_ref(),
        c,
        vec![upsert("2", "b@x"), upsert("3", "c@x"), upsert("3", "d@x")],
    )
    .await;
    assert!(err.is_err());
    let index = preview.anchor_index(c).await.unwrap();
    let anchors: Vec<&str> = index.iter().map(|a| a.anchor.as_str()).collect();
    assert_eq!(anchors, ["1"]);
    preview.end_preview().await.unwrap();
    assert!(store.anchor_index(c).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_preview_sees_its_own_writes_and_keeps_none() {
    let (_dir, store, c) = store_with_connector().await;
    let preview = store.begin_preview().await.unwrap();
    stage(preview.as_ref(), c, vec![upsert("1", "a@x")])
        .await
        .unwrap();
    assert_eq!(preview.count_staged(c, true).await.unwrap().pending_sync, 1);
    // Nobody else sees it meanwhile.
    assert_eq!(store.count_staged(c, true).await.unwrap().total, 0);
    preview.end_preview().await.unwrap();
    assert_eq!(store.count_staged(c, true).await.unwrap().total, 0);
    // An ended session takes no further write, so nothing of it can ever commit.
    assert!(
        stage(preview.as_ref(), c, vec![upsert("2", "b@x")])
            .await
            .is_err()
    );
    assert_eq!(store.count_staged(c, true).await.unwrap().total, 0);
}

/// The defect of issue 17: the batches another run wrote during a preview became savepoints of
/// the preview's transaction and were rolled back with it.
#[tokio::test]
async fn writes_made_during_a_preview_wait_for_it_and_are_kept() {
    let (_dir, store, c) = store_with_connector().await;
    let store: Arc<dyn Store> = Arc::new(store);
    let preview = store.begin_preview().await.unwrap();
    stage(preview.as_ref(), c, vec![upsert("p", "p@x")])
        .await
        .unwrap();
    let writer = store.clone();
    let write = tokio::spawn(async move {
        stage(
            writer.as_ref(),
            c,
            vec![upsert("1", "a@x"), upsert("2", "b@x")],
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !write.is_finished(),
        "a write goes on only after the preview"
    );
    // The preview does not see the other write either.
    assert_eq!(preview.count_staged(c, true).await.unwrap().total, 1);
    preview.end_preview().await.unwrap();
    write.await.unwrap().unwrap();
    let index = store.anchor_index(c).await.unwrap();
    let mut anchors: Vec<&str> = index.iter().map(|a| a.anchor.as_str()).collect();
    anchors.sort();
    assert_eq!(anchors, ["1", "2"]);
}

#[tokio::test]
async fn entry_ids_reserved_at_the_same_time_never_meet() {
    let (_dir, store, _) = store_with_connector().await;
    let store: Arc<dyn Store> = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_entry_ids(100).await.unwrap() })
        })
        .collect();
    let mut firsts = Vec::new();
    for t in tasks {
        firsts.push(t.await.unwrap());
    }
    firsts.sort();
    for pair in firsts.windows(2) {
        assert!(pair[1] >= pair[0] + 100, "{firsts:?}");
    }
    // A preview session takes from the same ranges.
    let preview = store.begin_preview().await.unwrap();
    assert!(preview.reserve_entry_ids(1).await.unwrap() >= firsts[7] + 100);
    preview.end_preview().await.unwrap();
}

#[tokio::test]
async fn deletions_of_unlinked_objects_go_and_linked_ones_wait_for_sync() {
    let (_dir, store, c) = store_with_connector().await;
    stage(&store, c, vec![upsert("1", "a@x"), upsert("2", "b@x")])
        .await
        .unwrap();
    let index = store.anchor_index(c).await.unwrap();
    let id = |a: &str| index.iter().find(|i| i.anchor == a).unwrap().id;
    store
        .apply_sync_batch(SyncBatch {
            staged: vec![StagedWrite {
                id: id("1"),
                entry_id: Some(7),
                sync_state: Some(SyncState::Clean),
                sync_error: None,
                export: None,
            }],
            ..SyncBatch::default()
        })
        .await
        .unwrap();
    store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            deletes: vec![id("1"), id("2")],
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    let left = store
        .staged_page(c, 0, 10, StagedFilter::All)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].anchor, "1");
    assert_eq!(left[0].sync_state, SyncState::Deleted);
    assert!(left[0].attrs.is_none());
}

#[tokio::test]
async fn the_anchor_index_survives_any_characters_in_anchors() {
    let (_dir, store, c) = store_with_connector().await;
    let anchors = ["plain", "with:colons;and;semis", "Ännä 李 ☎", "12:34", ""];
    let upserts: Vec<StagedUpsert> = anchors.iter().map(|a| upsert(a, "x@y")).collect();
    stage(&store, c, upserts).await.unwrap();
    let mut index: Vec<String> = store
        .anchor_index(c)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.anchor)
        .collect();
    index.sort();
    let mut expected: Vec<String> = anchors.iter().map(|a| a.to_string()).collect();
    expected.sort();
    assert_eq!(index, expected);
    assert!(
        store
            .anchor_index(c)
            .await
            .unwrap()
            .iter()
            .all(|a| a.present && a.hash != 0)
    );
}

#[tokio::test]
async fn held_keys_are_found_before_they_are_written_and_lost_keys_clear_the_spec() {
    let (dir, store, _) = store_with_connector().await;
    let e = store.ensure_enterprise("default").await.unwrap();
    store.add_keys(e, &[], Some("spec")).await.unwrap();
    let entry = |id: i64, keys: Vec<i64>| EntryWrite {
        id,
        enterprise_id: e,
        object_type: "person".into(),
        attrs: ucsync_model::EntryAttrs::new().encode(),
        keys,
        is_new: true,
    };
    store.hold_keys(e).await.unwrap();
    assert_eq!(store.key_spec(e).await.unwrap(), None);
    store
        .apply_sync_batch(SyncBatch {
            enterprise_id: e,
            entries: vec![entry(1, vec![10, 11]), entry(2, vec![10])],
            ..SyncBatch::default()
        })
        .await
        .unwrap();
    store
        .apply_sync_batch(SyncBatch {
            enterprise_id: e,
            stale_keys: vec![(11, 1)],
            ..SyncBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store.entries_by_keys(&[10, 11]).await.unwrap(),
        [(10, 1), (10, 2)]
    );
    {
        let mut conn = store.lock().await;
        let stored: i64 = sqlx::query("SELECT COUNT(*) FROM entry_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, 0, "held keys are not written batch by batch");
    }
    store.write_held_keys(e, "spec").await.unwrap();
    assert_eq!(store.key_spec(e).await.unwrap().as_deref(), Some("spec"));
    assert_eq!(
        store.entries_by_keys(&[10, 11]).await.unwrap(),
        [(10, 1), (10, 2)]
    );

    // Keys held by a process that ends before writing them are gone, and so is the spec: the
    // next sync rebuilds them.
    store.hold_keys(e).await.unwrap();
    store
        .apply_sync_batch(SyncBatch {
            enterprise_id: e,
            entries: vec![entry(3, vec![12])],
            ..SyncBatch::default()
        })
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.key_spec(e).await.unwrap(), None);
    assert!(store.entries_by_keys(&[12]).await.unwrap().is_empty());
}

#[tokio::test]
async fn keys_held_for_one_enterprise_leave_the_others_written_at_once() {
    let (_dir, store, _) = store_with_connector().await;
    let (a, b) = (
        store.ensure_enterprise("a").await.unwrap(),
        store.ensure_enterprise("b").await.unwrap(),
    );
    let entry = |id: i64, enterprise_id: i64, key: i64| EntryWrite {
        id,
        enterprise_id,
        object_type: "person".into(),
        attrs: ucsync_model::EntryAttrs::new().encode(),
        keys: vec![key],
        is_new: true,
    };
    store.hold_keys(a).await.unwrap();
    for (id, e, key) in [(1, a, 10), (2, b, 20)] {
        store
            .apply_sync_batch(SyncBatch {
                enterprise_id: e,
                entries: vec![entry(id, e, key)],
                ..SyncBatch::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(
        stored_keys(&store).await,
        1,
        "b's key is written, a's is held"
    );
    assert_eq!(
        store.entries_by_keys(&[10, 20]).await.unwrap(),
        [(10, 1), (20, 2)]
    );
    // b's sync ending does not write or drop a's keys.
    store.write_held_keys(b, "spec").await.unwrap();
    assert_eq!(stored_keys(&store).await, 1);
    store.write_held_keys(a, "spec").await.unwrap();
    assert_eq!(stored_keys(&store).await, 2);
}

async fn stored_keys(store: &SqliteStore) -> i64 {
    let mut conn = store.lock().await;
    sqlx::query("SELECT COUNT(*) FROM entry_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get::<i64, _>(0)
}

#[tokio::test]
async fn a_full_step_is_unfinished_until_it_records_its_fingerprint() {
    let (_dir, store, c) = store_with_connector().await;
    let fresh = first_connector(&store).await;
    assert_eq!(
        (
            fresh.import_fingerprint,
            fresh.sync_fingerprint,
            fresh.export_fingerprint
        ),
        (None, None, None)
    );
    // Adopted only where none is recorded.
    store
        .record_full_step(c, FullStep::Import, FullMark::Adopted("a"))
        .await
        .unwrap();
    store
        .record_full_step(c, FullStep::Import, FullMark::Adopted("b"))
        .await
        .unwrap();
    assert_eq!(
        first_connector(&store).await.import_fingerprint.as_deref(),
        Some("a")
    );

    store
        .record_full_step(c, FullStep::Sync, FullMark::Started)
        .await
        .unwrap();
    let started = first_connector(&store).await;
    assert!(started.full_sync_unfinished && !started.full_import_unfinished);
    store
        .record_full_step(c, FullStep::Sync, FullMark::Finished("s"))
        .await
        .unwrap();
    let done = first_connector(&store).await;
    assert!(!done.full_sync_unfinished);
    assert_eq!(done.sync_fingerprint.as_deref(), Some("s"));

    // An image export is written whole: it has no unfinished state.
    store
        .record_full_step(c, FullStep::Export, FullMark::Started)
        .await
        .unwrap();
    store
        .record_full_step(c, FullStep::Export, FullMark::Finished("e"))
        .await
        .unwrap();
    let exported = first_connector(&store).await;
    assert_eq!(exported.export_fingerprint.as_deref(), Some("e"));
    assert!(!exported.full_import_unfinished && !exported.full_sync_unfinished);
}

async fn first_connector(store: &SqliteStore) -> ConnectorRow {
    store.connectors().await.unwrap().remove(0)
}

#[tokio::test]
async fn a_store_of_version_6_gains_the_audit_and_who_started_each_run() {
    let dir = tempfile::tempdir().unwrap();
    // A store as version 6 left it, with one run and one administrator with a token.
    {
        let file = dir.path().join("ucsync.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::raw_sql("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        for (i, sql) in MIGRATIONS[..6].iter().enumerate() {
            sqlx::raw_sql(*sql).execute(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(i as i64 + 1)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO runs (enterprise, profile, status, started_at) \
             VALUES ('default', 'sync-now', 'success', '2026-01-01T00:00:00Z');
             INSERT INTO admins (name, role, password_hash, created_at) \
             VALUES ('alice', 'admin', 'h', '2026-01-01T00:00:00Z');
             INSERT INTO api_tokens (admin_id, token_hash, label, created_at) \
             VALUES (1, 'th', 'cli', '2026-01-01T00:00:00Z');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let version: i64 = {
        let mut conn = store.lock().await;
        sqlx::query("SELECT MAX(version) FROM schema_version")
            .fetch_one(&mut *conn)
            .await
            .unwrap()
            .get(0)
    };
    assert_eq!(version, LAST_SCHEMA_VERSION);
    // The old run is kept, started by nobody known; a new one says who started it.
    let old = store.run(1).await.unwrap().unwrap();
    assert_eq!((old.status.as_str(), old.started_by), ("success", None));
    let id = store
        .create_run(NewRun {
            parent_id: None,
            enterprise: "default".into(),
            connector: None,
            profile: "sync-now".into(),
            started_at: "2026-01-02T00:00:00Z".into(),
            started_by: "alice".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        store.run(id).await.unwrap().unwrap().started_by.as_deref(),
        Some("alice")
    );
    // Administrators and tokens are kept; tokens are listed without their hashes.
    let tokens = store.tokens(None).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].admin.as_str(), tokens[0].label.as_str()),
        ("alice", "cli")
    );
    // The audit starts empty and keeps what is recorded, newest first.
    assert!(store.audit(10).await.unwrap().is_empty());
    for action in ["config-applied", "run-started"] {
        store
            .add_audit(NewAudit {
                administrator: "alice".into(),
                action: action.into(),
                object: "configuration".into(),
                detail: None,
            })
            .await
            .unwrap();
    }
    let audit = store.audit(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["run-started", "config-applied"]);
    assert_eq!(store.audit(1).await.unwrap().len(), 1);
    // Revoking a token says whose it was, once.
    assert_eq!(
        store
            .remove_token(tokens[0].id)
            .await
            .unwrap()
            .map(|t| t.admin),
        Some("alice".to_owned())
    );
    assert_eq!(store.remove_token(tokens[0].id).await.unwrap(), None);
    assert!(store.admin_by_token("th").await.unwrap().is_none());
}

/// Stages objects 1 and 2 in connector `c` and gives both a pending update to `mail = c@x`:
/// their ids and the attributes to be exported.
async fn two_pending_updates(store: &SqliteStore, c: i64) -> (Vec<i64>, Attrs) {
    stage(store, c, vec![upsert("1", "a@x"), upsert("2", "b@x")])
        .await
        .unwrap();
    let ids: Vec<i64> = store
        .anchor_index(c)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let mut desired = Attrs::new();
    desired.set_one("mail", "c@x");
    store
        .apply_sync_batch(SyncBatch {
            enterprise_id: 1,
            staged: ids
                .iter()
                .map(|id| StagedWrite {
                    id: *id,
                    entry_id: None,
                    sync_state: None,
                    sync_error: None,
                    export: Some(Some((ucsync_model::ExportOp::Update, desired.encode(), 7))),
                })
                .collect(),
            ..SyncBatch::default()
        })
        .await
        .unwrap();
    (ids, desired)
}

#[path = "tests_outstanding.rs"]
mod outstanding;

#[tokio::test]
async fn an_export_read_back_stages_the_state_read_and_the_others_what_was_sent() {
    let (_dir, store, c) = store_with_connector().await;
    let (ids, sent) = two_pending_updates(&store, c).await;
    let mut read = sent.clone();
    read.set_one("dn", "uid=b,dc=x");
    store
        .apply_export_results(ExportResultBatch {
            connector_id: c,
            done: vec![(ids[0], None), (ids[1], Some("uuid-b".into()))],
            confirmed: vec![(ids[1], read.encode(), 9)],
            ..ExportResultBatch::default()
        })
        .await
        .unwrap();
    let staged = store
        .staged_page(c, 0, 10, StagedFilter::All)
        .await
        .unwrap();
    let got: Vec<_> = staged
        .iter()
        .map(|s| {
            (
                s.anchor.as_str(),
                s.hash,
                s.attrs.clone(),
                s.export.is_some(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("1", 7, Some(sent), false),
            ("uuid-b", 9, Some(read), false)
        ]
    );
}

/// How SQLite reads a statement: the `detail` of each step of its plan.
async fn plan(store: &SqliteStore, sql: &str, params: usize) -> Vec<String> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
    for _ in 0..params {
        query = query.bind(1);
    }
    let mut conn = store.read_lock().await;
    let rows = query.fetch_all(&mut *conn).await.unwrap();
    rows.iter()
        .map(|r| sqlx::Row::get::<String, _>(r, 3))
        .collect()
}

/// Pages of an enterprise's entries (every listing, a search that finds its entries early)
/// walk the table from the last page's end: they neither read the whole enterprise through the
/// index of changes nor sort it (a search for ten entries of a million took 280 ms so).
#[tokio::test]
async fn pages_of_entries_walk_the_table_in_id_order() {
    let (_dir, store, _c) = store_with_connector().await;
    let mut statements = vec![(super::directory::ENTRIES_PAGE.to_owned(), 3)];
    for (object_type, pattern) in [(false, false), (true, false), (false, true), (true, true)] {
        let params = 3 + usize::from(object_type) + usize::from(pattern);
        statements.push((super::stats::search_sql(object_type, pattern), params));
    }
    for (sql, params) in statements {
        let steps = plan(&store, &sql, params).await;
        assert!(
            steps
                .iter()
                .all(|s| !s.contains("B-TREE") && !s.contains("INDEX")),
            "{sql}: {steps:?}"
        );
        assert!(
            steps.iter().any(|s| s.contains("INTEGER PRIMARY KEY")),
            "{sql}: {steps:?}"
        );
    }
}

/// A connector's last runs are found through the index, whatever the length of the history.
#[tokio::test]
async fn the_last_runs_of_connectors_read_no_history() {
    let (_dir, store, _c) = store_with_connector().await;
    let sql = format!(
        "{} SELECT id FROM runs WHERE id IN (SELECT id FROM latest)",
        super::runs::LATEST_CONNECTOR_RUNS
    );
    let steps = plan(&store, &sql, 0).await;
    // Every read of runs goes to one connector (or one run), never through a range of them.
    let reads: Vec<&String> = steps
        .iter()
        .filter(|s| s.starts_with("SEARCH r") || s.starts_with("SCAN r"))
        .collect();
    assert!(reads.len() >= 4, "{steps:?}");
    assert!(
        reads
            .iter()
            .all(|s| s.contains("(connector=?") || s.contains("(rowid=?)")),
        "{steps:?}"
    );
}

/// A run that has not ended is never removed with the old ones, however old.
#[tokio::test]
async fn a_run_still_running_is_not_removed_with_the_old_ones() {
    let (_dir, store, _c) = store_with_connector().await;
    let run = |started_at: &str| NewRun {
        parent_id: None,
        enterprise: "default".into(),
        connector: None,
        profile: "sync-now".into(),
        started_at: started_at.into(),
        started_by: "local".into(),
    };
    let running = store.create_run(run("2020-01-01T00:00:00Z")).await.unwrap();
    let ended = store.create_run(run("2020-01-02T00:00:00Z")).await.unwrap();
    let end = RunEnd {
        status: "success".into(),
        ended_at: "2020-01-02T00:00:01Z".into(),
        counters: Counters::default(),
        message: None,
        status_file: None,
    };
    store.finish_run(ended, end).await.unwrap();
    let removed = store
        .remove_runs_before("default", "2021-01-01T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(store.run(running).await.unwrap().is_some());
    assert!(store.run(ended).await.unwrap().is_none());
}
