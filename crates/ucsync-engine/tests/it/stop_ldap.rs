//! An export sent object by object (LDAP; batches of 2,000 changes here, set by `export_batch`)
//! stops between batches: the batch sent when the stop came is recorded whole, no further
//! change reaches the server, and the next run sends exactly the rest.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::StagingStore;
use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::{Hub, step};
use crate::stop::{Moment, assert_stopped, snapshot, stopping};

const PEOPLE: usize = 2_100;

fn config(central: &Slapd) -> String {
    format!(
        r#"version = 1
[enterprises.default]
sync_order = ["hr", "central"]

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

[connectors.central]
kind = "ldap"
[connectors.central.settings]
url = "{uri}"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
[[connectors.central.settings.object_types]]
name = "contact"
base = "ou=Contacts,{base}"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn", "employeeNumber"]
rdn = "cn"
[connectors.central.rules]
provisioning = [{{ from = "person", object_type = "contact" }}]
[connectors.central.rules.export_flows]
cn = "cn"
sn = "cn"
employeeNumber = "uid"
"#,
        uri = central.uri(),
        dn = central.root_dn(),
        pw = central.root_pw(),
        base = central.suffix(),
    )
}

async fn hub(central: &Slapd) -> Hub {
    central.add_ou("Contacts");
    let mut csv = String::from("id,name\n");
    for i in 0..PEOPLE {
        csv.push_str(&format!("{i},Person {i}\n"));
    }
    Hub::new(&config(central), &[("hr.csv", &csv)]).await
}

/// Every contact on the server, as text.
fn contacts(central: &Slapd) -> Vec<String> {
    let mut out: Vec<String> = central
        .search(
            &format!("ou=Contacts,{}", central.suffix()),
            "(objectClass=inetOrgPerson)",
            &["cn", "sn", "employeeNumber"],
        )
        .into_iter()
        .map(|e| format!("{} {:?}", e.dn, e.attrs))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_changes_stopped_after_its_first_batch_sends_no_further_batch() {
    let (server, other) = (
        Slapd::start(SlapdOptions::default()),
        Slapd::start(SlapdOptions::default()),
    );
    let (stopped, straight) = (hub(&server).await, hub(&other).await);

    let mut options = stopping(&stopped, "central: export", Moment::FirstBatch);
    options.export_batch = Some(2_000);
    let report = stopped.sync_now_with(&options).await;
    assert_stopped(&stopped, &report).await;
    let export = step(&report, "central", Profile::Export);
    assert_stopped(&stopped, export).await;
    // The first batch of 2,000 adds reached the server and was recorded; nothing more.
    assert_eq!(export.counters.added, 2_000, "{:?}", export.counters);
    let outcomes = stopped.all_outcomes(export).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.action == "export-add").count(),
        2_000
    );
    assert_eq!(contacts(&server).len(), 2_000);
    let id = stopped.connector_id("central").await;
    let counts = stopped.store.count_staged(id, true).await.unwrap();
    assert_eq!(counts.pending_adds, (PEOPLE - 2_000) as i64, "{counts:?}");

    let next = stopped.sync_ok().await;
    let export = step(&next, "central", Profile::Export);
    assert_eq!(export.counters.added, (PEOPLE - 2_000) as i64);
    let done = straight.sync_ok().await;
    assert_eq!(
        step(&done, "central", Profile::Export).counters.added,
        PEOPLE as i64
    );
    assert_eq!(export.status, RunStatus::Success);

    // Each server holds the same contacts, each hub the same directory and pending nothing.
    let (a, b) = (contacts(&server), contacts(&other));
    assert_eq!(a.len(), PEOPLE);
    assert!(a == b, "the servers differ");
    assert_eq!(
        snapshot(&stopped, &[]).await,
        snapshot(&straight, &[]).await
    );
    for hub in [&stopped, &straight] {
        let id = hub.connector_id("central").await;
        let counts = hub.store.count_staged(id, true).await.unwrap();
        assert_eq!(
            counts.pending_adds + counts.pending_updates + counts.pending_deletes,
            0
        );
    }
}
