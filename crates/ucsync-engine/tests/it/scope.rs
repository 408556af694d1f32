//! Scope filters: objects out of scope are never joined or projected, and a linked object that
//! leaves the scope is disconnected; an entry no projecting object links any more is deleted and
//! deprovisioned in the targets.

use ucsync_engine::Profile;

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people in scope (department other than Test) and `out` gets a contact for each;
/// `extra` (when given) is appended, e.g. a second source.
fn config(extra: &str) -> String {
    format!(
        r#"version = 1

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
scope = 'department != "Test"'
join = [{{ staged = "id", directory = "uid" }}]
projection = {{ person = "person" }}
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"
department = "department"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn", "department"]
[connectors.out.rules]
provisioning = [{{ from = "person", object_type = "contact" }}]
[connectors.out.rules.export_flows]
uid = "uid"
cn = "cn"
department = "department"
{extra}"#
    )
}

const SECOND_SOURCE: &str = r#"
[connectors.hr2]
kind = "csv"
[connectors.hr2.settings]
path = "hr2.csv"
key = ["id"]
[connectors.hr2.rules]
join = [{ staged = "id", directory = "uid" }]
projection = { person = "person" }
[connectors.hr2.rules.import_flows]
uid = "id"
mail = "mail"
"#;

fn uids(hub: &Hub) -> Vec<String> {
    let mut v: Vec<String> = hub
        .rows("out.csv")
        .iter()
        .map(|r| r["uid"].clone())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn objects_out_of_scope_get_no_entry() {
    let hub = Hub::new(
        &config(""),
        &[
            ("hr.csv", "id,name,department\n1,Ann,Sales\n3,Cid,Test\n"),
            ("out.csv", "uid,cn,department\n"),
        ],
    )
    .await;
    hub.sync_ok().await;
    assert_eq!(hub.entries().await.len(), 1);
    hub.entry("uid", "1").await;
    assert_eq!(hub.object("hr", "3").await.entry_id, None);
    assert_eq!(uids(&hub), ["1"]);
}

#[tokio::test]
async fn an_object_leaving_the_scope_is_disconnected_and_its_entry_deprovisioned() {
    let hub = Hub::new(
        &config(""),
        &[
            ("hr.csv", "id,name,department\n1,Ann,Sales\n2,Bob,Sales\n"),
            ("out.csv", "uid,cn,department\n"),
        ],
    )
    .await;
    hub.sync_ok().await;
    assert_eq!(uids(&hub), ["1", "2"]);
    let bob = hub.entry("uid", "2").await;

    hub.write("hr.csv", "id,name,department\n1,Ann,Sales\n2,Bob,Test\n");
    let report = hub.sync_ok().await;
    let sync = step(&report, "hr", Profile::DeltaSync);
    assert_eq!(sync.counters.deleted, 1);
    let outcomes = hub.all_outcomes(sync).await;
    assert!(has_outcome(&outcomes, "disconnected", "2"), "{outcomes:#?}");

    let object = hub.object("hr", "2").await;
    assert_eq!(object.entry_id, None, "disconnected");
    let entries = hub.entries().await;
    assert_eq!(entries.len(), 1, "Bob's entry is deleted: {entries:#?}");
    assert!(entries.iter().all(|e| e.id != bob.id));
    assert!(hub.linked(bob.id).await.is_empty());
    assert_eq!(uids(&hub), ["1"], "the target contact is deprovisioned");
    assert_eq!(
        step(&report, "out", Profile::Export).counters.deleted,
        1,
        "one delete exported"
    );

    // Back in scope: projected and provisioned again.
    hub.write("hr.csv", "id,name,department\n1,Ann,Sales\n2,Bob,Sales\n");
    hub.sync_ok().await;
    assert_eq!(hub.entries().await.len(), 2);
    assert!(hub.object("hr", "2").await.entry_id.is_some());
    assert_eq!(uids(&hub), ["1", "2"]);
}

#[tokio::test]
async fn an_object_leaving_the_scope_keeps_an_entry_another_source_projects() {
    let hub = Hub::new(
        &config(SECOND_SOURCE),
        &[
            ("hr.csv", "id,name,department\n1,Ann,Sales\n"),
            ("hr2.csv", "id,mail\n1,ann@acme.com\n"),
            ("out.csv", "uid,cn,department\n"),
        ],
    )
    .await;
    hub.sync_ok().await;
    let before = hub.entry("uid", "1").await;
    assert_eq!(before.attrs.get("department"), ["Sales"]);
    assert_eq!(before.attrs.get("mail"), ["ann@acme.com"]);
    assert_eq!(hub.linked(before.id).await.len(), 3, "hr, hr2 and out");

    hub.write("hr.csv", "id,name,department\n1,Ann,Test\n");
    hub.sync_ok().await;
    assert_eq!(hub.object("hr", "1").await.entry_id, None);
    let after = hub.entry("uid", "1").await;
    assert_eq!(after.id, before.id, "the entry lives on through hr2");
    assert!(
        after.attrs.get("department").is_empty() && after.attrs.get("cn").is_empty(),
        "hr's values are gone with its link: {after:#?}"
    );
    assert_eq!(after.attrs.get("mail"), ["ann@acme.com"]);
    let row = hub.row("out.csv", "uid", "1");
    assert_eq!(row["department"], "", "the target follows the entry");
    assert_eq!(row["cn"], "");
}
