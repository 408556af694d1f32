//! A change of the rules or of the settings an import depends on takes effect at the next run,
//! which does the full import or full sync the change needs by itself and says why; a preview
//! shows the effect. A full import or full sync that stopped is finished by the next run, even
//! a delta one. A connector left out of the configuration goes whole or not at all.

use ucsync_engine::{Profile, RunReport, RunStatus};
use ucsync_store::CatalogStore;

use crate::harness::{Hub, step};
use crate::stop::{Moment, snapshot, stopping};

const CONFIG: &str = r#"version = 1
[enterprises.default]
sync_order = ["hr", "phones"]
deletion_threshold = 100

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
mail = "mail"
telephoneNumber = "phone"

[connectors.phones]
kind = "csv"
[connectors.phones.settings]
path = "phones.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn", "email"]
[connectors.phones.rules]
join = [{ staged = "uid", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.phones.rules.export_flows]
uid = "uid"
cn = "cn"
email = 'rewrite_domain(mail, "acme.com")'
"#;

/// The configuration with the export flow's domain changed.
fn new_domain() -> String {
    CONFIG.replace("\"acme.com\"", "\"example.org\"")
}

/// The configuration with hr's phone column read as several values.
fn split_phones() -> String {
    CONFIG.replace(
        "path = \"hr.csv\"\nkey = [\"id\"]",
        "path = \"hr.csv\"\nkey = [\"id\"]\nmulti_valued = { phone = \";\" }",
    )
}

fn people(n: usize) -> String {
    let mut s = String::from("id,name,mail,phone\n");
    for i in 0..n {
        s.push_str(&format!("{i},Person {i},p{i}@old.example,+1 {i};+2 {i}\n"));
    }
    s
}

async fn synced(n: usize) -> Hub {
    let hub = Hub::new(
        CONFIG,
        &[("hr.csv", &people(n)), ("phones.csv", "uid,cn,email\n")],
    )
    .await;
    hub.sync_ok().await;
    hub
}

fn message(report: &RunReport) -> &str {
    report.message.as_deref().unwrap_or("")
}

/// The e-mail domains of phones.csv, sorted and counted.
fn domains(hub: &Hub) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for row in hub.rows("phones.csv") {
        let domain = row["email"].split('@').nth(1).unwrap_or("").to_owned();
        *counts.entry(domain).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[tokio::test]
async fn a_changed_export_flow_is_previewed_and_exported_by_the_next_sync_now() {
    let mut hub = synced(3).await;
    assert_eq!(domains(&hub), [("acme.com".to_owned(), 3)]);
    let before = hub.bytes("phones.csv");

    hub.reconfigure(&new_domain());
    // The preview shows the effect and changes nothing, the recorded fingerprint included.
    let preview = hub.sync_now_with(&hub.options(true, None)).await;
    assert_eq!(preview.status, RunStatus::Success, "{preview:#?}");
    let updated = preview.steps.iter().flat_map(|s| &s.outcomes).any(|o| {
        o.action == "pending-update"
            && o.changes
                .iter()
                .any(|c| format!("{c:?}").contains("p1@example.org"))
    });
    assert!(updated, "the preview names the new value: {preview:#?}");
    for c in ["hr", "phones"] {
        let sync = step(&preview, c, Profile::FullSync);
        assert!(
            message(sync).contains("full-sync instead of delta-sync: the rules changed"),
            "{sync:#?}"
        );
    }
    let export = step(&preview, "phones", Profile::Export);
    assert!(
        message(export).contains("preview: 3 pending exports were not sent"),
        "{export:#?}"
    );
    assert_eq!(hub.bytes("phones.csv"), before, "a preview writes nothing");

    let run = hub.sync_ok().await;
    assert_eq!(domains(&hub), [("example.org".to_owned(), 3)]);
    step(&run, "hr", Profile::FullSync);
    step(&run, "phones", Profile::FullSync);
    assert_eq!(step(&run, "phones", Profile::Export).counters.updated, 3);

    // Once done, the next run is a delta one again.
    let next = hub.sync_ok().await;
    step(&next, "hr", Profile::DeltaSync);
    step(&next, "phones", Profile::DeltaSync);
}

#[tokio::test]
async fn a_changed_import_setting_makes_the_next_import_a_full_one() {
    let mut hub = synced(2).await;
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["+1 1;+2 1"]
    );

    // The file is the same: a delta import alone would say the source did not change.
    hub.reconfigure(&split_phones());
    let run = hub.sync_ok().await;
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("telephoneNumber"),
        ["+1 1", "+2 1"]
    );
    let import = step(&run, "hr", Profile::FullImport);
    assert!(
        message(import).contains(
            "full-import instead of delta-import: the connector's settings that change what an import reads changed"
        ),
        "{import:#?}"
    );
    assert_eq!(import.counters.updated, 2, "{import:#?}");
    // The rules did not change: hr's sync stays a delta one.
    step(&run, "hr", Profile::DeltaSync);

    let next = hub.sync_ok().await;
    let import = step(&next, "hr", Profile::DeltaImport);
    assert!(
        message(import).contains("has not changed since the last import"),
        "{import:#?}"
    );
}

#[tokio::test]
async fn a_changed_export_layout_is_written_by_the_next_export_with_nothing_pending() {
    let mut hub = synced(2).await;
    assert_eq!(hub.read("phones.csv").lines().next(), Some("uid,cn,email"));

    hub.reconfigure(&CONFIG.replace(
        r#"header = ["uid", "cn", "email"]"#,
        r#"header = ["uid", "email", "cn"]"#,
    ));
    let run = hub.sync_ok().await;
    let text = hub.read("phones.csv");
    assert_eq!(text.lines().next(), Some("uid,email,cn"), "{text}");
    assert_eq!(hub.row("phones.csv", "uid", "1")["email"], "p1@acme.com");
    let export = step(&run, "phones", Profile::Export);
    assert!(
        message(export)
            .contains("the whole target is written again: the connector's export settings changed"),
        "{export:#?}"
    );

    let next = hub.sync_ok().await;
    assert_eq!(
        message(step(&next, "phones", Profile::Export)),
        "nothing to export"
    );
}

/// Two hubs that synced the same people under the same configuration.
async fn twins(n: usize) -> (Hub, Hub) {
    (synced(n).await, synced(n).await)
}

async fn assert_same(a: &Hub, b: &Hub) {
    let connectors = ["hr", "phones"];
    let (x, y) = (
        snapshot(a, &connectors).await,
        snapshot(b, &connectors).await,
    );
    assert_eq!(x.len(), y.len(), "directory and staging sizes differ");
    let differ = x.iter().zip(&y).filter(|(p, q)| p != q).count();
    let first = x.iter().zip(&y).find(|(p, q)| p != q);
    assert_eq!(
        differ, 0,
        "{differ} differ from the uninterrupted hub, first: {first:?}"
    );
    assert!(
        a.read("phones.csv") == b.read("phones.csv"),
        "phones.csv differs"
    );
}

async fn unfinished(hub: &Hub, connector: &str) -> (bool, bool) {
    let row = hub
        .store
        .connectors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == connector)
        .unwrap();
    (row.full_import_unfinished, row.full_sync_unfinished)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_full_import_is_finished_by_the_next_sync_now() {
    // More than one import batch (5,000 records).
    let (mut stopped, mut straight) = twins(6_000).await;
    stopped.reconfigure(&split_phones());
    straight.reconfigure(&split_phones());

    let options = stopping(&stopped, "hr: import", Moment::FirstBatch);
    let report = stopped
        .engine
        .run_profile("hr", Profile::FullImport, &options)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Stopped, "{report:#?}");
    assert!(
        message(&report).contains("the next run of this connector does the full-import again"),
        "{report:#?}"
    );
    assert_eq!(report.counters.updated, 5_000);
    assert_eq!(unfinished(&stopped, "hr").await, (true, false));

    let next = stopped.sync_ok().await;
    straight.sync_ok().await;
    assert_same(&stopped, &straight).await;
    let import = step(&next, "hr", Profile::FullImport);
    assert!(
        message(import)
            .contains("full-import instead of delta-import: the last full import did not finish"),
        "{import:#?}"
    );
    assert_eq!(unfinished(&stopped, "hr").await, (false, false));
    let one = stopped.entry("uid", "5999").await;
    assert_eq!(one.attrs.get("telephoneNumber"), ["+1 5999", "+2 5999"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_full_sync_is_finished_by_the_next_sync_now() {
    // Several sync batches (1,000 objects each).
    let (mut stopped, mut straight) = twins(3_000).await;
    stopped.reconfigure(&new_domain());
    straight.reconfigure(&new_domain());

    let options = stopping(&stopped, "hr: sync", Moment::FirstBatch);
    let report = stopped
        .engine
        .run_profile("hr", Profile::FullSync, &options)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Stopped, "{report:#?}");
    assert!(
        message(&report).contains("the next run of this connector does the full-sync again"),
        "{report:#?}"
    );
    assert!(report.counters.unchanged < 3_000, "{report:#?}");
    assert_eq!(unfinished(&stopped, "hr").await, (false, true));

    let next = stopped.sync_ok().await;
    straight.sync_ok().await;
    assert_same(&stopped, &straight).await;
    let sync = step(&next, "hr", Profile::FullSync);
    assert!(
        message(sync)
            .contains("full-sync instead of delta-sync: the last full sync did not finish"),
        "{sync:#?}"
    );
    assert_eq!(unfinished(&stopped, "hr").await, (false, false));
    assert_eq!(domains(&stopped), [("example.org".to_owned(), 3_000)]);
}

#[tokio::test]
async fn a_connector_left_out_of_the_configuration_goes_only_through_connector_delete() {
    let hub = synced(3).await;
    let without: ucsync_model::Config = ucsync_model::config::parse(
        CONFIG
            .replace("sync_order = [\"hr\", \"phones\"]", "sync_order = [\"hr\"]")
            .split("[connectors.phones]")
            .next()
            .unwrap(),
        &ucsync_connectors::Connectors,
    )
    .unwrap();
    let refused = ucsync_engine::connectors_left_out(hub.store.as_ref(), &without, true)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("connector phones is left out of the configuration but its staging space still holds 3 objects")
            && refused.contains("ucsync connector delete phones"),
        "{refused}"
    );
    assert!(hub.registered("phones").await.is_some(), "nothing changed");

    let deleted = hub.run("phones", Profile::DeleteConnector).await;
    assert_eq!(deleted.status, RunStatus::Success, "{deleted:#?}");
    ucsync_engine::connectors_left_out(hub.store.as_ref(), &without, true)
        .await
        .unwrap();
}

#[test]
fn a_new_password_is_no_import_setting_and_is_never_part_of_one() {
    use ucsync_model::ConnectorFactory;
    let read = |password: &str, base: &str| {
        let text = format!(
            r#"version = 1
[connectors.hq]
kind = "ldap"
[connectors.hq.settings]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=sync,dc=example,dc=com"
password = "{password}"
base_dn = "{base}"
[[connectors.hq.settings.object_types]]
name = "contact"
base = "ou=Contacts,{base}"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn"]
rdn = "cn"
"#
        );
        let config = ucsync_model::config::parse(&text, &ucsync_connectors::Connectors).unwrap();
        ucsync_connectors::Connectors
            .build(
                "hq",
                "ldap",
                &config.connectors["hq"].settings,
                std::path::Path::new("/"),
            )
            .unwrap()
            .import_settings()
    };
    let old = read("0ld-Pa55", "dc=example,dc=com");
    assert_eq!(old, read("n3w-Pa55", "dc=example,dc=com"));
    assert!(!old.contains("Pa55"), "{old}");
    assert!(old.contains("cn=sync,dc=example,dc=com"), "{old}");
    assert_ne!(old, read("0ld-Pa55", "dc=other,dc=com"));
}
