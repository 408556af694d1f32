//! The deletion threshold: an export that would delete more objects than the enterprise allows
//! stops before writing anything, unless the run allows those deletes.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::StagingStore;

use crate::harness::Hub;

const CONFIG: &str = r#"version = 1

[enterprises.default]
sync_order = ["hr", "out"]
deletion_threshold = 2

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn"]
[connectors.out.rules]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.out.rules.export_flows]
uid = "uid"
cn = "cn"
"#;

const FIVE: &str = "id,name\n1,Ann\n2,Bob\n3,Cid\n4,Dan\n5,Eve\n";

async fn five_exported() -> Hub {
    let hub = Hub::new(CONFIG, &[("hr.csv", FIVE), ("out.csv", "uid,cn\n")]).await;
    hub.sync_ok().await;
    assert_eq!(hub.rows("out.csv").len(), 5);
    hub
}

async fn pending_deletes(hub: &Hub) -> i64 {
    let id = hub.connector_id("out").await;
    hub.store
        .count_staged(id, true)
        .await
        .unwrap()
        .pending_deletes
}

#[tokio::test]
async fn deleting_more_than_the_threshold_stops_before_exporting() {
    let hub = five_exported().await;
    let before = hub.bytes("out.csv");
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n");

    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::StoppedDeletionThreshold);
    let message = report.message.clone().unwrap_or_default();
    assert!(message.contains("deletion threshold"), "{message}");
    assert!(message.contains("--allow-deletes 3"), "{message}");
    assert!(
        report.steps.iter().all(|s| s.profile != Profile::Export),
        "no export step ran: {report:#?}"
    );
    assert_eq!(hub.bytes("out.csv"), before, "nothing exported");
    assert_eq!(pending_deletes(&hub).await, 3, "the deletes stay pending");

    // An export on its own is stopped the same way.
    let export = hub.run("out", Profile::Export).await;
    assert_eq!(export.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.bytes("out.csv"), before);

    // Allowing fewer deletes than pending is not enough.
    let short = hub.sync_now_with(&hub.options(false, Some(2))).await;
    assert_eq!(short.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.bytes("out.csv"), before);

    let allowed = hub.sync_now_with(&hub.options(false, Some(3))).await;
    assert_eq!(allowed.status, RunStatus::Success, "{:?}", allowed.message);
    let mut uids: Vec<String> = hub
        .rows("out.csv")
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    uids.sort();
    assert_eq!(uids, ["1", "2"]);
    assert_eq!(pending_deletes(&hub).await, 0);
}

#[tokio::test]
async fn deleting_exactly_the_threshold_is_allowed() {
    let hub = five_exported().await;
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n3,Cid\n");
    hub.sync_ok().await;
    assert_eq!(hub.rows("out.csv").len(), 3);
}
