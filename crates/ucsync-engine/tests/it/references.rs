//! Reference attributes: a group's members arrive as anchors of the source connector, are kept
//! in the directory as entry ids, and leave as anchors of each target.

use ucsync_engine::Profile;
use ucsync_store::Entry;

use crate::harness::{Hub, has_outcome, sorted, step};

const CONFIG: &str = r#"version = 1

[enterprises.default]
sync_order = ["src", "dst"]
references = ["member"]

[connectors.src]
kind = "csv"
[connectors.src.settings]
path = "src.csv"
key = ["id"]
object_type_column = "Type"
object_types = ["person", "group"]
multi_valued = { member = ";" }
[connectors.src.rules]
projection = { person = "person", group = "group" }
[connectors.src.rules.import_flows]
uid = "id"
cn = "name"
member = "member"

[connectors.dst]
kind = "csv"
[connectors.dst.settings]
path = "dst.csv"
key = ["ref"]
object_type_column = "Kind"
object_types = ["user", "team"]
multi_valued = { members = ";" }
header = ["ref", "Kind", "displayName", "members"]
[connectors.dst.rules]
provisioning = [
  { from = "person", object_type = "user" },
  { from = "group", object_type = "team" },
]
[connectors.dst.rules.export_flows]
ref = "upper(uid)"
displayName = "cn"
members = "member"
"#;

const PEOPLE: &str = "p1,person,Ann,\np2,person,Bob,\np3,person,Cid,\n";

/// The group row comes first in the file: its members are resolved all the same.
fn src(group_members: &str, extra_people: &str) -> String {
    format!("id,Type,name,member\ng1,group,Staff,{group_members}\n{PEOPLE}{extra_people}")
}

async fn hub() -> Hub {
    Hub::new(
        CONFIG,
        &[
            ("src.csv", &src("p1;p2", "")),
            ("dst.csv", "ref,Kind,displayName,members\n"),
        ],
    )
    .await
}

/// Entry ids, as the directory keeps them in reference attributes.
async fn ids(hub: &Hub, uids: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for u in uids {
        out.push(hub.entry("uid", u).await.id.to_string());
    }
    sorted(&out)
}

fn target_members(hub: &Hub) -> Vec<String> {
    let team = hub.row("dst.csv", "ref", "G1");
    assert_eq!(team["Kind"], "team");
    let cell = &team["members"];
    sorted(
        &cell
            .split(';')
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>(),
    )
}

async fn group(hub: &Hub) -> Entry {
    let g = hub.entry("uid", "g1").await;
    assert_eq!(g.object_type, "group");
    g
}

#[tokio::test]
async fn members_are_entry_ids_in_the_directory_and_target_anchors_in_the_target() {
    let hub = hub().await;
    let report = hub.sync_ok().await;
    let outcomes = hub
        .all_outcomes(step(&report, "src", Profile::DeltaSync))
        .await;
    assert!(
        !outcomes.iter().any(|o| o.action == "warning"),
        "every member resolved: {outcomes:#?}"
    );

    let g = group(&hub).await;
    assert_eq!(
        sorted(g.attrs.get("member")),
        ids(&hub, &["p1", "p2"]).await
    );
    assert_eq!(
        g.attrs.source("member"),
        Some(Some(hub.connector_id("src").await))
    );

    let rows = hub.rows("dst.csv");
    assert_eq!(rows.len(), 4, "3 users and 1 team: {rows:#?}");
    for p in ["P1", "P2", "P3"] {
        assert_eq!(hub.row("dst.csv", "ref", p)["Kind"], "user");
    }
    assert_eq!(hub.row("dst.csv", "ref", "G1")["displayName"], "Staff");
    assert_eq!(target_members(&hub), ["P1", "P2"]);
}

#[tokio::test]
async fn a_member_added_to_the_source_group_reaches_the_target_in_a_delta_run() {
    let hub = hub().await;
    hub.sync_ok().await;

    hub.write("src.csv", &src("p1;p2;p3", ""));
    let report = hub.sync_ok().await;
    let sync = step(&report, "src", Profile::DeltaSync);
    assert_eq!(
        (
            sync.counters.added,
            sync.counters.updated,
            sync.counters.deleted
        ),
        (0, 1, 0),
        "only the group changed"
    );
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1", "p2", "p3"]).await
    );
    assert_eq!(target_members(&hub), ["P1", "P2", "P3"]);
    let export = step(&report, "dst", Profile::Export);
    assert_eq!((export.counters.added, export.counters.updated), (0, 1));

    // And a member removed leaves the target too.
    hub.write("src.csv", &src("p3", ""));
    hub.sync_ok().await;
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p3"]).await
    );
    assert_eq!(target_members(&hub), ["P3"]);
}

#[tokio::test]
async fn a_new_person_and_its_membership_arrive_in_the_same_run() {
    let hub = hub().await;
    hub.sync_ok().await;

    hub.write("src.csv", &src("p1;p4", "p4,person,Dan,\n"));
    let report = hub.sync_ok().await;
    let outcomes = hub
        .all_outcomes(step(&report, "src", Profile::DeltaSync))
        .await;
    assert!(
        !has_outcome(
            &outcomes,
            "warning",
            &format!("entry:{}", group(&hub).await.id)
        ),
        "{outcomes:#?}"
    );
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1", "p4"]).await
    );
    assert_eq!(hub.row("dst.csv", "ref", "P4")["displayName"], "Dan");
    assert_eq!(target_members(&hub), ["P1", "P4"]);
}

#[tokio::test]
async fn a_member_not_in_the_directory_yet_is_resolved_at_a_later_sync() {
    let hub = Hub::new(
        CONFIG,
        &[
            ("src.csv", &src("p1;p9", "")),
            ("dst.csv", "ref,Kind,displayName,members\n"),
        ],
    )
    .await;
    let report = hub.sync_ok().await;
    let g = group(&hub).await;
    let outcomes = hub
        .all_outcomes(step(&report, "src", Profile::DeltaSync))
        .await;
    let warning = outcomes
        .iter()
        .find(|o| o.action == "warning" && o.object == format!("entry:{}", g.id))
        .unwrap_or_else(|| panic!("no warning about p9: {outcomes:#?}"));
    assert!(
        warning.message.as_deref().unwrap_or("").contains("p9"),
        "{warning:#?}"
    );
    assert_eq!(sorted(g.attrs.get("member")), ids(&hub, &["p1"]).await);
    assert_eq!(target_members(&hub), ["P1"]);

    // p9 arrives; the group row itself does not change.
    hub.write("src.csv", &src("p1;p9", "p9,person,Ida,\n"));
    hub.sync_ok().await;
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1", "p9"]).await
    );
    assert_eq!(target_members(&hub), ["P1", "P9"]);
}

#[tokio::test]
async fn a_person_deleted_with_its_membership_leaves_group_and_target() {
    let hub = hub().await;
    hub.sync_ok().await;
    let bob = hub.entry("uid", "p2").await;

    hub.write(
        "src.csv",
        "id,Type,name,member\ng1,group,Staff,p1\np1,person,Ann,\np3,person,Cid,\n",
    );
    hub.sync_ok().await;
    assert!(hub.entries().await.iter().all(|e| e.id != bob.id));
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1"]).await
    );
    assert!(hub.rows("dst.csv").iter().all(|r| r["ref"] != "P2"));
    assert_eq!(target_members(&hub), ["P1"]);
}

#[tokio::test]
async fn a_deleted_entry_is_not_left_as_a_member_of_a_group() {
    let hub = hub().await;
    hub.sync_ok().await;
    let bob = hub.entry("uid", "p2").await;

    // Bob's row goes; the group row (still naming p2) is left as it was.
    hub.write(
        "src.csv",
        "id,Type,name,member\ng1,group,Staff,p1;p2\np1,person,Ann,\np3,person,Cid,\n",
    );
    hub.sync_now().await;
    assert!(hub.entries().await.iter().all(|e| e.id != bob.id));
    assert!(hub.rows("dst.csv").iter().all(|r| r["ref"] != "P2"));
    let members = group(&hub).await.attrs.get("member").to_vec();
    let target = target_members(&hub);
    assert!(
        !members.contains(&bob.id.to_string()) && target == ["P1"],
        "the group still refers to deleted entry {}: directory member = {members:?}, target members = {target:?}",
        bob.id
    );
}

#[tokio::test]
async fn a_full_sync_without_changes_changes_nothing() {
    let hub = hub().await;
    hub.sync_ok().await;
    let entries = format!("{:#?}", hub.entries().await);
    let dst = hub.bytes("dst.csv");

    let full = hub.run("src", Profile::FullSync).await;
    assert_eq!(full.status, ucsync_engine::RunStatus::Success);
    assert_eq!(
        (
            full.counters.added,
            full.counters.updated,
            full.counters.deleted
        ),
        (0, 0, 0),
        "{:#?}",
        hub.all_outcomes(&full).await
    );
    assert_eq!(format!("{:#?}", hub.entries().await), entries);
    assert!(
        hub.staged("dst").await.iter().all(|s| s.export.is_none()),
        "no export became pending"
    );
    hub.sync_ok().await;
    assert_eq!(hub.bytes("dst.csv"), dst);
}

/// The src delta-sync of a sync-now: its note and whether it warned about anything.
async fn src_sync(hub: &Hub, report: &ucsync_engine::RunReport) -> (String, Vec<String>) {
    let sync = step(report, "src", Profile::DeltaSync);
    let warnings = hub
        .all_outcomes(sync)
        .await
        .into_iter()
        .filter(|o| o.action == "warning")
        .map(|o| o.message.unwrap_or_default())
        .collect();
    (sync.message.clone().unwrap_or_default(), warnings)
}

/// Issue 18: a member deleted in the source while the group stays as it was was reported as
/// "not in the directory yet" and retried at every sync. It is dropped and counted once.
#[tokio::test]
async fn a_reference_to_a_deleted_object_is_dropped_and_counted_once() {
    let hub = hub().await;
    hub.sync_ok().await;

    // Bob's row goes; the group row (still naming p2) is left as it was.
    hub.write(
        "src.csv",
        "id,Type,name,member\ng1,group,Staff,p1;p2\np1,person,Ann,\np3,person,Cid,\n",
    );
    let report = hub.sync_ok().await;
    let (note, warnings) = src_sync(&hub, &report).await;
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(
        note,
        "1 reference value was dropped: 1 to objects deleted in the source"
    );
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1"]).await
    );
    assert_eq!(target_members(&hub), ["P1"]);

    // Counted once: the next run has nothing to retry.
    let report = hub.sync_ok().await;
    let (note, warnings) = src_sync(&hub, &report).await;
    assert!(
        note.is_empty() && warnings.is_empty(),
        "{note} {warnings:#?}"
    );
    let sync = step(&report, "src", Profile::DeltaSync);
    assert_eq!(
        sync.counters.updated + sync.counters.unchanged,
        0,
        "{sync:?}"
    );
}

/// Issue 18: a member the connector's scope leaves out was retried at every sync.
#[tokio::test]
async fn a_reference_to_an_object_out_of_scope_is_dropped_and_counted_once() {
    let config = CONFIG.replace(
        "[connectors.src.rules]\n",
        "[connectors.src.rules]\nscope = 'name != \"Cid\"'\n",
    );
    let hub = Hub::new(
        &config,
        &[
            ("src.csv", &src("p1;p3", "")),
            ("dst.csv", "ref,Kind,displayName,members\n"),
        ],
    )
    .await;
    let report = hub.sync_ok().await;
    let (note, warnings) = src_sync(&hub, &report).await;
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(
        note,
        "1 reference value was dropped: 1 to objects out of scope (not in the directory)"
    );
    assert_eq!(
        sorted(group(&hub).await.attrs.get("member")),
        ids(&hub, &["p1"]).await
    );
    assert_eq!(target_members(&hub), ["P1"]);

    let report = hub.sync_ok().await;
    let (note, warnings) = src_sync(&hub, &report).await;
    assert!(
        note.is_empty() && warnings.is_empty(),
        "{note} {warnings:#?}"
    );
    let sync = step(&report, "src", Profile::DeltaSync);
    assert_eq!(
        sync.counters.updated + sync.counters.unchanged,
        0,
        "{sync:?}"
    );
}
