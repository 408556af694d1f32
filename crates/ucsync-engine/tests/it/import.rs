//! Imports larger than one batch: every batch is written before the run returns.

use ucsync_engine::Profile;
use ucsync_store::StagingStore;

use crate::harness::Hub;

const CONFIG: &str = r#"version = 1
[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
"#;

#[tokio::test]
async fn every_batch_of_a_large_import_is_written_before_the_run_returns() {
    let mut csv = String::from("id,name\n");
    for i in 0..23_456 {
        csv.push_str(&format!("{i},Person {i}\n"));
    }
    let env = Hub::new(CONFIG, &[("hr.csv", &csv)]).await;
    let report = env.run("hr", Profile::FullImport).await;
    assert_eq!(report.counters.added, 23_456);
    let id = env.connector_id("hr").await;
    // Asked at once, before any other task may run: the store already holds all of them.
    let counts = env.store.count_staged(id, true).await.unwrap();
    assert_eq!(counts.total, 23_456);
    assert_eq!(counts.pending_sync, 23_456);
}
