//! Outstanding per-object errors in the SQLite store: written and cleared with their batch.

use super::*;

fn rejected(object: &str, line: i64) -> ObjectErrorWrite {
    ObjectErrorWrite {
        object: object.into(),
        anchored: true,
        name: object.into(),
        line: Some(line),
        message: format!("attribute \"givenName\" has an invalid character (line {line})"),
    }
}

async fn new_run(store: &SqliteStore, connector: &str, profile: &str) -> i64 {
    store
        .create_run(NewRun {
            parent_id: None,
            enterprise: "default".into(),
            connector: Some(connector.into()),
            profile: profile.into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            started_by: "local".into(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn outstanding_errors_commit_with_their_import_batch_or_not_at_all() {
    let (_dir, store, c) = store_with_connector().await;
    let run = new_run(&store, "hr", "full-import").await;
    // A batch that fails (the same new anchor twice) leaves no error behind.
    let failed = store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            upserts: vec![upsert("1", "a@x"), upsert("1", "b@x")],
            errors: vec![rejected("2", 3)],
            outcomes: OutcomeChunk {
                run_id: run,
                outcomes: Vec::new(),
            },
            ..ImportBatch::default()
        })
        .await;
    assert!(failed.is_err());
    assert!(store.outstanding_errors(None).await.unwrap().is_empty());

    // Written with a batch that commits; a later run seeing it again keeps its first run.
    for run in [run, run + 1] {
        store
            .apply_import_batch(ImportBatch {
                connector_id: c,
                errors: vec![rejected("2", 3)],
                outcomes: OutcomeChunk {
                    run_id: run,
                    outcomes: Vec::new(),
                },
                ..ImportBatch::default()
            })
            .await
            .unwrap();
    }
    let errors = store.outstanding_errors(Some("hr")).await.unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].first_run, errors[0].last_run, errors[0].line),
        (run, run + 1, Some(3))
    );
    let counts = store.error_counts().await.unwrap();
    assert_eq!(
        counts,
        vec![ErrorCount {
            connector: "hr".into(),
            enterprise: "default".into(),
            step: "import".into(),
            count: 1
        }]
    );
    // Cleared by a batch; then a new one goes with the connector.
    store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            cleared: vec!["2".into()],
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    assert!(store.outstanding_errors(None).await.unwrap().is_empty());
    store
        .apply_import_batch(ImportBatch {
            connector_id: c,
            errors: vec![rejected("3", 4)],
            outcomes: OutcomeChunk {
                run_id: run,
                outcomes: Vec::new(),
            },
            ..ImportBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(store.outstanding_errors(None).await.unwrap().len(), 1);
    store.remove_connector("hr").await.unwrap();
    assert!(store.outstanding_errors(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_full_step_clears_only_what_its_own_earlier_runs_reported() {
    let (_dir, store, c) = store_with_connector().await;
    // Both objects wait for an export.
    let (ids, _) = two_pending_updates(&store, c).await;
    let first = new_run(&store, "hr", "export").await;
    store
        .apply_export_results(ExportResultBatch {
            connector_id: c,
            failed: vec![(ids[0], "refused".into()), (ids[1], "refused".into())],
            outcomes: OutcomeChunk {
                run_id: first,
                outcomes: Vec::new(),
            },
            ..ExportResultBatch::default()
        })
        .await
        .unwrap();
    assert_eq!(store.outstanding_errors(Some("hr")).await.unwrap().len(), 2);
    // The next export refuses only the first object again, then ends.
    let next = new_run(&store, "hr", "export").await;
    store
        .apply_export_results(ExportResultBatch {
            connector_id: c,
            failed: vec![(ids[0], "refused again".into())],
            outcomes: OutcomeChunk {
                run_id: next,
                outcomes: Vec::new(),
            },
            ..ExportResultBatch::default()
        })
        .await
        .unwrap();
    let gone = store
        .clear_unreported_errors(c, ErrorStep::Export, next)
        .await
        .unwrap();
    assert_eq!(gone, 1);
    let left = store.outstanding_errors(Some("hr")).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].object.as_str(), left[0].message.as_str()),
        ("1", "refused again")
    );
    // Exported at last: over.
    let last = new_run(&store, "hr", "export").await;
    store
        .apply_export_results(ExportResultBatch {
            connector_id: c,
            done: vec![(ids[0], None)],
            outcomes: OutcomeChunk {
                run_id: last,
                outcomes: Vec::new(),
            },
            ..ExportResultBatch::default()
        })
        .await
        .unwrap();
    assert!(store.outstanding_errors(None).await.unwrap().is_empty());
}
