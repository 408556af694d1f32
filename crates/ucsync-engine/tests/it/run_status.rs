//! A run always ends with a status, even when the store fails under it.

use sqlx::Connection;
use ucsync_engine::RunStatus;
use ucsync_store::RunStore;

use crate::harness::Hub;

/// The threshold tests' hub and target, with the default threshold.
fn config() -> String {
    crate::threshold::CONFIG.replace("deletion_threshold = 2\n", "")
}

/// Issue 17: a step that failed on a store error returned without recording its end, and so
/// did its sync-now: both stayed `running` for ever.
#[tokio::test]
async fn a_run_that_fails_on_the_store_ends_failed_and_so_does_its_sync_now() {
    let hub = Hub::new(
        &config(),
        &[
            ("hr.csv", "id,name\n1,Ann\n2,Bob\n"),
            ("out.csv", "uid,cn\n"),
        ],
    )
    .await;
    // A real SQLite error in the middle of the run: the directory refuses new entries.
    let url = format!("sqlite://{}", hub.path("data/ucsync.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON entries \
         BEGIN SELECT RAISE(FAIL, 'the disk is full (test)'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let options = hub.options(false, None);
    let err = hub.engine.sync_now("default", &options).await.unwrap_err();
    assert!(err.to_string().contains("the disk is full"), "{err}");

    let runs = hub.store.runs(10).await.unwrap();
    let running: Vec<_> = runs.iter().filter(|r| r.status == "running").collect();
    assert!(running.is_empty(), "{running:#?}");
    let sync_now = runs.iter().find(|r| r.profile == "sync-now").unwrap();
    assert_eq!(sync_now.status, "failed");
    assert!(
        sync_now
            .message
            .as_deref()
            .unwrap_or("")
            .contains("the disk is full"),
        "{sync_now:?}"
    );
    let sync = runs
        .iter()
        .find(|r| r.profile == "delta-sync" && r.connector.as_deref() == Some("hr"))
        .unwrap();
    assert_eq!(sync.status, "failed", "{sync:?}");
    // The imports before it ended well, and nothing of the failed batch was kept.
    assert!(hub.entries().await.is_empty());

    // Once the store takes writes again, the next run converges.
    sqlx::raw_sql("DROP TRIGGER refuse")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(hub.entries().await.len(), 2);
    assert_eq!(hub.rows("out.csv").len(), 2);
}

/// Issue 18: an import whose second batch the store refused reported every record it had read
/// ("added 6000") although only the first batch was stored.
#[tokio::test]
async fn a_failed_import_counts_only_what_was_stored() {
    let mut hr = String::from("id,name\n");
    for i in 0..6_000 {
        hr.push_str(&format!("{i},Person {i}\n"));
    }
    let hub = Hub::new(&config(), &[("hr.csv", &hr), ("out.csv", "uid,cn\n")]).await;
    // The first batch of 5,000 is stored; the store refuses the next one.
    let url = format!("sqlite://{}", hub.path("data/ucsync.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON staging \
         WHEN (SELECT count(*) FROM staging) >= 5000 \
         BEGIN SELECT RAISE(FAIL, 'the disk is full (test)'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let report = hub.run("hr", ucsync_engine::Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    assert_eq!(hub.staged("hr").await.len(), 5_000);
    assert_eq!(
        (report.counters.added, report.counters.updated),
        (5_000, 0),
        "{report:?}"
    );
    let message = report.message.as_deref().unwrap_or("");
    assert!(
        message.contains("the disk is full") && message.contains("1000 more read were not stored"),
        "{message}"
    );
    let runs = hub.store.runs(10).await.unwrap();
    let run = runs.iter().find(|r| r.profile == "full-import").unwrap();
    assert_eq!(run.counters.added, 5_000, "{run:?}");

    // Once the store takes writes again, the rest is imported.
    sqlx::raw_sql("DROP TRIGGER refuse")
        .execute(&mut conn)
        .await
        .unwrap();
    let again = hub.run("hr", ucsync_engine::Profile::FullImport).await;
    assert_eq!(again.status, RunStatus::Success, "{again:?}");
    assert_eq!(again.counters.added, 1_000);
}
