//! Group members between directories (issue 18): one `references` declaration is enough for
//! members to be translated, `ucsync check` refuses members that would reach a target
//! untranslated, and members deleted or outside the base are dropped and counted once rather
//! than retried at every sync. Against real slapd instances and a real Samba AD DC.

use serde_json::Value;
use ucsync_testkit::{SambaDc, Slapd};

use crate::harness::{Env, counters};
use crate::ldap_forests::{CENTRAL_TYPES, forest, ldap_connector};

const FOREST_TYPES: &str = r#"
[[connectors.NAME.settings.object_types]]
name = "user"
base = "ou=people,BASE"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "mail"]
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
member = "member"
"#;

const DECLARED: &str = "references = [\"member\"]\n";

/// forest-a and central; `enterprise` goes into the enterprise's table, and each connector
/// keeps its `references` setting only when `on_connectors`.
fn forest_config(a: &Slapd, central: &Slapd, enterprise: &str, on_connectors: bool) -> String {
    let connectors = format!(
        "{}{}",
        ldap_connector("central", central, CENTRAL_TYPES, "create_parents = true"),
        ldap_connector("forest-a", a, FOREST_TYPES, ""),
    );
    let connectors = if on_connectors {
        connectors
    } else {
        connectors.replace(DECLARED, "")
    };
    format!(
        "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest-a\"]\n{enterprise}{connectors}"
    )
}

fn central_members(central: &Slapd, group: &str) -> Vec<String> {
    let entry = central
        .get(
            &format!("cn={group},ou=Groups,{}", central.suffix()),
            &["member"],
        )
        .unwrap_or_else(|| panic!("group {group} is not in central"));
    let mut members = entry.attrs.get("member").cloned().unwrap_or_default();
    members.sort();
    members
}

#[test]
fn one_references_declaration_is_enough_for_members_to_reach_central() {
    let a = forest("dc=a,dc=test");
    let (people, groups) = (a.add_ou("people"), a.add_ou("groups"));
    let mut ldif = String::new();
    for uid in ["ann", "bob"] {
        ldif.push_str(&format!(
            "dn: uid={uid},{people}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Person\nsn: Person\nmail: {uid}@a.example\n\n"
        ));
    }
    ldif.push_str(&format!(
        "dn: cn=staff,{groups}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ann,{people}\nmember: uid=bob,{people}\n"
    ));
    a.ldapadd(&ldif);

    // On the connectors only (groups were never exported), then on the enterprise only
    // (members arrived as DNs the directory could not place).
    for (enterprise, on_connectors) in [("", true), ("references = [\"member\"]\n", false)] {
        let central = forest("dc=central,dc=test");
        let env = Env::new();
        env.write(
            "ucsync.toml",
            forest_config(&a, &central, enterprise, on_connectors),
        );
        let check = env.run(&["check"]);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        let first = env.json(&["sync-now"], 0);
        assert_eq!(
            counters(Env::step(&first, "central", "export"))[..3],
            [3, 0, 0],
            "{first:#}"
        );
        let contacts = format!("ou=Contacts,{}", central.suffix());
        assert_eq!(
            central_members(&central, "staff"),
            [format!("cn=ann,{contacts}"), format!("cn=bob,{contacts}")],
            "references on the connectors: {on_connectors}"
        );
        let quiet = env.json(&["sync-now"], 0);
        assert_eq!(
            counters(Env::step(&quiet, "central", "export"))[..3],
            [0, 0, 0],
            "{quiet:#}"
        );
    }
}

/// A connector table that needs no server: `ucsync check` does not connect.
fn offline(name: &str, types: &str, references: bool) -> String {
    format!(
        "\n[connectors.{name}]\nkind = \"ldap\"\n[connectors.{name}.settings]\nurl = \"ldap://127.0.0.1:9\"\nbase_dn = \"dc={name},dc=test\"\n{}{}",
        if references { DECLARED } else { "" },
        types
            .replace("NAME", name)
            .replace("BASE", &format!("dc={name},dc=test"))
    )
}

#[test]
fn check_refuses_members_that_would_reach_a_target_untranslated() {
    let env = Env::new();
    let head = "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"forest\"]\n";
    // No declaration at all: the forest's member DNs would be written into central.
    env.write(
        "ucsync.toml",
        format!(
            "{head}{}{}",
            offline("central", CENTRAL_TYPES, false),
            offline("forest", FOREST_TYPES, false)
        ),
    );
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        "connectors.forest.rules.import_flows.member: member holds references to other objects of connector forest",
        "connectors.central.rules.export_flows.member",
        "add \"member\" to connectors.forest.settings.references (or \"member\" to enterprises.default.references)",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }

    // A declaration, but a flow that changes the members on their way out: central would get
    // anchors.
    env.write(
        "ucsync.toml",
        format!(
            "{head}references = [\"member\"]\n{}{}",
            offline("central", CENTRAL_TYPES, false)
                .replace("member = \"member\"", "member = \"lower(member)\""),
            offline("forest", FOREST_TYPES, false)
        ),
    );
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("connectors.central.rules.export_flows.member: this flow reads reference attribute member of enterprise default, but member is not one of connector central's references")
            && err.contains("copy the attribute alone (`member = \"member\"`)"),
        "{err}"
    );
}

fn ad_connector(dc: &SambaDc, base: &str) -> String {
    format!(
        r#"
[connectors.ad]
kind = "ldap"
[connectors.ad.settings]
url = "{uri}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
references = ["member"]
[[connectors.ad.settings.object_types]]
name = "user"
object_classes = ["user"]
filter = "(!(objectClass=computer))"
attributes = ["sAMAccountName", "cn", "sn", "mail"]
[[connectors.ad.settings.object_types]]
name = "group"
object_classes = ["group"]
attributes = ["sAMAccountName", "cn", "member"]
[connectors.ad.rules]
projection = {{ user = "person", group = "group" }}
[connectors.ad.rules.import_flows]
name = "sAMAccountName"
sn = "coalesce(sn, sAMAccountName)"
mail = "lower(mail)"
displayName = "cn"
member = "member"
"#,
        uri = dc.uri(),
        dn = dc.admin_dn(),
        pw = dc.admin_pw(),
    )
}

/// The notes and the warnings of the delta-syncs of a sync-now. A group entry is recomputed by
/// the first sync that touches it: central's, when central read its own group back.
fn sync_notes(env: &Env, report: &Value) -> (Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    for step in report["steps"].as_array().unwrap() {
        if step["profile"] != "delta-sync" {
            continue;
        }
        if let Some(note) = step["message"].as_str() {
            notes.push(note.to_owned());
        }
        let id = step["run_id"].as_i64().unwrap().to_string();
        let shown = env.json(&["runs", "show", &id], 0);
        warnings.extend(
            shown["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["action"] == "warning")
                .map(|o| o["message"].as_str().unwrap_or_default().to_owned()),
        );
    }
    (notes, warnings)
}

#[test]
fn members_deleted_or_outside_the_base_are_dropped_and_counted_once() {
    let dc = SambaDc::start();
    let central = forest("dc=central,dc=test");
    let staff = dc.add_ou("Staff");
    // Outside the base, and in the base but of no object type (a contact).
    let outsider = dc.add_user("outsider");
    let mut ldif = String::new();
    for sam in ["ann", "bob"] {
        ldif.push_str(&format!(
            "dn: CN={sam} Smith,{staff}\nobjectClass: user\ncn: {sam} Smith\nsAMAccountName: {sam}\nsn: Smith\nmail: {sam}@ad.example\n\n"
        ));
    }
    ldif.push_str(&format!(
        "dn: CN=ext,{staff}\nobjectClass: contact\ncn: ext\n\n\
         dn: CN=team,{staff}\nobjectClass: group\ncn: team\nsAMAccountName: team\n\
         member: CN=ann Smith,{staff}\nmember: CN=bob Smith,{staff}\nmember: {outsider}\nmember: CN=ext,{staff}\n"
    ));
    dc.ldapadd(&ldif);

    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"ad\"]\n{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ad_connector(&dc, &staff),
        ),
    );
    let first = env.json(&["sync-now"], 0);
    let import = Env::step(&first, "ad", "delta-import");
    assert!(
        import["message"]
            .as_str()
            .unwrap_or_default()
            .contains("2 reference values name entries outside this connector's object types and were left out"),
        "{import:#}"
    );
    let (notes, warnings) = sync_notes(&env, &first);
    assert!(
        notes.is_empty() && warnings.is_empty(),
        "{notes:?} {warnings:#?}"
    );
    let contacts = format!("ou=Contacts,{}", central.suffix());
    assert_eq!(
        central_members(&central, "team"),
        [format!("cn=ann,{contacts}"), format!("cn=bob,{contacts}")]
    );

    // Bob is deleted: Samba takes him out of the group without changing the group's
    // uSNChanged, so the group is not read again and its staged state still names him.
    dc.ldapdelete(&format!("CN=bob Smith,{staff}"));
    let second = env.json(&["sync-now"], 0);
    let (notes, warnings) = sync_notes(&env, &second);
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(
        notes,
        ["1 reference value was dropped: 1 to objects deleted in the source"],
        "{second:#}"
    );
    assert_eq!(
        central_members(&central, "team"),
        [format!("cn=ann,{contacts}")]
    );

    // Counted once, and nothing is retried.
    let third = env.json(&["sync-now"], 0);
    let (notes, warnings) = sync_notes(&env, &third);
    assert!(
        notes.is_empty() && warnings.is_empty(),
        "{notes:?} {warnings:#?}"
    );
    assert_eq!(
        counters(Env::step(&third, "ad", "delta-sync")),
        [0, 0, 0, 0, 0],
        "{third:#}"
    );
}

/// The API checks a connector as `ucsync check` does: a forest whose member DNs would reach
/// another directory untranslated is refused, naming the flow; declared, it is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_members_that_would_reach_a_target_untranslated() {
    use crate::serve::{Server, call_with, setup};
    use serde_json::json;

    let (env, [_, _, admin]) = setup(3);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let ldap = |name: &str, references: &[&str], rules: Value| {
        json!({
            "name": name,
            "kind": "ldap",
            "settings": {
                "url": "ldap://127.0.0.1:1",
                "base_dn": format!("dc={name},dc=test"),
                "references": references,
                "object_types": [{ "name": "group", "object_classes": ["groupOfNames"],
                    "attributes": ["cn", "member"], "rdn": "cn" }],
            },
            "rules": rules,
        })
    };
    let central = ldap(
        "hq",
        &[],
        json!({ "provisioning": [{ "from": "group", "object_type": "group" }],
                "export_flows": { "cn": "name", "member": "member" } }),
    );
    let url = server.url("/api/v1/connectors");
    let (status, body) = call_with(&http, "POST", &url, Some(&admin), Some(&central)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");

    let rules = json!({ "projection": { "group": "group" },
                        "import_flows": { "name": "cn", "member": "member" } });
    let forest = ldap("ad", &[], rules.clone());
    let (status, body) = call_with(&http, "POST", &url, Some(&admin), Some(&forest)).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let problem = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "connectors.ad.rules.import_flows.member")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("add \"member\" to connectors.ad.settings.references"),
        "{problem}"
    );

    let forest = ldap("ad", &["member"], rules);
    let (status, body) = call_with(&http, "POST", &url, Some(&admin), Some(&forest)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
}
