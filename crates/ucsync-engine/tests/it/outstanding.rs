//! Outstanding per-object errors of the sync and export steps: an ambiguous join and an export
//! refused by the target's valid-character rule stay outstanding through runs that leave them
//! as they are, and are over once the object is synced or exported, or deleted in the source.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::{ErrorStore, OutstandingError};

use crate::harness::{Hub, step};

async fn outstanding(hub: &Hub, connector: &str) -> Vec<OutstandingError> {
    hub.store.outstanding_errors(Some(connector)).await.unwrap()
}

const JOINS: &str = r#"version = 1

[enterprises.default]
sync_order = ["hr", "pbx"]

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
mail = "mail"

[connectors.pbx]
kind = "csv"
[connectors.pbx.settings]
path = "pbx.csv"
key = ["ext"]
[connectors.pbx.rules]
join = [{ staged = "email", directory = "mail" }]
[connectors.pbx.rules.import_flows]
telephoneNumber = "phone"
"#;

#[tokio::test]
async fn an_ambiguous_join_stays_outstanding_until_it_joins_or_is_deleted() {
    let hub = Hub::new(
        JOINS,
        &[
            ("hr.csv", "id,mail\n1,shared@acme.com\n2,shared@acme.com\n"),
            (
                "pbx.csv",
                "ext,email,phone\n100,shared@acme.com,+1 100\n200,shared@acme.com,+1 200\n",
            ),
        ],
    )
    .await;
    let report = hub.sync_now().await;
    let sync = step(&report, "pbx", Profile::DeltaSync);
    assert_eq!(sync.counters.errors, 2);
    let first = sync.run_id.unwrap();
    let errors = outstanding(&hub, "pbx").await;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(
        (errors[0].step.as_str(), errors[0].object.as_str()),
        ("sync", "100")
    );
    assert!(errors[0].message.contains("shared@acme.com") || errors[0].message.contains("entry"));
    assert_eq!(errors[0].first_run, first);

    // Retried and refused again by the next sync: the same errors, seen again.
    let next = hub.sync_now().await;
    let again = step(&next, "pbx", Profile::DeltaSync).run_id.unwrap();
    let errors = outstanding(&hub, "pbx").await;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!((errors[0].first_run, errors[0].last_run), (first, again));

    // 200 is deleted in the source; Bob gets a mail of his own, so 100 joins Ann.
    hub.write("pbx.csv", "ext,email,phone\n100,shared@acme.com,+1 100\n");
    hub.write("hr.csv", "id,mail\n1,shared@acme.com\n2,bob@acme.com\n");
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    assert_eq!(outstanding(&hub, "pbx").await, Vec::new());
}

#[tokio::test]
async fn an_object_leaving_the_scope_is_no_longer_a_join_error() {
    let config = JOINS.replace(
        "[connectors.pbx.rules]\n",
        "[connectors.pbx.rules]\nscope = 'phone != \"none\"'\n",
    );
    let hub = Hub::new(
        &config,
        &[
            ("hr.csv", "id,mail\n1,shared@acme.com\n2,shared@acme.com\n"),
            ("pbx.csv", "ext,email,phone\n100,shared@acme.com,+1 100\n"),
        ],
    )
    .await;
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "pbx").await.len(), 1);
    // A full sync that reports it again keeps it.
    hub.run("pbx", Profile::FullSync).await;
    assert_eq!(outstanding(&hub, "pbx").await.len(), 1);
    hub.write("pbx.csv", "ext,email,phone\n100,shared@acme.com,none\n");
    hub.sync_ok().await;
    assert_eq!(outstanding(&hub, "pbx").await, Vec::new());
    assert_eq!(hub.object("pbx", "100").await.sync_error, None);
}

const PROVISIONING: &str = r#"version = 1
[enterprises.default]
sync_order = ["hr", "central"]

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
mail = "mail"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["email"]
header = ["email", "id"]
[connectors.central.rules]
join = [{ staged = "email", directory = "mail" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.central.rules.export_flows]
email = "mail"
id = "uid"
"#;

#[tokio::test]
async fn an_entry_that_cannot_be_provisioned_stays_outstanding_until_provisioned_or_gone() {
    let hub = Hub::new(
        PROVISIONING,
        &[("hr.csv", "id,mail\n1,a@acme.com\n2,\n3,\n")],
    )
    .await;
    hub.write("central.csv", "email,id\n");
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
    let errors = outstanding(&hub, "central").await;
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.step == "sync" && e.object.starts_with("entry:"))
    );
    assert!(
        errors[0].message.contains("cannot be provisioned"),
        "{errors:#?}"
    );
    // Nothing changed: still outstanding after a sync-now that reads nothing new.
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "central").await.len(), 2);

    // Person 2 gets a mail (provisioned), person 3 leaves (its entry goes): both are over.
    hub.write("hr.csv", "id,mail\n1,a@acme.com\n2,b@acme.com\n");
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    assert_eq!(outstanding(&hub, "central").await, Vec::new());
    assert!(hub.read("central.csv").contains("b@acme.com,2"));
}

const EXPORTS: &str = r#"version = 1
[enterprises.default]
sync_order = ["hr", "central"]

[connectors.hr]
kind = "csv"
character_rule = false
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["id"]
header = ["id", "name"]
[connectors.central.rules]
join = [{ staged = "id", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.central.rules.export_flows]
id = "uid"
name = "cn"
"#;

fn people(n: usize, bell: Option<usize>) -> String {
    let mut s = String::from("id,name\n");
    for i in 1..=n {
        if Some(i) == bell {
            s.push_str(&format!("{i},P\u{7}erson {i}\n"));
        } else {
            s.push_str(&format!("{i},Person {i}\n"));
        }
    }
    s
}

/// With `n` people, the export is a whole rewrite (3) or a patch of the file (100).
async fn a_refused_export_stays_outstanding_until_exported(n: usize) {
    let hub = Hub::new(EXPORTS, &[("hr.csv", &people(n, Some(2)))]).await;
    hub.write("central.csv", "id,name\n");
    let report = hub.sync_now().await;
    let export = step(&report, "central", Profile::Export);
    assert_eq!(export.counters.errors, 1, "{report:#?}");
    let errors = outstanding(&hub, "central").await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(
        (errors[0].step.as_str(), errors[0].object.as_str()),
        ("export", "2")
    );
    assert!(errors[0].message.contains("\"name\""), "{errors:#?}");

    // Nothing changed: the export refuses it again; it stays.
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "central").await.len(), 1);

    // Fixed in the source: exported, over.
    hub.write("hr.csv", &people(n, None));
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    assert_eq!(outstanding(&hub, "central").await, Vec::new());
    assert!(hub.read("central.csv").contains("2,Person 2"));
}

#[tokio::test]
async fn a_refused_export_of_a_whole_file_stays_outstanding_until_exported() {
    a_refused_export_stays_outstanding_until_exported(3).await;
}

#[tokio::test]
async fn a_refused_export_of_a_patched_file_stays_outstanding_until_exported() {
    a_refused_export_stays_outstanding_until_exported(100).await;
}

/// `forest` reads people from a real slapd (delta imports through syncrepl).
fn ldap_config(slapd: &ucsync_testkit::Slapd) -> String {
    format!(
        r#"version = 1
[connectors.forest]
kind = "ldap"
[connectors.forest.settings]
url = "{uri}"
bind_dn = "{root}"
password = "{pw}"
base_dn = "{base}"
[[connectors.forest.settings.object_types]]
name = "person"
base = "ou=people,{base}"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "mail"]
rdn = "uid"
[connectors.forest.rules]
projection = {{ person = "person" }}
[connectors.forest.rules.import_flows]
uid = "uid"
cn = "cn"
"#,
        uri = slapd.uri(),
        root = slapd.root_dn(),
        pw = slapd.root_pw(),
        base = slapd.suffix(),
    )
}

#[tokio::test]
async fn an_ldap_entry_rejected_stays_outstanding_through_delta_imports() {
    let slapd = ucsync_testkit::Slapd::start(ucsync_testkit::SlapdOptions::default());
    let people = slapd.add_ou("people");
    let mut ldif = String::new();
    for u in ["a1", "a2"] {
        ldif.push_str(&format!(
            "dn: uid={u},{people}\nobjectClass: inetOrgPerson\nuid: {u}\ncn: {u} Name\nsn: Name\n\n"
        ));
    }
    slapd.ldapadd(&ldif);
    let hub = Hub::new(&ldap_config(&slapd), &[]).await;
    hub.sync_ok().await;

    // A bell in a2's cn (base64, as LDIF writes control characters).
    slapd.ldapmodify(&format!(
        "dn: uid=a2,{people}\nchangetype: modify\nreplace: cn\ncn:: YQdiIE5hbWU=\n"
    ));
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
    let errors = outstanding(&hub, "forest").await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].step, "import");
    assert_eq!(errors[0].name, format!("uid=a2,{people}"));
    assert_eq!(errors[0].line, None);
    assert!(errors[0].message.contains("\"cn\""), "{errors:#?}");
    let first = errors[0].first_run;

    // Delta imports that read nothing of a2, and a full import that names it again.
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "forest").await.len(), 1);
    hub.run("forest", Profile::FullImport).await;
    let errors = outstanding(&hub, "forest").await;
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].first_run, first);
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "forest").await.len(), 1);

    // Fixed: over. Broken again, then deleted: over.
    slapd.ldapmodify(&format!(
        "dn: uid=a2,{people}\nchangetype: modify\nreplace: cn\ncn: a2 Name\n"
    ));
    hub.sync_ok().await;
    assert_eq!(outstanding(&hub, "forest").await, Vec::new());
    slapd.ldapmodify(&format!(
        "dn: uid=a2,{people}\nchangetype: modify\nreplace: cn\ncn:: YQdiIE5hbWU=\n"
    ));
    hub.sync_now().await;
    assert_eq!(outstanding(&hub, "forest").await.len(), 1);
    slapd.ldapdelete(&format!("uid=a2,{people}"));
    hub.sync_ok().await;
    assert_eq!(outstanding(&hub, "forest").await, Vec::new());
}
