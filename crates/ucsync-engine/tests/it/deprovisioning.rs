//! Deprovisioning: what happens to a target's object when its directory entry is deleted —
//! delete it, disable it (set an attribute) or just disconnect it.

use ucsync_engine::Profile;

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people; `out` gets a user for each, with the given deprovisioning.
fn config(deprovisioning: &str) -> String {
    format!(
        r#"version = 1

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = {{ person = "person" }}
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "user"
key = ["uid"]
header = ["uid", "cn", "enabled"]
[connectors.out.rules]
provisioning = [{{ from = "person", object_type = "user" }}]
{deprovisioning}
[connectors.out.rules.export_flows]
uid = "uid"
cn = "cn"
enabled = '"true"'
"#
    )
}

const BOTH: &str = "id,name\n1,Ann\n2,Bob\n";
const ANN_ONLY: &str = "id,name\n1,Ann\n";

/// A hub whose first sync provisioned Ann and Bob in `out`.
async fn provisioned(deprovisioning: &str) -> Hub {
    let hub = Hub::new(
        &config(deprovisioning),
        &[("hr.csv", BOTH), ("out.csv", "uid,cn,enabled\n")],
    )
    .await;
    hub.sync_ok().await;
    assert_eq!(hub.rows("out.csv").len(), 2);
    assert_eq!(hub.row("out.csv", "uid", "2")["enabled"], "true");
    hub
}

#[tokio::test]
async fn delete_removes_the_target_row_on_export() {
    let hub = provisioned("").await;
    hub.write("hr.csv", ANN_ONLY);
    let report = hub.sync_ok().await;

    let sync = step(&report, "hr", Profile::DeltaSync);
    let outcomes = hub.all_outcomes(sync).await;
    assert!(
        has_outcome(&outcomes, "pending-delete", "2"),
        "{outcomes:#?}"
    );
    assert_eq!(step(&report, "out", Profile::Export).counters.deleted, 1);

    let rows = hub.rows("out.csv");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["uid"], "1");
    assert!(hub.staged("out").await.iter().all(|s| s.anchor != "2"));
    assert_eq!(hub.entries().await.len(), 1);

    // Nothing flaps back on the next run.
    let bytes = hub.bytes("out.csv");
    hub.sync_ok().await;
    assert_eq!(hub.bytes("out.csv"), bytes);
}

#[tokio::test]
async fn disable_keeps_the_row_with_the_attribute_set() {
    let hub = provisioned(
        r#"deprovisioning = { action = "disable", attribute = "enabled", value = "false" }"#,
    )
    .await;
    hub.write("hr.csv", ANN_ONLY);
    let report = hub.sync_ok().await;
    assert_eq!(step(&report, "out", Profile::Export).counters.deleted, 0);

    let rows = hub.rows("out.csv");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let bob = hub.row("out.csv", "uid", "2");
    assert_eq!(bob["enabled"], "false");
    assert_eq!(bob["cn"], "Bob", "the rest of the row is kept");
    assert_eq!(hub.row("out.csv", "uid", "1")["enabled"], "true");
    let object = hub.object("out", "2").await;
    assert_eq!(object.entry_id, None, "disabled objects are disconnected");
    assert!(object.export.is_none(), "nothing left pending");

    // The disabled row is neither deleted nor re-enabled later.
    let bytes = hub.bytes("out.csv");
    hub.sync_ok().await;
    assert_eq!(hub.bytes("out.csv"), bytes);
}

#[tokio::test]
async fn a_disabled_row_is_adopted_and_enabled_again_when_the_person_returns() {
    let hub = provisioned(
        r#"deprovisioning = { action = "disable", attribute = "enabled", value = "false" }"#,
    )
    .await;
    hub.write("hr.csv", ANN_ONLY);
    hub.sync_ok().await;
    assert_eq!(hub.row("out.csv", "uid", "2")["enabled"], "false");

    hub.write("hr.csv", "id,name\n1,Ann\n2,Robert\n");
    let report = hub.sync_ok().await;
    let outcomes = hub
        .all_outcomes(step(&report, "hr", Profile::DeltaSync))
        .await;
    assert!(has_outcome(&outcomes, "adopted", "2"), "{outcomes:#?}");
    assert_eq!(hub.rows("out.csv").len(), 2, "not duplicated");
    let bob = hub.row("out.csv", "uid", "2");
    assert_eq!(
        (bob["cn"].as_str(), bob["enabled"].as_str()),
        ("Robert", "true")
    );
    let entry = hub.entry("uid", "2").await;
    assert_eq!(hub.object("out", "2").await.entry_id, Some(entry.id));
}

#[tokio::test]
async fn disconnect_leaves_the_row_unchanged_and_unlinked() {
    let hub = provisioned(r#"deprovisioning = { action = "disconnect" }"#).await;
    let before = hub.bytes("out.csv");
    hub.write("hr.csv", ANN_ONLY);
    let report = hub.sync_ok().await;
    let sync = step(&report, "hr", Profile::DeltaSync);
    let outcomes = hub.all_outcomes(sync).await;
    assert!(
        has_outcome(&outcomes, "deprovisioned", "2"),
        "{outcomes:#?}"
    );

    assert_eq!(hub.bytes("out.csv"), before, "the file is not touched");
    let object = hub.object("out", "2").await;
    assert_eq!(object.entry_id, None);
    assert!(object.export.is_none());
    assert_eq!(
        object.attrs.as_ref().map(|a| a.get("cn").to_vec()),
        Some(vec!["Bob".to_owned()])
    );
    assert_eq!(hub.entries().await.len(), 1);

    hub.sync_ok().await;
    assert_eq!(hub.bytes("out.csv"), before);
}

#[tokio::test]
async fn a_connector_that_only_imports_is_never_written_when_an_entry_goes() {
    // `pbx` joins people and gives their phone numbers: it has neither export flows nor
    // provisioning, so deprovisioning (which applies to export targets) must leave its rows.
    let config = format!(
        "{}{}",
        config(""),
        r#"
[connectors.pbx]
kind = "csv"
[connectors.pbx.settings]
path = "pbx.csv"
key = ["ext"]
[connectors.pbx.rules]
join = [{ staged = "staffNo", directory = "uid" }]
[connectors.pbx.rules.import_flows]
telephoneNumber = "ext"
"#
    );
    let pbx = "ext,staffNo\n100,1\n200,2\n";
    let hub = Hub::new(
        &config,
        &[
            ("hr.csv", BOTH),
            ("out.csv", "uid,cn,enabled\n"),
            ("pbx.csv", pbx),
        ],
    )
    .await;
    hub.sync_ok().await;
    let bob = hub.entry("uid", "2").await;
    assert_eq!(bob.attrs.get("telephoneNumber"), ["200"]);

    hub.write("hr.csv", ANN_ONLY);
    hub.sync_ok().await;
    assert_eq!(
        hub.read("pbx.csv"),
        pbx,
        "the import-only source keeps Bob's row"
    );
    let object = hub.object("pbx", "200").await;
    assert_eq!(object.entry_id, None, "it is only disconnected");
    assert!(object.export.is_none(), "no export is pending for it");
}
