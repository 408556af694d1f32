//! Preview: the same run, reporting per-object and per-attribute changes, committing nothing —
//! neither to the store nor to any file.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::{ObjectOutcome, RunStore};

use crate::harness::{Hub, step};

const CONFIG: &str = r#"version = 1

[enterprises.default]
sync_order = ["hr", "out"]

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
telephoneNumber = "phone"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn", "phone"]
[connectors.out.rules]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.out.rules.export_flows]
uid = "uid"
cn = "cn"
phone = "telephoneNumber"
"#;

const BEFORE: &str = "id,name,phone\n1,Ann,+1 111\n2,Bob,+1 222\n";
/// Ann's phone changes, Bob goes, Cid comes.
const AFTER: &str = "id,name,phone\n1,Ann,+1 999\n3,Cid,+1 333\n";

/// Everything a run could change, as text.
async fn snapshot(hub: &Hub) -> String {
    let entries = hub.entries().await;
    let hr = hub.staged("hr").await;
    let out = hub.staged("out").await;
    let runs = hub.store.runs(1000).await.unwrap();
    let status_files: Vec<String> = std::fs::read_dir(hub.path("status"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{entries:#?}\n{hr:#?}\n{out:#?}\nruns: {}\nstatus files: {status_files:?}\nhr.csv: {:?}\nout.csv: {:?}",
        runs.len(),
        hub.bytes("hr.csv"),
        hub.bytes("out.csv")
    )
}

fn find<'a>(outcomes: &'a [ObjectOutcome], action: &str, object: &str) -> &'a ObjectOutcome {
    outcomes
        .iter()
        .find(|o| o.action == action && o.object == object)
        .unwrap_or_else(|| panic!("no {action} outcome for {object}: {outcomes:#?}"))
}

#[tokio::test]
async fn preview_reports_changes_and_commits_nothing() {
    let hub = Hub::new(CONFIG, &[("hr.csv", BEFORE), ("out.csv", "uid,cn,phone\n")]).await;
    hub.sync_ok().await;
    let ann = hub.entry("uid", "1").await;
    hub.write("hr.csv", AFTER);
    let before = snapshot(&hub).await;

    let report = hub.sync_now_with(&hub.options(true, None)).await;
    assert!(report.preview);
    assert_eq!(report.run_id, None, "a preview records no run");
    assert_eq!(report.status, RunStatus::Success, "{:?}", report.message);

    let sync = step(&report, "hr", Profile::DeltaSync);
    let updated = find(
        &sync.outcomes,
        "entry-updated",
        &format!("entry:{}", ann.id),
    );
    let phone = updated
        .changes
        .iter()
        .find(|c| c.attribute == "telephoneNumber")
        .unwrap_or_else(|| panic!("no telephoneNumber change: {updated:#?}"));
    assert_eq!(
        (phone.old.as_slice(), phone.new.as_slice()),
        (&["+1 111".to_owned()][..], &["+1 999".to_owned()][..])
    );
    assert!(
        updated
            .changes
            .iter()
            .all(|c| c.attribute == "telephoneNumber"),
        "only the phone changed: {updated:#?}"
    );
    let provisioned = find(&sync.outcomes, "provisioned", "3");
    assert!(
        provisioned
            .changes
            .iter()
            .any(|c| c.attribute == "cn" && c.new == ["Cid"]),
        "{provisioned:#?}"
    );
    find(&sync.outcomes, "pending-delete", "2");

    let export = step(&report, "out", Profile::Export);
    assert_eq!(
        (
            export.counters.added,
            export.counters.updated,
            export.counters.deleted
        ),
        (1, 1, 1)
    );
    let update = find(&export.outcomes, "export-update", "1");
    assert!(
        update
            .changes
            .iter()
            .any(|c| c.attribute == "phone" && c.old == ["+1 111"] && c.new == ["+1 999"]),
        "{update:#?}"
    );
    find(&export.outcomes, "export-add", "3");
    find(&export.outcomes, "export-delete", "2");

    assert_eq!(
        snapshot(&hub).await,
        before,
        "the preview changed something"
    );

    // The real run still sees every change the preview saw.
    let real = hub.sync_ok().await;
    let export = step(&real, "out", Profile::Export);
    assert_eq!(
        (
            export.counters.added,
            export.counters.updated,
            export.counters.deleted
        ),
        (1, 1, 1)
    );
    let mut uids: Vec<String> = hub
        .rows("out.csv")
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    uids.sort();
    assert_eq!(uids, ["1", "3"]);
    assert_eq!(hub.row("out.csv", "uid", "1")["phone"], "+1 999");
}

#[tokio::test]
async fn a_preview_of_the_first_run_leaves_an_empty_store() {
    let hub = Hub::new(CONFIG, &[("hr.csv", BEFORE), ("out.csv", "uid,cn,phone\n")]).await;
    let before = snapshot(&hub).await;
    let report = hub.sync_now_with(&hub.options(true, None)).await;
    assert_eq!(report.status, RunStatus::Success, "{:?}", report.message);
    let sync = step(&report, "hr", Profile::DeltaSync);
    assert_eq!(sync.counters.added, 2);
    assert_eq!(
        sync.outcomes
            .iter()
            .filter(|o| o.action == "entry-added")
            .count(),
        2,
        "{:#?}",
        sync.outcomes
    );
    assert_eq!(snapshot(&hub).await, before);
    assert!(hub.entries().await.is_empty());

    let single = hub
        .engine
        .run_profile("hr", Profile::FullImport, &hub.options(true, None))
        .await
        .unwrap();
    assert_eq!(single.counters.added, 2);
    assert!(
        hub.staged("hr").await.is_empty(),
        "a previewed import stages nothing"
    );
}
