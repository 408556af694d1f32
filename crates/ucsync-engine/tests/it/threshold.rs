//! The deletion threshold: a sync that would delete more directory entries, or an export that
//! would delete more objects, than the enterprise allows stops before writing anything, unless
//! the run allows those deletes.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::{DirectoryStore, StagingStore};

use crate::harness::Hub;

pub(crate) const CONFIG: &str = r#"version = 1

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
async fn deleting_more_than_the_threshold_changes_nothing_anywhere() {
    let hub = five_exported().await;
    let before = hub.bytes("out.csv");
    let entries = hub.entries().await;
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n");

    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::StoppedDeletionThreshold);
    let message = report.message.clone().unwrap_or_default();
    assert!(message.contains("deletion threshold"), "{message}");
    assert!(message.contains("--allow-deletes 3"), "{message}");
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.profile == Profile::DeltaImport),
        "no sync or export step ran: {report:#?}"
    );
    assert_eq!(hub.bytes("out.csv"), before, "nothing exported");
    assert_eq!(hub.entries().await, entries, "the directory keeps them");
    assert_eq!(pending_deletes(&hub).await, 0);

    // A sync on its own is held the same way, and so is its preview.
    let sync = hub.run("hr", Profile::DeltaSync).await;
    assert_eq!(sync.status, RunStatus::StoppedDeletionThreshold);
    let preview = hub.sync_now_with(&hub.options(true, None)).await;
    assert_eq!(preview.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.entries().await, entries);

    // Allowing fewer deletes than needed is not enough.
    let short = hub.sync_now_with(&hub.options(false, Some(2))).await;
    assert_eq!(short.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.entries().await, entries);

    // Allowed, the sync alone deletes the entries; the deletes then wait for an export, which
    // the threshold holds again.
    let allowed = hub
        .engine
        .run_profile("hr", Profile::DeltaSync, &hub.options(false, Some(3)))
        .await
        .unwrap();
    assert_eq!(allowed.status, RunStatus::Success, "{:?}", allowed.message);
    assert_eq!(hub.entries().await.len(), 2);
    assert_eq!(pending_deletes(&hub).await, 3);
    let export = hub.run("out", Profile::Export).await;
    assert_eq!(export.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.bytes("out.csv"), before);

    let exported = hub.sync_now_with(&hub.options(false, Some(3))).await;
    assert_eq!(
        exported.status,
        RunStatus::Success,
        "{:?}",
        exported.message
    );
    let mut uids: Vec<String> = hub
        .rows("out.csv")
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    uids.sort();
    assert_eq!(uids, ["1", "2"]);
    assert_eq!(pending_deletes(&hub).await, 0);
}

/// Issue 17: the threshold stopped the export, but the directory had already dropped the
/// entries; restoring the source brought them back under new ids, without what was set on them
/// by hand.
#[tokio::test]
async fn a_source_restored_after_the_threshold_stopped_finds_its_entries_as_they_were() {
    let hub = five_exported().await;
    let before = hub.bytes("out.csv");
    let ann = hub.entry("uid", "1").await;
    let cid = hub.entry("uid", "3").await;
    let hand: ucsync_store::HandEdit = Box::new(|_| Ok(vec!["+1 555 0100".to_owned()]));
    hub.store
        .edit_hand_set(cid.id, "manualNumber", hand)
        .await
        .unwrap();
    let entries = hub.entries().await;

    // The source loses three people, by mistake.
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n");
    let stopped = hub.sync_now().await;
    assert_eq!(stopped.status, RunStatus::StoppedDeletionThreshold);
    // Next night, still not allowed: still nothing changes.
    let again = hub.sync_now().await;
    assert_eq!(again.status, RunStatus::StoppedDeletionThreshold);
    assert_eq!(hub.entries().await, entries);

    // The source is restored: the same entries, with what was set by hand.
    hub.write("hr.csv", FIVE);
    hub.sync_ok().await;
    assert_eq!(hub.entries().await, entries);
    assert_eq!(hub.entry("uid", "1").await.id, ann.id);
    let cid_now = hub.entry("uid", "3").await;
    assert_eq!(cid_now.id, cid.id);
    assert_eq!(cid_now.attrs.get("manualNumber"), ["+1 555 0100"]);
    assert_eq!(hub.bytes("out.csv"), before, "the target never lost them");
}

/// Scope rules take entries away too: a scope that suddenly excludes most objects is held by
/// the threshold before the directory changes.
#[tokio::test]
async fn a_scope_that_excludes_too_many_is_held_before_the_directory_changes() {
    let mut hub = five_exported().await;
    let entries = hub.entries().await;
    hub.reconfigure(&CONFIG.replace(
        "projection = { person = \"person\" }",
        "projection = { person = \"person\" }\nscope = 'name == \"Ann\"'",
    ));
    let full = hub.run("hr", Profile::FullSync).await;
    assert_eq!(full.status, RunStatus::StoppedDeletionThreshold, "{full:?}");
    assert!(
        full.message
            .as_deref()
            .unwrap_or("")
            .contains("--allow-deletes 4"),
        "{full:?}"
    );
    assert_eq!(hub.entries().await, entries);
}

#[tokio::test]
async fn deleting_exactly_the_threshold_is_allowed() {
    let hub = five_exported().await;
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n3,Cid\n");
    hub.sync_ok().await;
    assert_eq!(hub.rows("out.csv").len(), 3);
}

/// A threshold given as a share counts the directory's entries: 40% of five entries allows two
/// deletes and not three, and the message says of how many. (A threshold of a number of
/// objects does not count them unless it is exceeded.)
#[tokio::test]
async fn a_share_of_the_directory_is_counted_against_its_entries() {
    let config = CONFIG.replace("deletion_threshold = 2", "deletion_threshold = \"40%\"");
    let hub = Hub::new(&config, &[("hr.csv", FIVE), ("out.csv", "uid,cn\n")]).await;
    hub.sync_ok().await;
    let entries = hub.entries().await;
    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n");
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::StoppedDeletionThreshold);
    let message = report.message.clone().unwrap_or_default();
    assert!(message.contains("delete 3 of its 5 entries"), "{message}");
    assert!(message.contains("(40% of"), "{message}");
    assert_eq!(hub.entries().await, entries);

    hub.write("hr.csv", "id,name\n1,Ann\n2,Bob\n3,Cid\n");
    hub.sync_ok().await;
    assert_eq!(hub.entries().await.len(), 3);
    assert_eq!(hub.rows("out.csv").len(), 3);
}
