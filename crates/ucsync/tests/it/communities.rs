//! Communities end to end through the binary: persons from a real slapd, communities from the
//! fake Connections server (real HTTP on 127.0.0.1, the documented Atom feeds), members joined
//! to the persons by user id and then e-mail, the communities provisioned as groups into a
//! second slapd with member DNs translated; then a round of changes on the server carried by a
//! delta run, exactly.

use serde_json::Value;
use ucsync_testkit::connections::{CommunityType, FakeCommunity};
use ucsync_testkit::{FakeConnections, Slapd};

use crate::harness::{Env, counters};
use crate::ldap_forests::{forest, ldap_connector};

const HR_TYPES: &str = r#"
[[connectors.NAME.settings.object_types]]
name = "user"
base = "ou=people,BASE"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "mail"]
rdn = "uid"
[connectors.NAME.rules]
projection = { user = "person" }
[connectors.NAME.rules.import_flows]
name = "uid"
sn = "sn"
mail = "lower(mail)"
displayName = "cn"
"#;

const CENTRAL_TYPES: &str = r#"
[[connectors.NAME.settings.object_types]]
name = "contact"
base = "ou=Contacts,BASE"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn", "mail"]
rdn = "cn"
[[connectors.NAME.settings.object_types]]
name = "group"
base = "ou=Groups,BASE"
object_classes = ["groupOfNames"]
attributes = ["cn", "description", "member"]
rdn = "cn"
[connectors.NAME.rules]
provisioning = [{ from = "person", object_type = "contact" }, { from = "community", object_type = "group" }]
[connectors.NAME.rules.export_flows]
cn = "name"
sn = "sn"
mail = "mail"
description = "description"
member = "member"
"#;

fn communities_connector(fake: &FakeConnections, rules: &str) -> String {
    format!(
        r#"
[connectors.communities]
kind = "communities"
[connectors.communities.settings]
protocol = "http"
host = "127.0.0.1"
port = {port}
user = "admin"
password_env = "CONNECTIONS_PASSWORD"
page_size = 2
{rules}
"#,
        port = fake.port()
    )
}

const COMMUNITY_RULES: &str = r#"
[connectors.communities.rules]
projection = { community = "community" }
join = [{ staged = "userid", directory = "name", ignore_case = true }, { staged = "email", directory = "mail", ignore_case = true }]
[connectors.communities.rules.import_flows]
name = "name"
description = "description"
communityType = "communityType"
tags = "tags"
member = "member"
owner = "owner"
"#;

fn person(uid: &str, people: &str) -> String {
    format!(
        "dn: uid={uid},{people}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid} Person\nsn: Person\nmail: {uid}@hr.example\n\n"
    )
}

struct World {
    hr: Slapd,
    central: Slapd,
    fake: FakeConnections,
    env: Env,
}

fn world() -> World {
    let hr = forest("dc=hr,dc=test");
    let central = forest("dc=central,dc=test");
    let people = hr.add_ou("people");
    hr.ldapadd(&["ann", "bob", "cyd"].map(|u| person(u, &people)).concat());
    let fake = FakeConnections::start().unwrap();
    fake.add_user(
        "admin",
        "Administrator",
        "admin@hr.example",
        Some("s3cret"),
        true,
    );
    // Ann by user id; Bob by e-mail (another id, the address in other case); Zed by nobody.
    fake.add_user("ann", "Ann Person", "ann@hr.example", None, false);
    fake.add_user("B0B-7F3A", "Bob Person", "Bob@HR.example", None, false);
    fake.add_user("cyd", "Cyd Person", "cyd@hr.example", None, false);
    fake.add_user("zed", "Zed Outsider", "zed@elsewhere.example", None, false);
    let mut sales = FakeCommunity::new("c-sales", "Sales", "ann");
    sales.kind = CommunityType::Private;
    sales.description = "Deals & leads".to_owned();
    sales.tags = vec!["sales".to_owned(), "emea".to_owned()];
    fake.add_community(sales);
    fake.add_member("c-sales", "B0B-7F3A", false);
    fake.add_member("c-sales", "zed", false);
    fake.add_community(FakeCommunity::new("c-ops", "Ops", "B0B-7F3A"));
    fake.add_member("c-ops", "cyd", false);
    fake.add_community(FakeCommunity::new("c-old", "Old", "cyd"));
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"central\", \"hr\", \"communities\"]\nreferences = [\"member\", \"owner\"]\n{}{}{}",
            ldap_connector("central", &central, CENTRAL_TYPES, "create_parents = true"),
            ldap_connector("hr", &hr, HR_TYPES, ""),
            communities_connector(&fake, COMMUNITY_RULES),
        ),
    );
    World {
        hr,
        central,
        fake,
        env,
    }
}

fn sync_now(env: &Env) -> Value {
    let mut cmd = env.command(&["--json", "sync-now"]);
    let out = cmd.env("CONNECTIONS_PASSWORD", "s3cret").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// The communities of the directory: name → (entry, member names sorted, unresolved members).
fn communities(env: &Env) -> Vec<(String, Vec<String>, Vec<String>)> {
    let all = env.json(&["directory", "search", "--limit", "1000"], 0);
    let entries = all.as_array().unwrap();
    let name_of = |id: &str| {
        entries
            .iter()
            .find(|e| e["id"].as_i64().is_some_and(|v| v.to_string() == id))
            .map(|e| {
                e["attributes"]["name"]["values"][0]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .unwrap_or_else(|| format!("?{id}"))
    };
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = entries
        .iter()
        .filter(|e| e["type"] == "community")
        .map(|e| {
            let a = &e["attributes"];
            let values = |n: &str| -> Vec<String> {
                a[n]["values"]
                    .as_array()
                    .map(|v| v.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default()
            };
            let mut members: Vec<String> = values("member").iter().map(|id| name_of(id)).collect();
            members.sort();
            let name = values("name").first().cloned().unwrap_or_default();
            (name, members, values("unresolvedMember"))
        })
        .collect();
    out.sort();
    out
}

fn group_members(central: &Slapd, cn: &str) -> Option<Vec<String>> {
    let group = central.get(
        &format!("cn={cn},ou=Groups,{}", central.suffix()),
        &["member"],
    )?;
    let mut m = group.attrs["member"].clone();
    m.sort();
    Some(m)
}

#[test]
fn communities_join_persons_flow_into_ldap_groups_and_a_delta_carries_exactly_the_changes() {
    let w = world();
    let first = sync_now(&w.env);
    let import = crate::harness::Env::step(&first, "communities", "delta-import");
    // Three communities and four people (Zed included).
    assert_eq!(counters(import)[..3], [7, 0, 0], "{import:#}");
    let zed = "Zed Outsider <zed@elsewhere.example> (zed)";
    assert_eq!(
        communities(&w.env),
        [
            ("Old".to_owned(), vec!["cyd".to_owned()], vec![]),
            (
                "Ops".to_owned(),
                vec!["bob".to_owned(), "cyd".to_owned()],
                vec![]
            ),
            (
                "Sales".to_owned(),
                vec!["ann".to_owned(), "bob".to_owned()],
                vec![zed.to_owned()]
            ),
        ]
    );
    // Reported once, as a warning naming the community and the member.
    let sync = crate::harness::Env::step(&first, "communities", "delta-sync");
    let id = sync["run_id"].as_i64().unwrap().to_string();
    let shown = w.env.json(&["runs", "show", &id], 0);
    let warnings: Vec<&str> = shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "warning")
        .map(|o| o["message"].as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 1, "{shown:#}");
    assert!(
        warnings[0].contains(
            "(\"Sales\"): member Zed Outsider <zed@elsewhere.example> (zed) matches no entry"
        ) && warnings[0].contains("kept in unresolvedMember"),
        "{}",
        warnings[0]
    );

    let contacts = format!("ou=Contacts,{}", w.central.suffix());
    let dn = |u: &str| format!("cn={u},{contacts}");
    assert_eq!(
        group_members(&w.central, "Sales"),
        Some(vec![dn("ann"), dn("bob")])
    );
    assert_eq!(
        group_members(&w.central, "Ops"),
        Some(vec![dn("bob"), dn("cyd")])
    );

    // Nothing changed: the delta reads nothing new and exports nothing.
    let quiet = sync_now(&w.env);
    let step = crate::harness::Env::step(&quiet, "communities", "delta-import");
    assert_eq!(counters(step)[..3], [0, 0, 0], "{quiet:#}");
    assert_eq!(
        counters(crate::harness::Env::step(&quiet, "central", "export"))[..3],
        [0, 0, 0]
    );

    // On the server: one added, one renamed, one deleted; a member added to Sales and one
    // removed from it.
    w.fake
        .add_community(FakeCommunity::new("c-eng", "Eng", "cyd"));
    w.fake.rename_community("c-ops", "Operations");
    w.fake.delete_community("c-old");
    w.fake.add_member("c-sales", "cyd", false);
    w.fake.remove_member("c-sales", "B0B-7F3A");
    let delta = sync_now(&w.env);
    let step = crate::harness::Env::step(&delta, "communities", "delta-import");
    assert_eq!(counters(step)[..3], [1, 2, 1], "{step:#}");
    assert_eq!(counters(step)[4], 0);
    let export = crate::harness::Env::step(&delta, "central", "export");
    assert_eq!(counters(export)[..3], [1, 2, 1], "{export:#}");
    assert_eq!(group_members(&w.central, "Old"), None);
    assert_eq!(group_members(&w.central, "Ops"), None);
    assert_eq!(
        group_members(&w.central, "Operations"),
        Some(vec![dn("bob"), dn("cyd")])
    );
    assert_eq!(group_members(&w.central, "Eng"), Some(vec![dn("cyd")]));
    assert_eq!(
        group_members(&w.central, "Sales"),
        Some(vec![dn("ann"), dn("cyd")])
    );

    // Every request the server got was a read.
    let requests = w.fake.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!((r.method.as_str(), r.body_len), ("GET", 0), "{r:?}");
        assert_eq!(r.user.as_deref(), Some("admin"), "{r:?}");
    }
    drop(w.hr);
}

#[test]
fn a_community_is_read_only_and_export_flows_towards_the_connector_are_refused() {
    let w = world();
    // The schedule the kind offers, until one runs it.
    let out = w.env.run(&["check"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("connectors.communities") && text.contains("when = \"daily at 02:00\""),
        "{text}"
    );
    sync_now(&w.env);
    let all = w.env.json(&["directory", "search", "--limit", "1000"], 0);
    let id_of = |kind: &str, name: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == kind && e["attributes"]["name"]["values"][0] == name)
            .map(|e| e["id"].to_string())
            .unwrap()
    };
    let sales = id_of("community", "Sales");
    let out = w
        .env
        .run(&["account", "number", "add", &sales, "+15550100"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("read-only") && err.contains("connector communities"),
        "{err}"
    );
    // A person a community member joined belongs to hr too: it stays editable.
    let ann = id_of("person", "ann");
    let out = w.env.run(&["account", "number", "add", &ann, "+15550100"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let refused = format!(
        "{}\n[connectors.communities.rules.export_flows]\nname = \"name\"\n",
        communities_connector(&w.fake, COMMUNITY_RULES)
    );
    let fresh = Env::new();
    fresh.write(
        "ucsync.toml",
        format!("version = 1\n[enterprises.default]\n{refused}"),
    );
    let out = fresh.run(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("connectors.communities.rules") && text.contains("one way"),
        "{text}"
    );
}

/// The files under `dir` (at any depth) that hold `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn the_administrator_password_is_never_logged_exported_or_stored_in_clear() {
    const PASSWORD: &str = "Cx7-admin-Pa55-0815";
    let fake = FakeConnections::start().unwrap();
    fake.add_user(
        "admin",
        "Administrator",
        "admin@hr.example",
        Some(PASSWORD),
        true,
    );
    fake.add_user("ann", "Ann Person", "ann@hr.example", None, false);
    fake.add_community(FakeCommunity::new("c-one", "One", "ann"));
    let env = Env::new();
    let config = communities_connector(&fake, COMMUNITY_RULES).replace(
        "password_env = \"CONNECTIONS_PASSWORD\"",
        &format!("password = \"{PASSWORD}\""),
    );
    env.write(
        "ucsync.toml",
        format!("version = 1\n[enterprises.default]\nreferences = [\"member\", \"owner\"]\n[schedules.nightly]\nenterprise = \"default\"\nwhen = \"daily at 02:00\"\n{config}"),
    );
    let out = env.run(&["-vv", "sync-now"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(!said.contains(PASSWORD), "{said}");
    let exported = env.run(&["config", "export"]);
    let text = String::from_utf8_lossy(&exported.stdout);
    assert!(
        !text.contains(PASSWORD)
            && text.contains("password_env = \"UCSYNC_SECRET_COMMUNITIES_PASSWORD\""),
        "{text}"
    );
    assert_eq!(
        files_holding(&env.path("data"), PASSWORD.as_bytes()),
        Vec::<std::path::PathBuf>::new()
    );

    // A wrong password: the run fails naming the user, and neither password shows.
    env.write(
        "ucsync.toml",
        env.read("ucsync.toml").replace(PASSWORD, "Wrong-Pa55-4242"),
    );
    let out = env.run(&["sync-now"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("refused user \"admin\"")
            && said.contains("the user name or password is wrong"),
        "{said}"
    );
    assert!(
        !said.contains(PASSWORD) && !said.contains("Wrong-Pa55-4242"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_a_community_with_its_members_and_refuses_to_edit_it() {
    let w = world();
    sync_now(&w.env);
    let all = w.env.json(
        &[
            "directory",
            "search",
            "--type",
            "community",
            "--limit",
            "10",
        ],
        0,
    );
    let sales = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["attributes"]["name"]["values"][0] == "Sales")
        .unwrap()["id"]
        .clone();
    let operator = crate::serve::admin(&w.env, "otto", "operator");
    let server = crate::serve::Server::start(&w.env);
    let http = reqwest::Client::new();
    let (status, shown) = crate::serve::call(
        &http,
        "GET",
        &server.url(&format!("/api/v1/directory/{sales}")),
        Some(&operator),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{shown}");
    let text = shown.to_string();
    assert!(
        text.contains("unresolvedMember") && text.contains("Deals & leads"),
        "{shown:#}"
    );
    let members = &shown["attributes"]["member"]["values"];
    assert_eq!(members.as_array().map(Vec::len), Some(2), "{shown:#}");

    let (status, body) = crate::serve::call(
        &http,
        "PUT",
        &server.url(&format!("/api/v1/directory/{sales}/numbers/5550100")),
        Some(&operator),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("read-only") && error.contains("connector communities"),
        "{error}"
    );
}
