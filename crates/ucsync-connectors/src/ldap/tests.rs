//! The ldap connector against real private slapd instances (ucsync-testkit), through the same
//! factory the engine uses, with the in-memory sink standing in for the engine.

use std::sync::Arc;

use ucsync_model::{
    Attrs, Connector, ConnectorError, ConnectorFactory, ExportChange, ExportOp, ExportResult,
    ImportMode, ImportRequest, ImportSummary,
};
use ucsync_testkit::{Slapd, SlapdOptions};

use crate::Connectors;
use crate::test_sink::MemorySink;

pub(super) fn settings(slapd: &Slapd, extra: &str) -> toml::Table {
    let text = format!(
        r#"
url = "{uri}"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
page_size = 2
{extra}
[[object_types]]
name = "person"
base = "ou=people,{base}"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "mail", "telephoneNumber"]
rdn = "uid"
[[object_types]]
name = "group"
base = "ou=groups,{base}"
object_classes = ["groupOfNames"]
attributes = ["cn", "member"]
"#,
        uri = slapd.uri(),
        dn = slapd.root_dn(),
        pw = slapd.root_pw(),
        base = slapd.suffix(),
    );
    toml::from_str(&text).unwrap()
}

pub(super) fn build(table: &toml::Table) -> Arc<dyn Connector> {
    let problems = Connectors.validate("ldap", table, "connectors.t.settings");
    assert!(problems.is_empty(), "{problems:?}");
    Connectors
        .build("t", "ldap", table, std::path::Path::new("."))
        .unwrap()
}

pub(super) fn person(uid: &str, people: &str) -> String {
    format!(
        "dn: uid={uid},{people}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Name\nsn: Name\nmail: {uid}@example.com\n\n"
    )
}

/// A slapd with ou=people (3 users) and ou=groups (one group of two of them).
pub(super) fn seeded() -> Slapd {
    let slapd = Slapd::start(SlapdOptions::default());
    seed(&slapd, &["ann", "bob"]);
    slapd
}

/// Adds ou=people with ann, bob and cyd, and ou=groups with cn=staff of `members`; gives the
/// two OUs' DNs.
pub(super) fn seed(slapd: &Slapd, members: &[&str]) -> (String, String) {
    let people = slapd.add_ou("people");
    let groups = slapd.add_ou("groups");
    let mut ldif = String::new();
    for u in ["ann", "bob", "cyd"] {
        ldif.push_str(&person(u, &people));
    }
    ldif.push_str(&format!(
        "dn: cn=staff,{groups}\nobjectClass: groupOfNames\ncn: staff\n"
    ));
    for m in members {
        ldif.push_str(&format!("member: uid={m},{people}\n"));
    }
    slapd.ldapadd(&ldif);
    (people, groups)
}

pub(super) async fn import(
    c: &Arc<dyn Connector>,
    sink: &mut MemorySink,
    mode: ImportMode,
    watermark: Option<String>,
) -> Result<ImportSummary, ConnectorError> {
    sink.next_run();
    c.import(
        ImportRequest {
            mode,
            watermark,
            status_file: None,
            absent_is_empty: false,
        },
        sink,
    )
    .await
}

pub(super) fn anchor_of(sink: &MemorySink, uid: &str) -> String {
    sink.staged
        .iter()
        .find(|(_, (_, a))| a.get("uid").first().map(String::as_str) == Some(uid))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("{uid} not staged"))
}

#[test]
fn settings_problems_name_their_keys() {
    let table: toml::Table = toml::from_str(
        r#"
url = "http://x"
bogus = 1
[[object_types]]
name = "p"
filter = "(((("
attributes = ["cn"]
"#,
    )
    .unwrap();
    let problems = Connectors.validate("ldap", &table, "connectors.t.settings");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    for want in [
        "connectors.t.settings.url",
        "connectors.t.settings.bogus",
        "connectors.t.settings.base_dn",
        "connectors.t.settings.object_types.0.filter",
        "connectors.t.settings.object_types.0.object_classes",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
}

#[test]
fn keys_of_object_types_are_checked_against_the_struct_and_wrong_types_named() {
    let all = problems_of(
        r#"
url = "ldap://localhost"
base_dn = "dc=example,dc=com"
page_size = "many"
[[object_types]]
name = "person"
filtr = "(x=1)"
object_classes = ["inetOrgPerson", 7]
attributes = { cn = "fullName", mail = false }
"#,
    );
    for want in [
        "connectors.t.settings.page_size: expected i64, found string",
        "connectors.t.settings.object_types.0.filtr: unknown key; allowed here: name, base, scope, filter, object_classes, attributes, rdn, container",
        "connectors.t.settings.object_types[0].object_classes[1]: expected a string, found integer",
        "connectors.t.settings.object_types[0].attributes.mail: expected a string, found boolean",
    ] {
        assert!(all.contains(want), "{want} missing from:\n{all}");
    }
    // A list whose entry was refused is not said to be missing as well.
    assert!(!all.contains("object_classes: missing"), "{all}");
    assert!(!all.contains("attributes: missing"), "{all}");
    let all = problems_of("urls = \"ldap://x\"");
    assert!(
        all.contains("connectors.t.settings.urls: unknown key; allowed here: url, starttls,"),
        "{all}"
    );
}

fn problems_of(text: &str) -> String {
    let table: toml::Table = toml::from_str(text).unwrap();
    Connectors
        .validate("ldap", &table, "connectors.t.settings")
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn base_dns_and_exclude_dns_are_checked_by_key() {
    let types =
        "[[object_types]]\nname = \"p\"\nobject_classes = [\"user\"]\nattributes = [\"cn\"]\n";
    let both = problems_of(&format!(
        "url = \"ldap://x\"\nbase_dn = \"dc=a\"\nbase_dns = [\"ou=b,dc=a\"]\n{types}"
    ));
    assert!(
        both.contains("connectors.t.settings.base_dns")
            && both.contains("both base_dn and base_dns"),
        "{both}"
    );
    let nested = problems_of(&format!(
        "url = \"ldap://x\"\nbase_dns = [\"dc=a\", \"ou=b,dc=a\"]\n{types}"
    ));
    assert!(
        nested.contains("connectors.t.settings.base_dns.1") && nested.contains("within base_dns.0"),
        "{nested}"
    );
    let outside = problems_of(&format!(
        "url = \"ldap://x\"\nbase_dns = [\"ou=b,dc=a\", \"ou=c,dc=a\"]\nexclude_dns = [\"ou=x,ou=b,dc=a\", \"ou=x,dc=a\", \"nodn\"]\n{types}"
    ));
    assert!(
        !outside.contains("exclude_dns.0"),
        "an exclusion under a base is fine: {outside}"
    );
    assert!(
        outside.contains("connectors.t.settings.exclude_dns.1") && outside.contains("not below"),
        "{outside}"
    );
    assert!(
        outside.contains("connectors.t.settings.exclude_dns.2") && outside.contains("not a DN"),
        "{outside}"
    );
    let empty = problems_of(&format!("url = \"ldap://x\"\nbase_dns = []\n{types}"));
    assert!(empty.contains("connectors.t.settings.base_dns"), "{empty}");
    // A type's base must lie under one of the bases.
    let type_base = problems_of(
        "url = \"ldap://x\"\nbase_dns = [\"ou=b,dc=a\", \"ou=c,dc=a\"]\n[[object_types]]\nname = \"p\"\nbase = \"ou=d,dc=a\"\nobject_classes = [\"user\"]\nattributes = [\"cn\"]\n",
    );
    assert!(
        type_base.contains("connectors.t.settings.object_types.0.base")
            && type_base.contains("not under base_dns"),
        "{type_base}"
    );
    let fine = problems_of(&format!(
        "url = \"ldap://x\"\nbase_dns = [\"ou=b,dc=a\", \"ou=c,dc=a\"]\nexclude_dns = [\"ou=x,ou=c,dc=a\"]\n{types}"
    ));
    assert!(fine.is_empty(), "{fine}");
}

#[test]
fn bases_and_exclusions_are_part_of_the_import_fingerprint() {
    let text = |extra: &str| {
        format!(
            "url = \"ldap://x\"\n{extra}\n[[object_types]]\nname = \"p\"\nobject_classes = [\"user\"]\nattributes = [\"cn\"]\n"
        )
    };
    let settings = |extra: &str| build(&toml::from_str(&text(extra)).unwrap()).import_settings();
    let one = settings("base_dn = \"dc=a\"");
    let listed = settings("base_dns = [\"dc=a\"]");
    assert_eq!(one, listed, "one base is one base, however it is written");
    let two = settings("base_dns = [\"ou=b,dc=a\", \"ou=c,dc=a\"]");
    let excluded = settings("base_dn = \"dc=a\"\nexclude_dns = [\"ou=x,dc=a\"]");
    assert_ne!(one, two);
    assert_ne!(one, excluded);
    assert!(
        one.contains("base_dn=dc=a "),
        "unchanged for one base: {one}"
    );
}

#[tokio::test]
async fn full_import_pages_and_translates_members() {
    let slapd = seeded();
    let c = build(&settings(&slapd, ""));
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert_eq!(sink.staged.len(), 4, "{:?}", sink.staged.keys());
    assert_eq!(sink.listings_ended, 1);
    let ann = anchor_of(&sink, "ann");
    let bob = anchor_of(&sink, "bob");
    assert_eq!(ann.len(), 36, "entryUUID as text: {ann}");
    let group = sink
        .objects
        .iter()
        .find(|o| o.object_type == "group")
        .unwrap();
    let mut members = group.attrs.get("member").to_vec();
    members.sort();
    let mut want = vec![ann, bob];
    want.sort();
    assert_eq!(members, want);
    let person = sink.object(&anchor_of(&sink, "cyd"));
    assert_eq!(person.attrs.get("mail"), ["cyd@example.com"]);
    assert!(person.attrs.get("dn")[0].starts_with("uid=cyd,ou=people"));
}

#[tokio::test]
async fn delta_import_brings_only_changes_and_deletes() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = build(&settings(&slapd, ""));
    let mut sink = MemorySink::new();
    let first = import(&c, &mut sink, ImportMode::Delta, None)
        .await
        .unwrap();
    assert_eq!(sink.staged.len(), 4);
    let cookie = first.watermark.clone().expect("a cookie");
    let cyd = anchor_of(&sink, "cyd");
    let bob = anchor_of(&sink, "bob");

    // Nothing changed: nothing comes.
    let same = import(&c, &mut sink, ImportMode::Delta, Some(cookie.clone()))
        .await
        .unwrap();
    assert!(sink.objects.is_empty(), "{:?}", sink.objects);
    assert!(sink.deletes.is_empty());

    slapd.ldapmodify(&format!(
        "dn: uid=ann,{people}\nchangetype: modify\nreplace: mail\nmail: ann@new.example\n"
    ));
    slapd.ldapadd(&person("dee", &people));
    slapd.ldapdelete(&format!("uid=cyd,{people}"));
    slapd.ldapmodify(&format!(
        "dn: uid=bob,{people}\nchangetype: modrdn\nnewrdn: uid=rob\ndeleteoldrdn: 1\n"
    ));
    let delta = import(&c, &mut sink, ImportMode::Delta, same.watermark.clone())
        .await
        .unwrap();
    let mut changed: Vec<String> = sink
        .objects
        .iter()
        .map(|o| o.attrs.get("uid")[0].clone())
        .collect();
    changed.sort();
    assert_eq!(changed, ["ann", "dee", "rob"], "{:?}", sink.objects);
    assert!(!sink.staged.contains_key(&cyd), "cyd deleted");
    assert_eq!(
        sink.staged[&bob].1.get("uid"),
        ["rob"],
        "renamed, same anchor"
    );
    assert_ne!(delta.watermark, same.watermark);

    // A cookie slapd cannot use: the import still converges to the directory's content.
    let bad = serde_json::json!({"cookie": "00ff", "spec": serde_json::from_str::<serde_json::Value>(&cookie).unwrap()["spec"]}).to_string();
    let again = import(&c, &mut sink, ImportMode::Delta, Some(bad))
        .await
        .unwrap();
    assert_eq!(sink.staged.len(), 4, "nothing lost: {:?}", sink.deletes);
    assert!(again.watermark.is_some());
}

#[tokio::test]
async fn export_adds_modifies_renames_and_deletes() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let c = build(&settings(&slapd, "create_parents = true"));
    let mut attrs = Attrs::new();
    attrs.set_one("uid", "eve");
    attrs.set_one("cn", "Eve Example");
    attrs.set_one("sn", "Example");
    attrs.set_one("mail", "eve@example.com");
    let provisional = c.anchor_for("person", &attrs).unwrap();
    assert_eq!(provisional, format!("uid=eve,{}", people));
    let add = ExportChange {
        anchor: provisional.clone(),
        object_type: "person".into(),
        op: ExportOp::Add,
        attrs: attrs.clone(),
        old: None,
    };
    let results = c.export_changes(&[add]).await.unwrap();
    let ExportResult::DoneWithState {
        anchor: Some(eve),
        state,
    } = &results[0]
    else {
        panic!("{results:?}")
    };
    assert_eq!(eve.len(), 36);
    // The entry as read back, as an import stages it.
    assert_eq!(state.get("dn"), std::slice::from_ref(&provisional));
    assert!(
        state
            .get("objectClass")
            .contains(&"inetOrgPerson".to_owned()),
        "{state:?}"
    );
    assert_eq!(state.get("mail"), ["eve@example.com"]);
    assert_eq!(slapd.count(&people, "(mail=eve@example.com)"), 1);

    // Modify one value and rename (the rdn attribute changes).
    let mut old = attrs.clone();
    old.set_one("dn", format!("uid=eve,{people}"));
    let mut new = old.clone();
    new.remove("dn");
    new.set_one("uid", "eva");
    new.set_one("telephoneNumber", "+1 555 0100");
    let update = ExportChange {
        anchor: eve.clone(),
        object_type: "person".into(),
        op: ExportOp::Update,
        attrs: new,
        old: Some(old),
    };
    let results = c.export_changes(&[update]).await.unwrap();
    assert_eq!(results, [ExportResult::Done]);
    let e = slapd.get(
        &format!("uid=eva,{people}"),
        &["telephoneNumber", "mail", "entryUUID"],
    );
    let e = e.expect("renamed entry");
    assert_eq!(e.attrs["telephoneNumber"], ["+1 555 0100"]);
    assert_eq!(e.attrs["entryUUID"], std::slice::from_ref(eve));

    // A group whose members are anchors, into a container that does not exist yet.
    let mut group = Attrs::new();
    group.set_one("cn", "new-team");
    group.set("member", vec![eve.clone()]);
    let c2 = build(&{
        let mut t = settings(&slapd, "create_parents = true");
        let types = t["object_types"].as_array_mut().unwrap();
        types[1].as_table_mut().unwrap().insert(
            "container".into(),
            format!("ou=teams,ou=groups,{}", slapd.suffix()).into(),
        );
        t
    });
    let results = c2
        .export_changes(&[ExportChange {
            anchor: "new-team".into(),
            object_type: "group".into(),
            op: ExportOp::Add,
            attrs: group,
            old: None,
        }])
        .await
        .unwrap();
    // The member DN read back is the anchor again, as an import turns it.
    let ExportResult::DoneWithState { state, .. } = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(state.get("member"), std::slice::from_ref(eve));
    let g = slapd
        .get(
            &format!("cn=new-team,ou=teams,ou=groups,{}", slapd.suffix()),
            &["member"],
        )
        .expect("group added under a created ou");
    assert_eq!(g.attrs["member"], [format!("uid=eva,{people}")]);

    // Delete by anchor alone (the DN is looked up).
    let results = c
        .export_changes(&[ExportChange {
            anchor: eve.clone(),
            object_type: "person".into(),
            op: ExportOp::Delete,
            attrs: Attrs::new(),
            old: None,
        }])
        .await
        .unwrap();
    assert_eq!(results, [ExportResult::Done]);
    assert_eq!(slapd.count(&people, "(uid=eva)"), 0);
}

#[tokio::test]
async fn a_missing_parent_is_a_per_object_error_without_create_parents() {
    let slapd = seeded();
    let mut t = settings(&slapd, "");
    t["object_types"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap()
        .insert(
            "container".into(),
            format!("ou=nowhere,{}", slapd.suffix()).into(),
        );
    let c = build(&t);
    let mut attrs = Attrs::new();
    attrs.set_one("uid", "x");
    attrs.set_one("cn", "X");
    attrs.set_one("sn", "X");
    let results = c
        .export_changes(&[ExportChange {
            anchor: "x".into(),
            object_type: "person".into(),
            op: ExportOp::Add,
            attrs,
            old: None,
        }])
        .await
        .unwrap();
    let ExportResult::Failed(msg) = &results[0] else {
        panic!("{results:?}")
    };
    assert!(
        msg.contains("ou=nowhere") && msg.contains("create_parents"),
        "{msg}"
    );
}

#[tokio::test]
async fn bad_credentials_and_unreachable_hosts_say_what_to_check() {
    let slapd = seeded();
    let mut t = settings(&slapd, "");
    t.insert("password".into(), "wrong".into());
    let c = build(&t);
    let err = import(&c, &mut MemorySink::new(), ImportMode::Full, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("invalidCredentials") && err.contains("bind_dn"),
        "{err}"
    );

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut t = settings(&slapd, "");
    t.insert("url".into(), format!("ldap://127.0.0.1:{port}").into());
    let err = build(&t).check_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("cannot reach") && err.contains(&port.to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_size_limit_fails_the_import_and_deletes_nothing() {
    let slapd = Slapd::start(SlapdOptions {
        size_limit: Some(2),
        ..SlapdOptions::default()
    });
    let people = slapd.add_ou("people");
    slapd.add_ou("groups");
    let mut ldif = String::new();
    for u in ["a1", "a2", "a3", "a4"] {
        ldif.push_str(&person(u, &people));
    }
    slapd.ldapadd(&ldif);
    // Bind as an ordinary user, to whom the limit applies.
    slapd.ldapmodify(&format!(
        "dn: uid=a1,{people}\nchangetype: modify\nadd: userPassword\nuserPassword: pw\n"
    ));
    let mut t = settings(&slapd, "");
    t.insert("bind_dn".into(), format!("uid=a1,{people}").into());
    t.insert("password".into(), "pw".into());
    t.insert("page_size".into(), 100.into());
    let c = build(&t);
    let mut sink = MemorySink::new();
    let err = import(&c, &mut sink, ImportMode::Full, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sizeLimitExceeded") && err.contains("size limit"),
        "{err}"
    );
    assert_eq!(
        sink.listings_ended, 0,
        "no end of listing, so nothing is deleted"
    );
}

#[tokio::test]
async fn a_referral_is_never_followed_names_its_url_and_deletes_nothing() {
    let slapd = Slapd::start(SlapdOptions {
        extra_db_config: Vec::new(),
        ..SlapdOptions::default()
    });
    let people = slapd.add_ou("people");
    slapd.add_ou("groups");
    slapd.ldapadd(&person("ann", &people));
    slapd.ldapadd(&format!(
        "dn: ou=elsewhere,{people}\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\nref: ldap://other.example.com/ou=elsewhere,{people}\n"
    ));
    let c = build(&settings(&slapd, ""));
    let mut sink = MemorySink::new();
    // Staged before: not in this listing, but it may be behind the referral.
    sink.staged.insert(
        "00000000-0000-0000-0000-000000000000".to_owned(),
        ("person".to_owned(), Attrs::new()),
    );
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    // The rest of the listing is read; the referral is a gap in it, named by its URL.
    assert_eq!(sink.objects.len(), 1, "{:?}", sink.objects);
    assert_eq!(sink.gaps.len(), 1, "{:?}", sink.gaps);
    let gap = &sink.gaps[0];
    assert!(gap.contains("ldap://other.example.com"), "{gap}");
    assert!(gap.contains("does not follow"), "{gap}");
    // It names the server and the DN, and what to do about them.
    assert!(
        gap.contains(&format!("DN ou=elsewhere,{people} on other.example.com")),
        "{gap}"
    );
    assert!(
        gap.contains("url = \"ldap://other.example.com\"")
            && gap.contains(&format!("base_dn = \"ou=elsewhere,{people}\"")),
        "{gap}"
    );
    assert!(
        gap.contains(&format!("add \"ou=elsewhere,{people}\" to exclude_dns")),
        "{gap}"
    );
    assert!(!gap.contains("that server"), "{gap}");

    assert_eq!(sink.listings_ended, 1);
    assert!(sink.deleted.is_empty(), "{:?}", sink.deleted);
    assert_eq!(sink.staged.len(), 2);

    // With the referral's container excluded, nothing is missing.
    let c = build(&settings(
        &slapd,
        &format!("exclude_dns = [\"ou=elsewhere,{people}\"]"),
    ));
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    assert_eq!(sink.objects.len(), 1, "{:?}", sink.objects);
    assert!(sink.withheld.is_none(), "{:?}", sink.withheld);
}

#[tokio::test]
async fn tls_verifies_the_certificate_unless_insecure() {
    let slapd = Slapd::start(SlapdOptions {
        tls: true,
        ..SlapdOptions::default()
    });
    slapd.add_ou("people");
    slapd.add_ou("groups");
    let ldaps = slapd.ldaps_uri().unwrap();
    let ca = slapd.ca_file().unwrap().display().to_string();

    let mut t = settings(&slapd, "");
    t.insert("url".into(), ldaps.clone().into());
    t.insert("ca_file".into(), ca.clone().into());
    build(&t).check_connection().await.unwrap();

    let mut t = settings(&slapd, "starttls = true");
    t.insert("ca_file".into(), ca.into());
    build(&t).check_connection().await.unwrap();

    // Without the CA the certificate is refused, with a message that says what to check.
    let mut t = settings(&slapd, "");
    t.insert("url".into(), ldaps.clone().into());
    let err = build(&t).check_connection().await.unwrap_err().to_string();
    assert!(
        err.contains("certificate") && err.contains("ca_file"),
        "{err}"
    );

    let mut t = settings(&slapd, "insecure = true");
    t.insert("url".into(), ldaps.into());
    build(&t).check_connection().await.unwrap();
}

#[test]
fn an_entry_is_located_by_its_dn_or_where_it_was_added() {
    let table: toml::Table = toml::from_str(
        r#"
url = "ldap://x"
base_dn = "dc=a"
[[object_types]]
name = "contact"
base = "ou=Contacts,dc=a"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn"]
"#,
    )
    .unwrap();
    let c = build(&table);
    let mut attrs = Attrs::new();
    attrs.set_one("cn", "Ann");
    assert_eq!(
        c.locator("contact", &attrs).as_deref(),
        Some("cn=Ann,ou=Contacts,dc=a"),
        "added by this connector and not read back yet"
    );
    attrs.set_one("dn", "cn=Ann B,ou=Moved,dc=a");
    assert_eq!(
        c.locator("contact", &attrs).as_deref(),
        Some("cn=Ann B,ou=Moved,dc=a")
    );
}

#[tokio::test]
async fn several_bases_and_an_excluded_container_in_full_and_delta_imports() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let groups = format!("ou=groups,{}", slapd.suffix());
    slapd.ldapadd(&format!(
        "dn: ou=hidden,{people}\nobjectClass: organizationalUnit\nou: hidden\n\n{}",
        person("hid", &format!("ou=hidden,{people}"))
    ));
    let mut t = settings(&slapd, "");
    t.remove("base_dn");
    t.insert(
        "base_dns".into(),
        toml::Value::Array(vec![people.clone().into(), groups.clone().into()]),
    );
    t.insert(
        "exclude_dns".into(),
        toml::Value::Array(vec![format!("ou=hidden,{people}").into()]),
    );
    let c = build(&t);
    let mut sink = MemorySink::new();
    // A delta without a watermark reads everything: both bases, one cookie each.
    let first = import(&c, &mut sink, ImportMode::Delta, None)
        .await
        .unwrap();
    let mut uids: Vec<String> = sink
        .staged
        .values()
        .filter_map(|(_, a)| a.get("uid").first().cloned())
        .collect();
    uids.sort();
    assert_eq!(
        uids,
        ["ann", "bob", "cyd"],
        "hid is in the excluded container"
    );
    assert_eq!(sink.staged.len(), 4, "and the group: {:?}", sink.staged);
    assert_eq!(sink.listings_ended, 1);
    let watermark = first.watermark.expect("a watermark");
    assert!(watermark.contains(','), "one cookie per base: {watermark}");

    // Moved into the excluded container: gone; a change in the other base is read.
    let cyd = anchor_of(&sink, "cyd");
    slapd.ldapmodrdn(
        &format!("uid=cyd,{people}"),
        "uid=cyd",
        true,
        Some(&format!("ou=hidden,{people}")),
    );
    slapd.ldapmodify(&format!(
        "dn: cn=staff,{groups}\nchangetype: modify\ndelete: member\nmember: uid=bob,{people}\n"
    ));
    let delta = import(&c, &mut sink, ImportMode::Delta, Some(watermark))
        .await
        .unwrap();
    assert_eq!(sink.deletes, [cyd], "{:?}", delta.note);
    assert_eq!(sink.objects.len(), 1, "the group: {:?}", sink.anchors());
    assert_eq!(sink.listings_ended, 1, "a delta is not a listing");

    // A full import reads both bases and leaves the container out.
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert_eq!(sink.staged.len(), 3, "{:?}", sink.staged);
}

#[tokio::test]
async fn check_warns_about_each_base_the_server_does_not_show() {
    let slapd = seeded();
    let people = format!("ou=people,{}", slapd.suffix());
    let groups = format!("ou=groups,{}", slapd.suffix());
    let missing = format!("ou=nowhere,{}", slapd.suffix());
    let mut t = settings(&slapd, "");
    t.remove("base_dn");
    t.insert(
        "base_dns".into(),
        toml::Value::Array(vec![
            people.clone().into(),
            groups.into(),
            missing.clone().into(),
        ]),
    );
    let view = build(&t).inspect().await;
    let all = view.warnings.join("\n");
    assert!(
        all.contains("base_dns.2") && all.contains(&missing) && all.contains("does not exist"),
        "{all}"
    );
    assert!(
        !all.contains("base_dns.0") && !all.contains("base_dns.1"),
        "{all}"
    );
    let err = build(&t).check_connection().await.unwrap_err().to_string();
    assert!(err.contains(&missing), "{err}");
}
