//! LDAP listings that miss entries, against a real slapd: a size limit that stops the paged
//! search part-way fails the import, a referral is a gap in the listing; neither deletes what
//! the listing did not reach, and the run says so.

use ucsync_engine::{Profile, RunStatus};
use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::Hub;

fn config(slapd: &Slapd, bind_dn: &str, password: &str) -> String {
    format!(
        r#"version = 1
[connectors.forest]
kind = "ldap"
[connectors.forest.settings]
url = "{uri}"
bind_dn = "{bind_dn}"
password = "{password}"
base_dn = "{base}"
page_size = 2
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
mail = "mail"
"#,
        uri = slapd.uri(),
        base = slapd.suffix(),
    )
}

fn person(uid: &str, people: &str) -> String {
    format!(
        "dn: uid={uid},{people}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Name\nsn: Name\nmail: {uid}@example.com\n\n"
    )
}

async fn uids(hub: &Hub) -> Vec<String> {
    let mut out: Vec<String> = hub
        .entries()
        .await
        .into_iter()
        .map(|e| e.attrs.get("uid").join(","))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_size_limit_that_cuts_the_listing_fails_the_import_and_deletes_nothing() {
    // The limit is for everyone but the rootdn: the connector binds as an ordinary user.
    let slapd = Slapd::start(SlapdOptions {
        size_limit: Some(3),
        ..SlapdOptions::default()
    });
    let people = slapd.add_ou("people");
    let mut ldif = String::new();
    for u in ["a1", "a2", "a3"] {
        ldif.push_str(&person(u, &people));
    }
    slapd.ldapadd(&ldif);
    slapd.ldapmodify(&format!(
        "dn: uid=a1,{people}\nchangetype: modify\nadd: userPassword\nuserPassword: pw\n"
    ));
    let hub = Hub::new(&config(&slapd, &format!("uid=a1,{people}"), "pw"), &[]).await;
    hub.sync_ok().await;
    assert_eq!(uids(&hub).await, ["a1", "a2", "a3"]);

    // a2 leaves, a3 changes, two more join: the listing passes the limit part-way.
    slapd.ldapdelete(&format!("uid=a2,{people}"));
    slapd.ldapmodify(&format!(
        "dn: uid=a3,{people}\nchangetype: modify\nreplace: mail\nmail: a3@new.example.com\n"
    ));
    slapd.ldapadd(&format!(
        "{}{}",
        person("a4", &people),
        person("a5", &people)
    ));
    let report = hub.run("forest", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    let message = report.message.unwrap_or_default();
    for part in [
        "sizeLimitExceeded",
        "the listing is incomplete, so no deletions were inferred",
        "Run the import again once this is fixed",
    ] {
        assert!(
            message.contains(part),
            "\"{message}\" does not say \"{part}\""
        );
    }
    assert_eq!(report.counters.deleted, 0);
    // a2 is still staged, not deleted; what was read before the limit is imported.
    let staged: Vec<String> = hub
        .staged("forest")
        .await
        .into_iter()
        .filter(|s| s.attrs.is_some())
        .filter_map(|s| s.attrs.and_then(|a| a.first("uid").map(str::to_owned)))
        .collect();
    assert!(staged.contains(&"a2".to_owned()), "{staged:?}");
    // The server sent a1, a3 and a4 (in the order it holds them) before the limit: they are
    // imported, a3's change included.
    assert_eq!(staged, ["a1", "a2", "a3", "a4"]);
    assert_eq!((report.counters.added, report.counters.updated), (1, 1));
    let a3 = hub
        .staged("forest")
        .await
        .into_iter()
        .find(|s| s.attrs.as_ref().and_then(|a| a.first("uid")) == Some("a3"))
        .and_then(|s| s.attrs)
        .unwrap();
    assert_eq!(a3.get("mail"), ["a3@new.example.com"]);
    hub.run("forest", Profile::FullSync).await;
    assert!(uids(&hub).await.contains(&"a2".to_owned()));
}

#[tokio::test]
async fn a_referral_is_a_gap_in_the_listing_the_rest_is_read_and_nothing_is_deleted() {
    let slapd = Slapd::start(SlapdOptions::default());
    let people = slapd.add_ou("people");
    let mut ldif = String::new();
    for u in ["b1", "b2", "b3"] {
        ldif.push_str(&person(u, &people));
    }
    slapd.ldapadd(&ldif);
    let hub = Hub::new(&config(&slapd, slapd.root_dn(), slapd.root_pw()), &[]).await;
    hub.sync_ok().await;

    // b2 leaves, b3 changes, and a referral appears below ou=people.
    slapd.ldapdelete(&format!("uid=b2,{people}"));
    slapd.ldapmodify(&format!(
        "dn: uid=b3,{people}\nchangetype: modify\nreplace: mail\nmail: b3@new.example.com\n"
    ));
    slapd.ldapadd(&format!(
        "dn: ou=elsewhere,{people}\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\nref: ldap://other.example.com/ou=elsewhere,{people}\n"
    ));
    let import = hub.run("forest", Profile::FullImport).await;
    assert_eq!(import.status, RunStatus::CompletedWithErrors, "{import:#?}");
    let c = &import.counters;
    assert_eq!((c.updated, c.deleted, c.errors), (1, 0, 1), "{c:?}");
    let message = import.message.as_deref().unwrap_or_default();
    for part in [
        "the listing is incomplete: ",
        "returned a referral to ldap://other.example.com/",
        "so no deletions were inferred in this run (1 staged object not in the listing was kept)",
        "close the gap and run the import again",
    ] {
        assert!(
            message.contains(part),
            "\"{message}\" does not say \"{part}\""
        );
    }
    hub.run("forest", Profile::FullSync).await;
    assert_eq!(uids(&hub).await, ["b1", "b2", "b3"]);
    let b3 = hub.entry("uid", "b3").await;
    assert_eq!(b3.attrs.get("mail"), ["b3@new.example.com"]);

    // Without the referral (deleted as itself: ManageDsaIT), the listing is whole again and
    // b2's deletion is found.
    slapd.ldapmodify(&format!(
        "dn: ou=elsewhere,{people}\ncontrol: 2.16.840.1.113730.3.4.2 true\nchangetype: delete\n"
    ));
    let import = hub.run("forest", Profile::FullImport).await;
    assert_eq!(import.status, RunStatus::Success, "{import:#?}");
    assert_eq!(import.counters.deleted, 1);
    hub.run("forest", Profile::FullSync).await;
    assert_eq!(uids(&hub).await, ["b1", "b3"]);
}
