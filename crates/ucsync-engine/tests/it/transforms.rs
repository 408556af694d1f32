//! Transforms through flows, end to end: a source row, import flows into the directory, export
//! flows into a target row.

use crate::harness::Hub;

const CONFIG: &str = r#"version = 1

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
givenName = "first"
sn = "last"
mail = "lower(trim(mail))"
displayName = '"${first} ${last}"'
roles = 'split(roles, "|")'
telephoneNumber = "replace(phone, '[^0-9+]', '')"
title = "trim(title)"
nickname = "coalesce(nick, first)"
company = '"Acme"'

[connectors.out]
kind = "csv"
[connectors.out.settings]
path = "out.csv"
object_type = "contact"
key = ["uid"]
multi_valued = { roles = ";" }
header = ["uid", "email", "alias", "name", "SN", "roles", "roleList", "phone", "ext", "title", "org", "nickname", "kind"]
[connectors.out.rules]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.out.rules.export_flows]
uid = "uid"
email = 'rewrite_domain(mail, "acme.com")'
alias = 'rewrite_domain(mail, "forest.example", "corp.example")'
name = "displayName"
SN = "upper(sn)"
roles = "roles"
roleList = 'join(roles, ", ")'
phone = "telephoneNumber"
ext = '''replace(telephoneNumber, '^.*(\d{4})$', '${1}')'''
title = "title"
org = '"Acme Corp"'
nickname = "nickname"
kind = '''if(mail =~ '@forest\.example$', "staff", "external")'''
"#;

const HR_HEADER: &str = "id,first,last,mail,phone,roles,title,nick\n";
const ANN: &str =
    "1,Ann,Smith, Ann.Smith@Forest.Example ,+1 (555) 123-4567,admin|dev|ops,  Engineer  ,\n";
const BOB: &str = "2,bob,jones,bob@other.example,555.0002,,Manager,Bobby\n";

async fn hub() -> Hub {
    let hub = Hub::new(
        CONFIG,
        &[
            ("hr.csv", &format!("{HR_HEADER}{ANN}{BOB}")),
            ("out.csv", "uid\n"),
        ],
    )
    .await;
    hub.sync_ok().await;
    hub
}

#[tokio::test]
async fn import_flows_transform_values_into_the_directory() {
    let hub = hub().await;
    let ann = hub.entry("uid", "1").await;
    assert_eq!(ann.attrs.get("mail"), ["ann.smith@forest.example"]);
    assert_eq!(ann.attrs.get("displayName"), ["Ann Smith"]);
    assert_eq!(ann.attrs.get("roles"), ["admin", "dev", "ops"]);
    assert_eq!(ann.attrs.get("telephoneNumber"), ["+15551234567"]);
    assert_eq!(ann.attrs.get("title"), ["Engineer"]);
    assert_eq!(ann.attrs.get("nickname"), ["Ann"], "coalesce falls back");
    assert_eq!(ann.attrs.get("company"), ["Acme"]);

    let bob = hub.entry("uid", "2").await;
    assert!(bob.attrs.get("roles").is_empty());
    assert_eq!(bob.attrs.get("nickname"), ["Bobby"]);
    assert_eq!(bob.attrs.get("telephoneNumber"), ["5550002"]);
}

#[tokio::test]
async fn export_flows_write_the_transformed_values() {
    let hub = hub().await;
    let ann = hub.row("out.csv", "uid", "1");
    let expected_ann = [
        ("email", "ann.smith@acme.com"),
        ("alias", "ann.smith@corp.example"),
        ("name", "Ann Smith"),
        ("SN", "SMITH"),
        ("roles", "admin;dev;ops"),
        ("roleList", "admin, dev, ops"),
        ("phone", "+15551234567"),
        ("ext", "4567"),
        ("title", "Engineer"),
        ("org", "Acme Corp"),
        ("nickname", "Ann"),
        ("kind", "staff"),
    ];
    for (column, value) in expected_ann {
        assert_eq!(ann[column], value, "Ann's {column}: {ann:#?}");
    }
    let bob = hub.row("out.csv", "uid", "2");
    let expected_bob = [
        ("email", "bob@acme.com"),
        ("alias", "bob@other.example"),
        ("name", "bob jones"),
        ("SN", "JONES"),
        ("roles", ""),
        ("roleList", ""),
        ("ext", "0002"),
        ("org", "Acme Corp"),
        ("kind", "external"),
    ];
    for (column, value) in expected_bob {
        assert_eq!(bob[column], value, "Bob's {column}: {bob:#?}");
    }
}

#[tokio::test]
async fn a_changed_multi_valued_source_reaches_the_target() {
    let hub = hub().await;
    hub.write(
        "hr.csv",
        &format!(
            "{HR_HEADER}{}{BOB}",
            ANN.replace("admin|dev|ops", "admin|sec")
        ),
    );
    hub.sync_ok().await;
    let ann = hub.row("out.csv", "uid", "1");
    assert_eq!(ann["roles"], "admin;sec");
    assert_eq!(ann["roleList"], "admin, sec");
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("roles"),
        ["admin", "sec"]
    );
}
