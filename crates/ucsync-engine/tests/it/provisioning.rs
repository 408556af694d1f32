//! Provisioning: which entries get an object in a target, and adoption of an object the target
//! already has.

use ucsync_engine::Profile;

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people and contacts; `out` provisions users from people not in department Test.
const CONFIG: &str = r#"version = 1

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
object_type_column = "Type"
object_types = ["person", "contact"]
[connectors.hr.rules]
projection = { person = "person", contact = "contact" }
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"
department = "dept"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "user"
key = ["uid"]
header = ["uid", "cn", "department"]
[connectors.out.rules]
provisioning = [{ from = "person", object_type = "user", when = 'department != "Test"' }]
[connectors.out.rules.export_flows]
uid = "uid"
cn = "cn"
department = "department"
"#;

const HR_HEADER: &str = "id,Type,name,dept\n";

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
async fn only_entries_of_the_from_type_matching_when_are_provisioned() {
    let hub = Hub::new(
        CONFIG,
        &[
            (
                "hr.csv",
                &format!("{HR_HEADER}1,person,Ann,Sales\n2,person,Bob,Test\n3,contact,Cid,Sales\n"),
            ),
            ("out.csv", "uid,cn,department\n"),
        ],
    )
    .await;
    let report = hub.sync_ok().await;
    assert_eq!(hub.entries().await.len(), 3);
    assert_eq!(uids(&hub), ["1"]);
    let ann = hub.row("out.csv", "uid", "1");
    assert_eq!(
        (ann["cn"].as_str(), ann["department"].as_str()),
        ("Ann", "Sales")
    );
    assert_eq!(hub.staged("out").await.len(), 1);
    assert_eq!(step(&report, "out", Profile::Export).counters.added, 1);

    // A run without changes writes nothing new.
    let bytes = hub.bytes("out.csv");
    let again = hub.sync_ok().await;
    assert_eq!(hub.bytes("out.csv"), bytes);
    assert_eq!(hub.staged("out").await.len(), 1);
    assert_eq!(step(&again, "hr", Profile::DeltaSync).counters.added, 0);

    // When the condition becomes true, the entry is provisioned then.
    hub.write(
        "hr.csv",
        &format!("{HR_HEADER}1,person,Ann,Sales\n2,person,Bob,Sales\n3,contact,Cid,Sales\n"),
    );
    hub.sync_ok().await;
    assert_eq!(uids(&hub), ["1", "2"]);
}

#[tokio::test]
async fn an_unlinked_target_object_with_the_same_anchor_is_adopted() {
    let hub = Hub::new(
        CONFIG,
        &[
            ("hr.csv", &format!("{HR_HEADER}1,person,Ann,Sales\n")),
            (
                "out.csv",
                "uid,cn,department\n1,Old name,Old\n9,Stranger,X\n",
            ),
        ],
    )
    .await;
    let report = hub.sync_ok().await;
    let sync = step(&report, "hr", Profile::DeltaSync);
    let outcomes = hub.all_outcomes(sync).await;
    assert!(has_outcome(&outcomes, "adopted", "1"), "{outcomes:#?}");
    assert!(!has_outcome(&outcomes, "provisioned", "1"), "{outcomes:#?}");

    assert_eq!(uids(&hub), ["1", "9"], "no duplicate row");
    let row = hub.row("out.csv", "uid", "1");
    assert_eq!(
        (row["cn"].as_str(), row["department"].as_str()),
        ("Ann", "Sales")
    );
    let stranger = hub.row("out.csv", "uid", "9");
    assert_eq!(stranger["cn"], "Stranger", "other rows are left alone");

    let ann = hub.entry("uid", "1").await;
    let staged = hub.staged("out").await;
    assert_eq!(staged.len(), 2, "{staged:#?}");
    assert_eq!(hub.object("out", "1").await.entry_id, Some(ann.id));
    assert_eq!(hub.object("out", "9").await.entry_id, None);
}

/// `out` is keyed by name, so two people with one name want the same object.
const BY_NAME: &str = r#"version = 1

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
object_type = "user"
key = ["cn"]
header = ["cn", "uid"]
[connectors.out.rules]
provisioning = [{ from = "person", object_type = "user" }]
[connectors.out.rules.export_flows]
cn = "cn"
uid = "uid"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_in_an_earlier_batch_of_an_empty_target_is_an_error_not_a_second_object() {
    // Batches of 2 into an empty target: Ann (1) is provisioned in the first batch; Ann (4)
    // comes in the second, while the first may still be written, and Ann (5) in the third.
    // Bob (2) and Bob (3) want one object within the same batch.
    let hub = Hub::new(
        BY_NAME,
        &[
            (
                "hr.csv",
                "id,name\n1,Ann\n6,Cid\n2,Bob\n3,Bob\n4,Ann\n5,Ann\n",
            ),
            ("out.csv", "cn,uid\n"),
        ],
    )
    .await;
    let mut options = hub.options(false, None);
    options.sync_batch = Some(2);
    let report = hub.sync_now_with(&options).await;

    let rows = hub.rows("out.csv");
    let mut written: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["cn"].clone(), r["uid"].clone()))
        .collect();
    written.sort();
    let expected = [("Ann", "1"), ("Bob", "2"), ("Cid", "6")].map(|(a, b)| (a.into(), b.into()));
    assert_eq!(written, expected);
    let sync = step(&report, "hr", Profile::DeltaSync);
    let outcomes = hub.all_outcomes(sync).await;
    let errors: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.action == "error")
        .filter_map(|o| o.message.as_deref())
        .collect();
    assert_eq!(errors.len(), 3, "{outcomes:#?}");
    assert_eq!(
        errors
            .iter()
            .filter(|m| m
                .contains("would be provisioned as \"Ann\", but that object is linked to entry"))
            .count(),
        2,
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|m| m
            .contains("would be provisioned as \"Bob\", which another entry of this batch takes")),
        "{errors:#?}"
    );
    assert_eq!(hub.staged("out").await.len(), 3);
}
