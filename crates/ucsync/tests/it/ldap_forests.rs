//! The multi-forest scenario through the binary against three real slapd instances: two user
//! forests whose users become contacts (and whose groups become groups) in a central forest,
//! then a round of changes in one forest carried over by delta import, delta sync and export.

use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::{Env, counters};

pub fn forest(suffix: &str) -> Slapd {
    Slapd::start(SlapdOptions {
        suffix: suffix.to_owned(),
        ..SlapdOptions::default()
    })
}

fn user(uid: &str, people: &str, phone: &str) -> String {
    format!(
        "dn: uid={uid},{people}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Person\nsn: Person\nmail: {uid}@forest.example\ntelephoneNumber: {phone}\n\n"
    )
}

pub fn ldap_connector(name: &str, s: &Slapd, types: &str, extra: &str) -> String {
    format!(
        r#"
[connectors.{name}]
kind = "ldap"
[connectors.{name}.settings]
url = "{uri}"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
{extra}
{types}
"#,
        uri = s.uri(),
        dn = s.root_dn(),
        pw = s.root_pw(),
        base = s.suffix(),
        types = types.replace("NAME", name).replace("BASE", s.suffix()),
    )
}

const FOREST_TYPES: &str = r#"
[[connectors.NAME.settings.object_types]]
name = "user"
base = "ou=people,BASE"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "mail", "telephoneNumber"]
rdn = "uid"
[[connectors.NAME.settings.object_types]]
name = "group"
base = "ou=groups,BASE"
object_classes = ["groupOfNames"]
attributes = ["cn", "member"]
[connectors.NAME.rules]
projection = { user = "person", group = "group" }
[connectors.NAME.rules.import_flows]
name = "coalesce(uid, cn)"
sn = "sn"
mail = "lower(mail)"
displayName = "cn"
telephoneNumber = "telephoneNumber"
member = "member"
"#;

pub const CENTRAL_TYPES: &str = r#"
[[connectors.NAME.settings.object_types]]
name = "contact"
base = "ou=Contacts,BASE"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn", "mail", "displayName", "telephoneNumber", "employeeType"]
rdn = "cn"
[[connectors.NAME.settings.object_types]]
name = "group"
base = "ou=Groups,BASE"
object_classes = ["groupOfNames"]
attributes = ["cn", "member"]
rdn = "cn"
[connectors.NAME.rules]
provisioning = [{ from = "person", object_type = "contact" }, { from = "group", object_type = "group" }]
[connectors.NAME.rules.export_flows]
cn = "name"
sn = "sn"
mail = "mail"
displayName = "displayName"
telephoneNumber = "telephoneNumber"
employeeType = '"uc-enabled"'
member = "member"
"#;

#[test]
fn forests_become_contacts_and_groups_in_central_then_deltas_carry_only_changes() {
    let a = forest("dc=a,dc=test");
    let b = forest("dc=b,dc=test");
    let central = forest("dc=central,dc=test");
    let (a_people, a_groups) = (a.add_ou("people"), a.add_ou("groups"));
    let (b_people, _) = (b.add_ou("people"), b.add_ou("groups"));
    a.ldapadd(&format!(
        "{}{}{}dn: cn=staff-a,{a_groups}\nobjectClass: groupOfNames\ncn: staff-a\nmember: uid=ann,{a_people}\nmember: uid=bob,{a_people}\n",
        user("ann", &a_people, "+1 555 0001"),
        user("bob", &a_people, "+1 555 0002"),
        user("cyd", &a_people, "+1 555 0003"),
    ));
    b.ldapadd(&format!(
        "{}{}",
        user("bea", &b_people, "+1 555 0101"),
        user("ben", &b_people, "+1 555 0102")
    ));

    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest-a\", \"forest-b\"]\nreferences = [\"member\"]\n{}{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ldap_connector("forest-a", &a, FOREST_TYPES, ""),
            ldap_connector("forest-b", &b, FOREST_TYPES, ""),
        ),
    );
    let first = env.json(&["sync-now"], 0);
    // Central runs first.
    assert_eq!(first["steps"][0]["connector"], "central", "{first:#}");
    let contacts = format!("ou=Contacts,{}", central.suffix());
    assert_eq!(central.count(&contacts, "(objectClass=inetOrgPerson)"), 5);
    let ann = central
        .get(
            &format!("cn=ann,{contacts}"),
            &["mail", "displayName", "telephoneNumber", "employeeType"],
        )
        .expect("ann's contact");
    assert_eq!(ann.attrs["mail"], ["ann@forest.example"]);
    assert_eq!(ann.attrs["displayName"], ["ann Person"]);
    assert_eq!(ann.attrs["telephoneNumber"], ["+1 555 0001"]);
    assert_eq!(ann.attrs["employeeType"], ["uc-enabled"]);
    let group = central
        .get(
            &format!("cn=staff-a,ou=Groups,{}", central.suffix()),
            &["member"],
        )
        .expect("the group in central");
    let mut members = group.attrs["member"].clone();
    members.sort();
    assert_eq!(
        members,
        [format!("cn=ann,{contacts}"), format!("cn=bob,{contacts}")]
    );

    // With nothing changed, the next sync-now sends nothing.
    let quiet = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&quiet, "central", "export"))[..3],
        [0, 0, 0]
    );
    assert_eq!(
        counters(Env::step(&quiet, "forest-a", "delta-import"))[..3],
        [0, 0, 0]
    );

    // Changes in forest A: an add, a modify, a rename and a delete.
    a.ldapadd(&user("dee", &a_people, "+1 555 0004"));
    a.ldapmodify(&format!(
        "dn: uid=ann,{a_people}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 9999\n"
    ));
    a.ldapmodify(&format!(
        "dn: uid=bob,{a_people}\nchangetype: modrdn\nnewrdn: uid=rob\ndeleteoldrdn: 1\n"
    ));
    a.ldapdelete(&format!("uid=cyd,{a_people}"));

    let import = env.json(&["run", "forest-a", "delta-import"], 0);
    assert_eq!(counters(&import)[..3], [1, 2, 1], "{import:#}");
    let sync = env.json(&["run", "forest-a", "delta-sync"], 0);
    assert_eq!(counters(&sync)[4], 0, "{sync:#}");
    let export = env.json(&["run", "central", "export"], 0);
    assert_eq!(counters(&export)[..3], [1, 2, 1], "{export:#}");

    assert_eq!(central.count(&contacts, "(objectClass=inetOrgPerson)"), 5);
    assert!(
        central
            .get(&format!("cn=cyd,{contacts}"), &["cn"])
            .is_none()
    );
    assert!(
        central
            .get(&format!("cn=bob,{contacts}"), &["cn"])
            .is_none()
    );
    assert!(
        central
            .get(&format!("cn=rob,{contacts}"), &["cn"])
            .is_some()
    );
    assert!(
        central
            .get(&format!("cn=dee,{contacts}"), &["cn"])
            .is_some()
    );
    let ann = central
        .get(&format!("cn=ann,{contacts}"), &["telephoneNumber"])
        .unwrap();
    assert_eq!(ann.attrs["telephoneNumber"], ["+1 555 9999"]);
}

#[test]
fn a_group_provisioned_to_central_reads_back_without_a_pending_change() {
    // Six members: central returns them in the order the add carried them, which is not the
    // order the engine computes (a no-op update in all but 1 of 720 orders without the fix).
    let a = forest("dc=a,dc=test");
    let central = forest("dc=central,dc=test");
    let (people, groups) = (a.add_ou("people"), a.add_ou("groups"));
    let uids = ["u1", "u2", "u3", "u4", "u5", "u6"];
    let mut ldif: String = uids
        .iter()
        .map(|u| user(u, &people, "+1 555 0001"))
        .collect();
    ldif.push_str(&format!(
        "dn: cn=six,{groups}\nobjectClass: groupOfNames\ncn: six\n"
    ));
    for u in uids {
        ldif.push_str(&format!("member: uid={u},{people}\n"));
    }
    a.ldapadd(&ldif);
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest-a\"]\nreferences = [\"member\"]\n{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ldap_connector("forest-a", &a, FOREST_TYPES, ""),
        ),
    );
    let first = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&first, "central", "export"))[0],
        7,
        "{first:#}"
    );
    let second = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&second, "central", "export"))[..3],
        [0, 0, 0],
        "{second:#}"
    );
}

#[test]
fn a_present_phase_then_the_changed_entries_imports_the_changes() {
    // Without a session log, syncprov answers a delta with a present phase that names every
    // entry, changed ones included, and then sends the changed entries.
    let a = Slapd::start(SlapdOptions {
        suffix: "dc=a,dc=test".to_owned(),
        syncprov_sessionlog: None,
        ..SlapdOptions::default()
    });
    let central = forest("dc=central,dc=test");
    let (people, _) = (a.add_ou("people"), a.add_ou("groups"));
    a.ldapadd(&format!(
        "{}{}{}",
        user("ann", &people, "+1 555 0001"),
        user("bob", &people, "+1 555 0002"),
        user("cyd", &people, "+1 555 0003"),
    ));
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest-a\"]\nreferences = [\"member\"]\n{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ldap_connector("forest-a", &a, FOREST_TYPES, ""),
        ),
    );
    env.json(&["sync-now"], 0);
    a.ldapmodify(&format!(
        "dn: uid=bob,{people}\nchangetype: modify\nreplace: telephoneNumber\ntelephoneNumber: +1 555 7777\n"
    ));
    a.ldapdelete(&format!("uid=cyd,{people}"));
    let import = env.json(&["run", "forest-a", "delta-import"], 0);
    assert_eq!(counters(&import), [0, 1, 1, 1, 0], "{import:#}");
    env.json(&["run", "forest-a", "delta-sync"], 0);
    env.json(&["run", "central", "export"], 0);
    let bob = central
        .get(
            &format!("cn=bob,ou=Contacts,{}", central.suffix()),
            &["telephoneNumber"],
        )
        .expect("bob's contact");
    assert_eq!(bob.attrs["telephoneNumber"], ["+1 555 7777"]);
}

#[test]
fn outcome_lines_name_a_deleted_entry_and_the_members_added_and_removed() {
    let a = forest("dc=a,dc=test");
    let central = forest("dc=central,dc=test");
    let (people, groups) = (a.add_ou("people"), a.add_ou("groups"));
    a.ldapadd(&format!(
        "{}{}{}dn: cn=staff,{groups}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ann,{people}\nmember: uid=bob,{people}\n",
        user("ann", &people, "+1 555 0001"),
        user("bob", &people, "+1 555 0002"),
        user("cyd", &people, "+1 555 0003"),
    ));
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest-a\"]\nreferences = [\"member\"]\n{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ldap_connector("forest-a", &a, FOREST_TYPES, ""),
        ),
    );
    env.json(&["sync-now"], 0);
    // Central's entries as read back (with their DNs and members' entryUUIDs).
    env.json(&["run", "central", "full-import"], 0);
    a.ldapdelete(&format!("uid=cyd,{people}"));
    a.ldapadd(&user("dee", &people, "+1 555 0004"));
    a.ldapmodify(&format!(
        "dn: cn=staff,{groups}\nchangetype: modify\nadd: member\nmember: uid=dee,{people}\n-\ndelete: member\nmember: uid=bob,{people}\n"
    ));
    env.json(&["run", "forest-a", "delta-import"], 0);
    env.json(&["run", "forest-a", "delta-sync"], 0);
    let export = env.json(&["run", "central", "export"], 0);
    assert_eq!(counters(&export)[..3], [1, 1, 1], "{export:#}");
    let id = export["run_id"].to_string();
    let out = env.run(&["runs", "show", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |action: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(action))
            .unwrap_or_else(|| panic!("no {action} line in:\n{text}"))
            .to_owned()
    };
    // The delete names the entry's DN beside its anchor.
    let delete = line("export-delete");
    assert!(
        delete.contains(&format!("cn=cyd,ou=Contacts,{}", central.suffix())),
        "{text}"
    );
    // The group's change names the member added and the one removed, not both whole lists.
    let members = text
        .lines()
        .find(|l| l.trim_start().starts_with("member:"))
        .unwrap_or_else(|| panic!("no member change in:\n{text}"));
    assert!(!members.contains("->"), "{text}");
    assert_eq!(members.matches(" +\"").count(), 1, "{text}");
    assert_eq!(members.matches(" -\"").count(), 1, "{text}");
}
