//! `mode = "active-directory"` against a real Samba AD DC (ucsync-testkit): objectGUID anchors,
//! and delta imports from the `uSNChanged` watermark with tombstones read through the
//! ShowDeleted control.

use std::sync::Arc;

use ucsync_model::{Connector, ConnectorFactory, ImportMode};
use ucsync_testkit::SambaDc;

use super::tests::{build, import};
use crate::Connectors;
use crate::test_sink::MemorySink;

fn connector(dc: &SambaDc, base: &str) -> Arc<dyn Connector> {
    let text = format!(
        r#"
url = "{uri}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
page_size = 3
[[object_types]]
name = "person"
object_classes = ["user"]
filter = "(!(objectClass=computer))"
attributes = ["sAMAccountName", "cn", "telephoneNumber"]
[[object_types]]
name = "group"
object_classes = ["group"]
attributes = ["cn", "member"]
"#,
        uri = dc.uri(),
        dn = dc.admin_dn(),
        pw = dc.admin_pw(),
    );
    build(&toml::from_str(&text).unwrap())
}

fn account(sink: &MemorySink, anchor: &str) -> String {
    sink.staged
        .get(anchor)
        .and_then(|(_, a)| a.get("sAMAccountName").first().cloned())
        .unwrap_or_else(|| format!("<{anchor} not staged>"))
}

fn anchor_of(sink: &MemorySink, cn: &str) -> String {
    sink.staged
        .iter()
        .find(|(_, (_, a))| a.get("cn").first().map(String::as_str) == Some(cn))
        .map(|(k, _)| k.clone())
        .unwrap_or_else(|| panic!("{cn} not staged"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_imports_read_only_what_changed_since_the_usn_watermark() {
    let dc = SambaDc::start();
    let staff = dc.add_ou("Staff");
    let elsewhere = dc.add_ou("Elsewhere");
    let user = |sam: &str, ou: &str| {
        format!(
            "dn: CN={sam},{ou}\nobjectClass: user\ncn: {sam}\nsAMAccountName: {sam}\ntelephoneNumber: +1 555 0100\n\n"
        )
    };
    let mut ldif: String = ["ann", "bob", "cyd", "dan", "fay"]
        .iter()
        .map(|u| user(u, &staff))
        .collect();
    ldif.push_str(&format!(
        "dn: CN=team,{staff}\nobjectClass: group\ncn: team\nsAMAccountName: team\nmember: CN=ann,{staff}\nmember: CN=bob,{staff}\n"
    ));
    dc.ldapadd(&ldif);
    let c = connector(&dc, &staff);

    // A full import: five people and the group, its members as objectGUIDs.
    let mut sink = MemorySink::new();
    let full = import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert_eq!(sink.staged.len(), 6, "{:?}", sink.staged);
    assert_eq!(sink.listings_ended, 1);
    let ann = anchor_of(&sink, "ann");
    let bob = anchor_of(&sink, "bob");
    let cyd = anchor_of(&sink, "cyd");
    let dan = anchor_of(&sink, "dan");
    assert_eq!(ann.len(), 36, "objectGUID as text: {ann}");
    let team = anchor_of(&sink, "team");
    let mut members = sink.staged[&team].1.get("member").to_vec();
    members.sort();
    let mut want = vec![ann.clone(), bob.clone()];
    want.sort();
    assert_eq!(members, want);
    let watermark = full
        .watermark
        .expect("a full import leaves a USN watermark");
    assert!(watermark.contains("\"usn\""), "{watermark}");

    // Nothing changed: a delta reads nothing and deletes nothing.
    let quiet = import(&c, &mut sink, ImportMode::Delta, Some(watermark))
        .await
        .unwrap();
    assert!(sink.objects.is_empty(), "{:?}", sink.anchors());
    assert!(sink.deletes.is_empty(), "{:?}", sink.deletes);
    assert_eq!(sink.listings_ended, 1, "a delta is not a listing");
    assert!(
        quiet
            .note
            .as_deref()
            .unwrap_or("")
            .contains("changes after USN"),
        "{:?}",
        quiet.note
    );

    // Changes in scope: an add, a modify, a rename, a delete, a move out of the base; and
    // changes outside the scope that must not arrive.
    dc.ldapadd(&user("eve", &staff));
    dc.ldapmodify(&format!(
        "dn: CN=ann,{staff}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 0199\n"
    ));
    dc.ldapmodrdn(&format!("CN=bob,{staff}"), "CN=robert", true, None);
    dc.ldapdelete(&format!("CN=cyd,{staff}"));
    dc.ldapmodrdn(&format!("CN=dan,{staff}"), "CN=dan", true, Some(&elsewhere));
    dc.ldapadd(&user("zed", &elsewhere));
    dc.add_user("outsider");

    let delta = import(&c, &mut sink, ImportMode::Delta, quiet.watermark)
        .await
        .unwrap();
    let mut changed: Vec<String> = sink.anchors().iter().map(|a| account(&sink, a)).collect();
    changed.sort();
    assert_eq!(changed, ["ann", "bob", "eve"], "{:?}", sink.objects);
    assert_eq!(
        sink.object(&ann).attrs.get("telephoneNumber"),
        ["+1 555 0199"]
    );
    let renamed = sink.object(&bob);
    assert_eq!(renamed.attrs.get("cn"), ["robert"]);
    assert!(
        renamed
            .locator
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase()
            .starts_with("cn=robert,ou=staff"),
        "{:?}",
        renamed.locator
    );
    let mut gone = sink.deletes.clone();
    gone.sort();
    let mut want = vec![cyd, dan];
    want.sort();
    assert_eq!(gone, want, "the tombstone and the moved-out user");
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    assert_eq!(sink.listings_ended, 1);

    // The next delta starts after all that: nothing again.
    import(&c, &mut sink, ImportMode::Delta, delta.watermark)
        .await
        .unwrap();
    assert!(sink.objects.is_empty(), "{:?}", sink.anchors());
    assert!(sink.deletes.is_empty(), "{:?}", sink.deletes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_of_another_domain_controller_reads_everything_with_a_note() {
    let dc = SambaDc::start();
    let staff = dc.add_ou("Staff");
    dc.add_user("solo");
    let c = connector(&dc, &staff);
    let mut sink = MemorySink::new();
    let foreign = r#"{"spec":"x","usn":{"00000000-0000-0000-0000-000000000000":5}}"#;
    let summary = import(&c, &mut sink, ImportMode::Delta, Some(foreign.to_owned()))
        .await
        .unwrap();
    assert_eq!(sink.listings_ended, 1, "everything was read");
    let note = summary.note.unwrap_or_default();
    assert!(note.contains("everything was read"), "{note}");

    // Same object types, but another domain controller's USN.
    let own = summary.watermark.unwrap();
    let mut w: serde_json::Value = serde_json::from_str(&own).unwrap();
    let spec = w["spec"].clone();
    w = serde_json::json!({"spec": spec, "usn": {"11111111-1111-1111-1111-111111111111": 5}});
    let summary = import(&c, &mut sink, ImportMode::Delta, Some(w.to_string()))
        .await
        .unwrap();
    assert_eq!(sink.listings_ended, 2);
    let note = summary.note.unwrap_or_default();
    assert!(note.contains("has no watermark yet"), "{note}");
    let kept: serde_json::Value = serde_json::from_str(&summary.watermark.unwrap()).unwrap();
    assert_eq!(
        kept["usn"].as_object().map(|m| m.len()),
        Some(2),
        "both domain controllers' USNs are kept: {kept}"
    );
}

#[tokio::test]
async fn an_openldap_server_in_active_directory_mode_is_a_clear_error() {
    let slapd = ucsync_testkit::Slapd::start(ucsync_testkit::SlapdOptions::default());
    let text = format!(
        r#"
url = "{}"
mode = "active-directory"
bind_dn = "{}"
password = "{}"
base_dn = "{}"
[[object_types]]
name = "person"
object_classes = ["inetOrgPerson"]
attributes = ["cn"]
"#,
        slapd.uri(),
        slapd.root_dn(),
        slapd.root_pw(),
        slapd.suffix()
    );
    let table: toml::Table = toml::from_str(&text).unwrap();
    let c = Connectors
        .build("ad", "ldap", &table, std::path::Path::new("."))
        .unwrap();
    let mut sink = MemorySink::new();
    let err = import(&c, &mut sink, ImportMode::Delta, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("highestCommittedUSN"), "{err}");
    assert!(err.contains("mode = \"openldap\""), "{err}");
    assert!(sink.deletes.is_empty() && sink.listings_ended == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_to_active_directory_add_modify_rename_and_delete_by_object_guid() {
    use ucsync_model::{Attrs, ExportChange, ExportOp, ExportResult};

    let dc = SambaDc::start();
    let contacts = dc.add_ou("Contacts");
    let text = format!(
        r#"
url = "{uri}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
[[object_types]]
name = "contact"
base = "{contacts}"
object_classes = ["contact"]
attributes = ["cn", "displayName", "mail", "telephoneNumber"]
rdn = "cn"
[[object_types]]
name = "group"
base = "{contacts}"
object_classes = ["group"]
attributes = ["cn", "sAMAccountName", "member"]
rdn = "cn"
"#,
        uri = dc.uri(),
        dn = dc.admin_dn(),
        pw = dc.admin_pw(),
        base = dc.base_dn(),
    );
    let table: toml::Table = toml::from_str(&text).unwrap();
    let c = Connectors
        .build("ad", "ldap", &table, std::path::Path::new("."))
        .unwrap();
    let change =
        |anchor: &str, object_type: &str, op, attrs: Attrs, old: Option<Attrs>| ExportChange {
            anchor: anchor.to_owned(),
            object_type: object_type.to_owned(),
            op,
            attrs,
            old,
        };

    let mut attrs = Attrs::new();
    attrs.set_one("cn", "Eve Example");
    attrs.set_one("displayName", "Eve Example");
    attrs.set_one("mail", "eve@example.test");
    let provisional = c.anchor_for("contact", &attrs).unwrap();
    let results = c
        .export_changes(&[change(
            &provisional,
            "contact",
            ExportOp::Add,
            attrs.clone(),
            None,
        )])
        .await
        .unwrap();
    let ExportResult::DoneWithState {
        anchor: Some(eve),
        state,
    } = &results[0]
    else {
        panic!("{results:?}")
    };
    // Read back with a search (no post-read control), as an import stages it.
    assert!(
        state
            .get("dn")
            .first()
            .is_some_and(|d| d.to_ascii_lowercase().starts_with("cn=eve example,")),
        "{state:?}"
    );
    let found = dc.search(&contacts, "(cn=Eve Example)", &["objectGUID"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        super::entry::uuid_text(
            &found[0].bytes("objectGUID")[0],
            super::Mode::ActiveDirectory
        )
        .as_deref(),
        Some(eve.as_str()),
        "the anchor read back is the objectGUID"
    );

    // A group of that contact: the member anchor becomes the contact's DN.
    let mut group = Attrs::new();
    group.set_one("cn", "uc-team");
    group.set_one("sAMAccountName", "uc-team");
    group.set("member", vec![eve.clone()]);
    let results = c
        .export_changes(&[change("uc-team", "group", ExportOp::Add, group, None)])
        .await
        .unwrap();
    assert!(
        matches!(results[0], ExportResult::DoneWithState { .. }),
        "{results:?}"
    );
    let g = dc
        .get(&format!("CN=uc-team,{contacts}"), &["member"])
        .expect("the group");
    assert_eq!(
        g.attrs["member"]
            .iter()
            .map(|m| m.to_ascii_lowercase())
            .collect::<Vec<_>>(),
        [format!("cn=eve example,{contacts}").to_ascii_lowercase()]
    );

    // Modify one value and rename (cn is the rdn).
    let mut old = attrs.clone();
    old.set_one("dn", format!("CN=Eve Example,{contacts}"));
    let mut new = attrs.clone();
    new.set_one("cn", "Eva Example");
    new.set_one("telephoneNumber", "+1 555 0100");
    let results = c
        .export_changes(&[change(eve, "contact", ExportOp::Update, new, Some(old))])
        .await
        .unwrap();
    assert_eq!(results, [ExportResult::Done]);
    let e = dc
        .get(
            &format!("CN=Eva Example,{contacts}"),
            &["telephoneNumber", "mail"],
        )
        .expect("renamed contact");
    assert_eq!(e.attrs["telephoneNumber"], ["+1 555 0100"]);
    assert_eq!(e.attrs["mail"], ["eve@example.test"]);

    // Delete by anchor alone: the DN is found by <GUID=…>.
    let fresh = Connectors
        .build("ad", "ldap", &table, std::path::Path::new("."))
        .unwrap();
    let results = fresh
        .export_changes(&[change(eve, "contact", ExportOp::Delete, Attrs::new(), None)])
        .await
        .unwrap();
    assert_eq!(results, [ExportResult::Done]);
    assert_eq!(dc.count(&contacts, "(objectClass=contact)"), 0);
}

/// A connector for users only, with the given base keys and extra filter.
fn users_connector(dc: &SambaDc, bases: &str, filter: &str) -> Arc<dyn Connector> {
    let text = format!(
        r#"
url = "{uri}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{pw}"
{bases}
[[object_types]]
name = "person"
object_classes = ["user"]
filter = "(&(!(objectClass=computer)){filter})"
attributes = ["sAMAccountName", "cn", "telephoneNumber", "userAccountControl"]
"#,
        uri = dc.uri(),
        dn = dc.admin_dn(),
        pw = dc.admin_pw(),
    );
    build(&toml::from_str(&text).unwrap())
}

/// The account names staged, sorted.
fn accounts(sink: &MemorySink) -> Vec<String> {
    let mut out: Vec<String> = sink
        .staged
        .values()
        .filter_map(|(_, a)| a.get("sAMAccountName").first().cloned())
        .collect();
    out.sort();
    out
}

/// How many search continuation references a search of the domain root returns.
async fn references_below(dc: &SambaDc, base: &str) -> usize {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&dc.uri()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(dc.admin_dn(), dc.admin_pw())
        .await
        .unwrap()
        .success()
        .unwrap();
    let found = ldap
        .search(
            base,
            ldap3::Scope::Subtree,
            "(objectClass=user)",
            vec!["1.1"],
        )
        .await
        .unwrap();
    // `search` collects the references among the results into the result's `refs`.
    found.1.refs.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_domain_root_several_bases_exclusions_and_disabled_accounts() {
    let dc = SambaDc::start();
    let root = "DC=example,DC=test";
    let staff = dc.add_ou("Staff");
    let sales = dc.add_ou("Sales");
    let hidden = dc.add_ou("Hidden");
    // 544: a normal account that needs no password (enabled); 546: the same, disabled.
    let user = |sam: &str, at: &str, uac: u32| {
        format!(
            "dn: CN={sam},{at}\nobjectClass: user\ncn: {sam}\nsAMAccountName: {sam}\nuserAccountControl: {uac}\ntelephoneNumber: +1 555 0100\n\n"
        )
    };
    dc.ldapadd(
        &[
            user("ann", &staff, 544),
            user("bob", &staff, 544),
            user("cyd", &sales, 544),
            user("dis", &sales, 546),
            user("hid", &hidden, 544),
            user("uma", &dc.users_dn(), 544),
        ]
        .concat(),
    );

    // From the domain root, AD refers to its other partitions (Configuration at least)...
    assert!(
        references_below(&dc, root).await > 0,
        "the test needs a server that refers to its other partitions"
    );
    // ...which hold nothing of the domain: a full import covers CN=Users and the OUs, with
    // no gap, and so may delete what it did not see.
    let c = users_connector(&dc, &format!("base_dn = \"{root}\""), "");
    let mut sink = MemorySink::new();
    let full = import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    assert_eq!(sink.listings_ended, 1);
    assert!(sink.withheld.is_none(), "{:?}", sink.withheld);
    let all = accounts(&sink);
    for want in ["Administrator", "ann", "bob", "cyd", "dis", "hid", "uma"] {
        assert!(all.iter().any(|a| a == want), "{want} not in {all:?}");
    }
    // A delta from the root reads the change, again without a gap.
    dc.ldapmodify(&format!(
        "dn: CN=uma,{}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 0199\n",
        dc.users_dn()
    ));
    let delta = import(&c, &mut sink, ImportMode::Delta, full.watermark)
        .await
        .unwrap();
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    assert!(sink.errors.is_empty(), "{:?}", sink.errors);
    let changed: Vec<String> = sink.anchors().iter().map(|a| account(&sink, a)).collect();
    assert_eq!(changed, ["uma"], "{:?}", delta.note);
    assert!(sink.deletes.is_empty(), "{:?}", sink.deletes);

    // Two OUs as the bases: their users only.
    let c = users_connector(&dc, &format!("base_dns = [\"{staff}\", \"{sales}\"]"), "");
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert_eq!(accounts(&sink), ["ann", "bob", "cyd", "dis"]);

    // Disabled accounts left out by the LDAP filter of docs/LDAP.md.
    let c = users_connector(
        &dc,
        &format!("base_dns = [\"{staff}\", \"{sales}\"]"),
        "(!(userAccountControl:1.2.840.113556.1.4.803:=2))",
    );
    let mut sink = MemorySink::new();
    import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert_eq!(accounts(&sink), ["ann", "bob", "cyd"]);

    // The domain root without OU=Hidden; a user moved there is gone from the connector's view.
    let c = users_connector(
        &dc,
        &format!("base_dn = \"{root}\"\nexclude_dns = [\"{hidden}\"]"),
        "",
    );
    let mut sink = MemorySink::new();
    let full = import(&c, &mut sink, ImportMode::Full, None).await.unwrap();
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    let all = accounts(&sink);
    assert!(all.iter().any(|a| a == "bob"), "{all:?}");
    assert!(!all.iter().any(|a| a == "hid"), "{all:?}");
    let bob = sink
        .staged
        .iter()
        .find(|(_, (_, a))| a.get("sAMAccountName").first().map(String::as_str) == Some("bob"))
        .map(|(k, _)| k.clone())
        .unwrap();
    dc.ldapmodrdn(&format!("CN=bob,{staff}"), "CN=bob", true, Some(&hidden));
    import(&c, &mut sink, ImportMode::Delta, full.watermark)
        .await
        .unwrap();
    assert!(sink.gaps.is_empty(), "{:?}", sink.gaps);
    assert!(sink.objects.is_empty(), "{:?}", sink.anchors());
    assert_eq!(sink.deletes, [bob], "bob moved into the excluded OU");
}
