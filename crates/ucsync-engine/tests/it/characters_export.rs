//! The valid-character rule at export: a target with the rule on (the default) is never sent a
//! value that breaks it, whatever gave it (here a source that opted out). The object is a
//! per-object export error naming the attribute and the position, it stays pending, and the run
//! goes on; an update refused keeps the target's current state. A target that opted out too
//! gets the value.

use ucsync_engine::{Profile, RunStatus};
use ucsync_store::ObjectOutcome;
use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::{Hub, step};

/// `hr` (csv, the rule off) projects people; `central` (csv) gets a contact for each, with the
/// rule as `central_rule` says.
fn config(central_rule: &str) -> String {
    format!(
        r#"version = 1
[enterprises.default]
sync_order = ["hr", "central"]

[connectors.hr]
kind = "csv"
character_rule = false
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = {{ person = "person" }}
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"

[connectors.central]
kind = "csv"
{central_rule}
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["id"]
header = ["id", "name"]
[connectors.central.rules]
join = [{{ staged = "id", directory = "uid" }}]
provisioning = [{{ from = "person", object_type = "contact" }}]
[connectors.central.rules.export_flows]
id = "uid"
name = "cn"
"#
    )
}

/// `n` people, with names given for some ids.
fn people(n: usize, names: &[(usize, &str)]) -> String {
    let mut s = String::from("id,name\n");
    for i in 1..=n {
        let name = names
            .iter()
            .find(|(id, _)| *id == i)
            .map_or(format!("Person {i}"), |(_, n)| (*n).to_owned());
        s.push_str(&format!("{i},{name}\n"));
    }
    s
}

fn errors(outcomes: &[ObjectOutcome]) -> Vec<(&str, &str)> {
    outcomes
        .iter()
        .filter(|o| o.action == "error")
        .map(|o| (o.object.as_str(), o.message.as_deref().unwrap_or_default()))
        .collect()
}

const BELL: &str = "not exported, kept pending: attribute \"name\" has an invalid character \
     U+0007 at position 2; fix the value where it comes from (the source connector's object or \
     a value set by hand on the directory entry), or set character_rule = false on connector \
     central if it may hold such characters";

/// With `n` people, the export is a whole rewrite (3) or a patch of the file (100).
async fn refused_per_object_and_kept_pending(n: usize) {
    let hub = Hub::new(&config(""), &[("hr.csv", &people(n, &[]))]).await;
    hub.write("central.csv", "id,name\n");
    hub.sync_ok().await;
    assert!(hub.read("central.csv").contains("\n2,Person 2\r\n"));

    // Person 2 gets a bell in the name (an update), person 3 a new name, person n+1 is new with
    // an escape character (an add).
    let mut text = people(n, &[(2, "P\u{7}erson 2"), (3, "Cy")]);
    text.push_str(&format!("{},E\u{1B}d\n", n + 1));
    hub.write("hr.csv", &text);
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
    let export = step(&report, "central", Profile::Export);
    assert_eq!(export.status, RunStatus::CompletedWithErrors);
    let c = &export.counters;
    assert_eq!((c.added, c.updated, c.errors), (0, 1, 2), "{c:?}");
    let outcomes = hub.all_outcomes(export).await;
    let errs = errors(&outcomes);
    assert_eq!(errs.len(), 2, "{outcomes:#?}");
    assert_eq!(errs[0], ("2", BELL));
    let new = (n + 1).to_string();
    assert_eq!(errs[1].0, new);
    assert!(
        errs[1]
            .1
            .starts_with("not exported, kept pending: attribute \"name\" has an invalid character U+001B at position 2;"),
        "{}",
        errs[1].1
    );

    // The file keeps person 2 as it was and never gets the new one; person 3's change is in.
    let central = hub.read("central.csv");
    assert!(central.contains("\n2,Person 2\r\n"), "{central}");
    assert!(central.contains("\n3,Cy\r\n"), "{central}");
    assert!(
        !central.contains('\u{7}') && !central.contains('\u{1B}'),
        "{central}"
    );
    assert_eq!(central.lines().count(), n + 1, "{central}");

    // Both stay pending, with their error, and are refused again by the next export.
    for anchor in ["2", new.as_str()] {
        let staged = hub.object("central", anchor).await;
        assert!(staged.export.is_some(), "{anchor}: {staged:?}");
        assert!(
            staged
                .export_error
                .as_deref()
                .is_some_and(|e| e.contains("invalid character")),
            "{anchor}: {staged:?}"
        );
    }
    let again = hub.run("central", Profile::Export).await;
    assert_eq!(again.status, RunStatus::CompletedWithErrors);
    assert_eq!(again.counters.errors, 2);

    // Fixed in the source, both go through.
    hub.write(
        "hr.csv",
        &format!("{}{},Ed\n", people(n, &[(2, "Bo"), (3, "Cy")]), n + 1),
    );
    hub.sync_ok().await;
    let central = hub.read("central.csv");
    assert!(central.contains("\n2,Bo\r\n"), "{central}");
    assert!(central.contains(&format!("\n{new},Ed\r\n")), "{central}");
}

#[tokio::test]
async fn a_value_the_target_may_not_hold_is_refused_when_the_file_is_rewritten() {
    refused_per_object_and_kept_pending(3).await;
}

#[tokio::test]
async fn a_value_the_target_may_not_hold_is_refused_when_the_file_is_patched() {
    refused_per_object_and_kept_pending(100).await;
}

#[tokio::test]
async fn a_preview_shows_the_refusal() {
    let hub = Hub::new(&config(""), &[("hr.csv", &people(2, &[]))]).await;
    hub.write("central.csv", "id,name\n");
    hub.sync_ok().await;
    hub.write("hr.csv", &people(2, &[(2, "P\u{7}erson 2")]));
    let report = hub.sync_now_with(&hub.options(true, None)).await;
    let export = step(&report, "central", Profile::Export);
    assert_eq!(errors(&export.outcomes), [("2", BELL)]);
    assert!(!export.outcomes.iter().any(|o| o.action == "export-update"));
}

#[tokio::test]
async fn a_target_that_opted_out_gets_the_value() {
    let hub = Hub::new(
        &config("character_rule = false"),
        &[("hr.csv", &people(2, &[(2, "P\u{7}erson 2")]))],
    )
    .await;
    hub.write("central.csv", "id,name\n");
    hub.sync_ok().await;
    assert!(hub.read("central.csv").contains("\n2,P\u{7}erson 2\r\n"));
}

/// `hr` (csv, the rule off) → contacts on a real slapd (the rule on by default).
fn ldap_config(central: &Slapd) -> String {
    format!(
        r#"version = 1
[enterprises.default]
sync_order = ["hr", "central"]

[connectors.hr]
kind = "csv"
character_rule = false
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
rdn = "employeeNumber"
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

#[tokio::test]
async fn an_export_of_changes_does_not_send_the_value_and_sends_the_rest() {
    let slapd = Slapd::start(SlapdOptions::default());
    slapd.add_ou("Contacts");
    let hub = Hub::new(
        &ldap_config(&slapd),
        &[("hr.csv", &people(3, &[(2, "P\u{7}erson 2")]))],
    )
    .await;
    let report = hub.sync_now().await;
    let export = step(&report, "central", Profile::Export);
    assert_eq!(export.status, RunStatus::CompletedWithErrors, "{export:#?}");
    assert_eq!((export.counters.added, export.counters.errors), (2, 1));
    let outcomes = hub.all_outcomes(export).await;
    let errs = errors(&outcomes);
    assert_eq!(errs.len(), 1, "{outcomes:#?}");
    assert_eq!(errs[0].0, "employeeNumber=2,ou=Contacts,dc=example,dc=com");
    assert!(
        errs[0].1.starts_with(
            "not exported, kept pending: attribute \"cn\" has an invalid character U+0007 at position 2;"
        ),
        "{}",
        errs[0].1
    );
    let on_server: Vec<String> = slapd
        .search(
            &format!("ou=Contacts,{}", slapd.suffix()),
            "(objectClass=inetOrgPerson)",
            &["employeeNumber"],
        )
        .into_iter()
        .map(|e| e.dn)
        .collect();
    assert_eq!(on_server.len(), 2, "{on_server:?}");
    assert!(!on_server.iter().any(|dn| dn.contains("employeeNumber=2,")));
    let staged = hub.object("central", errs[0].0).await;
    assert!(staged.export.is_some() && staged.export_error.is_some());
}
