//! The number-retention rule for whole accounts: an account a PBX node no longer gives (its
//! object out of scope, here) stays while its own data refers to it, comes back to the same
//! entry, and goes at the first sync after the last of that data is removed, its target object
//! held by the deletion threshold. Only connectors with the rule keep entries this way.

use ucsync_engine::account::{AccountEdit, edit_account};
use ucsync_engine::{Profile, RunStatus};
use ucsync_store::ObjectOutcome;

use crate::harness::{Hub, step};

/// A node whose scope is the accounts with a deskphone, and a file of the accounts with a
/// number added by hand, keyed by the first of them.
const CONFIG: &str = r#"version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node", "out"]
deletion_threshold = 0

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
[connectors.node.rules]
scope = "present(deskphone)"
projection = { account = "account" }
[connectors.node.rules.import_flows]
givenName = "givenName"
sn = "sn"
telephoneNumber = "telephoneNumber"
deskphone = "deskphone"
softphone = "softphone"

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "account"
key = ["id"]
header = ["id", "numbers"]
multi_valued = { numbers = ";" }
[connectors.out.rules]
provisioning = [{ from = "account", object_type = "account", when = "present(manualNumber)" }]
[connectors.out.rules.export_flows]
id = "first(manualNumber)"
numbers = "telephoneNumber"
"#;

const HEADER: &str = "Number,First Name,Last Name,Department,Device Type\n";
const DESK: &str = "1001,John,Smith,,5330e IP\n";
const SOFT: &str = "2001,John,Smith,,App Server Port\n";
const MARY: &str = "1101,Mary,Jones,,6920 IP\n";

fn numbers(hub: &Hub) -> Vec<String> {
    hub.rows("out.csv")
        .iter()
        .map(|r| format!("{}:{}", r["id"], r["numbers"]))
        .collect()
}

fn kept(outcomes: &[ObjectOutcome]) -> Vec<&ObjectOutcome> {
    outcomes.iter().filter(|o| o.action == "kept").collect()
}

async fn edit(hub: &Hub, entry: i64, change: AccountEdit) {
    edit_account(
        hub.store.as_ref(),
        &ucsync_connectors::Connectors,
        entry,
        change,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_account_out_of_scope_stays_while_its_own_data_refers_to_it() {
    let hub = Hub::new(
        CONFIG,
        &[
            ("node.csv", &format!("{HEADER}{DESK}{SOFT}{MARY}")),
            ("out.csv", "id,numbers\n"),
        ],
    )
    .await;
    hub.sync_ok().await;
    let john = hub.entry("givenName", "John").await.id;
    let status = AccountEdit::SetStatus {
        name: "Away".into(),
        make_call_from: "2001".into(),
    };
    edit(&hub, john, status).await;
    edit(&hub, john, AccountEdit::AddNumber("3001".into())).await;
    hub.sync_ok().await;
    assert_eq!(numbers(&hub), ["3001:1001;2001;3001"]);

    // The deskphone goes: John leaves the node's scope and is kept, not deleted.
    hub.write("node.csv", &format!("{HEADER}{SOFT}{MARY}"));
    let report = hub.sync_ok().await;
    let sync = step(&report, "node", Profile::DeltaSync);
    assert_eq!(
        (sync.counters.updated, sync.counters.deleted),
        (1, 0),
        "{sync:#?}"
    );
    let outcomes = hub.all_outcomes(&report).await;
    let kept_now = kept(&outcomes);
    assert_eq!(kept_now.len(), 1, "{outcomes:#?}");
    assert_eq!(kept_now[0].object, "John|Smith|");
    let message = kept_now[0].message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("out of scope; entry")
            && message.contains("\"Away\" (make call from 2001)"),
        "{message}"
    );
    let entry = hub.entry("manualNumber", "3001").await;
    assert_eq!(entry.id, john);
    assert_eq!(entry.attrs.get("telephoneNumber"), ["2001", "3001"]);
    assert_eq!(entry.attrs.get("softphone"), ["2001"]);
    assert!(entry.attrs.get("deskphone").is_empty() && entry.attrs.get("givenName").is_empty());
    assert_eq!(hub.object("node", "John|Smith|").await.entry_id, Some(john));
    assert_eq!(numbers(&hub), ["3001:2001;3001"]);

    // A full sync looks at the held object again and changes nothing.
    let full = hub.run("node", Profile::FullSync).await;
    assert_eq!(full.status, RunStatus::Success);
    assert_eq!(
        (
            full.counters.updated,
            full.counters.deleted,
            full.counters.unchanged
        ),
        (0, 0, 2),
        "{full:#?}"
    );

    // Back in scope: the same entry, its own data intact.
    hub.write("node.csv", &format!("{HEADER}{DESK}{SOFT}{MARY}"));
    hub.sync_ok().await;
    let entry = hub.entry("sn", "Smith").await;
    assert_eq!(entry.id, john);
    assert_eq!(entry.attrs.get("telephoneNumber"), ["1001", "2001", "3001"]);
    assert_eq!(entry.attrs.get("manualNumber"), ["3001"]);

    // Out of scope again; the last of its own data removed: the next sync would delete it,
    // and the deletion threshold holds that delete, in the directory and in the target, until
    // it is allowed.
    hub.write("node.csv", &format!("{HEADER}{SOFT}{MARY}"));
    hub.sync_ok().await;
    edit(&hub, john, AccountEdit::ClearStatus("Away".into())).await;
    edit(&hub, john, AccountEdit::RemoveNumber("3001".into())).await;
    let report = hub.sync_now().await;
    assert_eq!(
        report.status,
        RunStatus::StoppedDeletionThreshold,
        "{report:#?}"
    );
    assert!(hub.entries().await.iter().any(|e| e.id == john));
    assert_eq!(hub.object("node", "John|Smith|").await.entry_id, Some(john));
    assert_eq!(numbers(&hub), ["3001:2001;3001"], "nothing exported");
    let allowed = hub.sync_now_with(&hub.options(false, Some(1))).await;
    assert_eq!(allowed.status, RunStatus::Success, "{allowed:#?}");
    assert!(hub.entries().await.iter().all(|e| e.id != john));
    assert!(numbers(&hub).is_empty());
}

#[tokio::test]
async fn only_connectors_with_the_rule_keep_entries_for_their_own_data() {
    let config = r#"version = 1
[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
telephoneNumber = "phone"
"#;
    let hub = Hub::new(config, &[("hr.csv", "id,phone\n1,1001\n2,1002\n")]).await;
    hub.sync_ok().await;
    let one = hub.entry("uid", "1").await.id;
    edit(&hub, one, AccountEdit::AddNumber("3001".into())).await;
    hub.sync_ok().await;
    // Not a PBX account: the hand-added number is the entry's own, not one of the source's.
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["1001"]
    );
    hub.write("hr.csv", "id,phone\n2,1002\n");
    let report = hub.sync_ok().await;
    assert!(kept(&hub.all_outcomes(&report).await).is_empty());
    assert!(hub.entries().await.iter().all(|e| e.id != one));
}
