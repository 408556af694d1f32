//! `ucsync check` looks at what it can reach: CSV files and their headers, an LDAP server's
//! schema. What it finds there are warnings (exit 0): files and servers may change before the
//! next run. Mistakes in the file itself stay errors (exit 2), each with its key path, and one
//! never hides another.

use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::Env;

const CONFIG: &str = r#"version = 1

[connectors.forest]
kind = "csv"
[connectors.forest.settings]
path = "forest.csv"
key = ["employeeId"]
[connectors.forest.rules]
projection = { person = "person" }
[connectors.forest.rules.import_flows]
uid = "employeeId"
mail = "lower(mail)"
displayName = '"${givenName} ${sn}"'

[connectors.typo]
kind = "csv"
[connectors.typo.settings]
path = "no-such-file.csv"
key = ["id"]
[connectors.typo.rules]
projection = { person = "person" }
[connectors.typo.rules.import_flows]
uid = "id"

[connectors.keyless]
kind = "csv"
[connectors.keyless.settings]
path = "keyless.csv"
key = ["id"]
[connectors.keyless.rules]
projection = { person = "person" }
[connectors.keyless.rules.import_flows]
uid = "employeeId"

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "out/central.csv"
object_type = "contact"
key = ["externalId"]
[connectors.central.rules]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.central.rules.export_flows]
externalId = "uid"
email = "mail"
title = "jobTitle"
"#;

#[test]
fn check_warns_about_files_headers_and_attributes_no_source_has() {
    let env = Env::new();
    env.write("ucsync.toml", CONFIG);
    // The header says "email", the flow reads "mail".
    env.write(
        "forest.csv",
        "employeeId,givenName,sn,email\r\n1,Ann,One,ann@example.com\r\n",
    );
    env.write("keyless.csv", "employeeId,name\n1,Ann\n");
    std::fs::create_dir_all(env.path("out")).unwrap();

    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for needle in [
        "warning: connectors.forest.rules.import_flows.mail: names attribute \"mail\", which the objects of connector forest do not have (the header of ",
        "forest.csv: email, employeeId, givenName, sn), so it is always empty here",
        "warning: connectors.typo.settings: ",
        "no-such-file.csv does not exist",
        "warning: connectors.keyless.settings: the header of ",
        "the key column \"id\" is not in the header, which has: employeeId, name",
        "warning: connectors.central.rules.export_flows.title: names directory attribute \"jobTitle\", which no connector of enterprise default gives",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    // What is there is not warned about: forest's other flows, central's file that its first
    // export creates, central's flows of attributes that forest gives.
    for needle in [
        "import_flows.uid",
        "import_flows.displayName",
        "connectors.central.settings",
        "export_flows.email",
        "export_flows.externalId",
    ] {
        assert!(
            !stderr.contains(needle),
            "unexpected {needle:?} in:\n{stderr}"
        );
    }
    assert!(stdout.contains("4 warning(s)"), "{stdout}");

    let v = env.json(&["check"], 0);
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(4), "{v:#}");
    assert_eq!(
        v["warnings"][0]["path"],
        "connectors.central.rules.export_flows.title"
    );
}

#[test]
fn a_wrong_threshold_and_a_missing_kind_say_what_to_write_and_hide_nothing() {
    let env = Env::new();
    env.write(
        "ucsync.toml",
        r#"version = 1
[enterprises.default]
deletion_threshold = true
"#,
    );
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("enterprises.default.deletion_threshold: invalid type: boolean `true`, expected a count of objects such as 500, or a percentage of the directory's entries such as \"10%\""),
        "{stderr}"
    );
    assert!(!stderr.contains("untagged"), "{stderr}");

    env.write(
        "ucsync.toml",
        r#"version = 1
[connectors.a]
[connectors.a.settings]
path = "a.csv"
[connectors.b]
kind = "csv"
[connectors.b.settings]
path = "b.csv"
key = ["id"]
[connectors.b.rules.import_flows]
mail = 'lowercase(mail)'
"#,
    );
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "connectors.a.kind: missing; every connector names its kind, one of: ",
        "connectors.b.rules.import_flows.mail",
        "lowercase",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn check_reads_the_schema_of_a_reachable_ldap_server_and_only_warns_when_one_is_down() {
    let slapd = Slapd::start(SlapdOptions::default());
    // A port nobody listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let connector = |name: &str, url: &str, attributes: &str| {
        format!(
            r#"
[connectors.{name}]
kind = "ldap"
[connectors.{name}.settings]
url = "{url}"
bind_dn = "{dn}"
password = "{pw}"
base_dn = "{base}"
timeout_secs = 5
[[connectors.{name}.settings.object_types]]
name = "user"
base = "ou=people,{base}"
object_classes = ["inetOrgPerson"]
attributes = {attributes}
rdn = "uid"
[connectors.{name}.rules]
projection = {{ user = "person" }}
[connectors.{name}.rules.import_flows]
uid = "uid"
mail = "mail"
"#,
            dn = slapd.root_dn(),
            pw = slapd.root_pw(),
            base = slapd.suffix(),
        )
    };
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nsync_order = [\"up\", \"down\"]\n{}{}",
            connector("up", &slapd.uri(), r#"["uid", "cn", "mial"]"#),
            connector(
                "down",
                &format!("ldap://127.0.0.1:{down}"),
                r#"["uid", "cn", "mail"]"#
            ),
        ),
    );
    let out = env.run(&["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for needle in [
        // The schema has no "mial".
        "warning: connectors.up.settings: object type user (staged as mial): attribute \"mial\" is not in the schema of ldap://",
        // And the flow reads "mail", which the object type does not read.
        "warning: connectors.up.rules.import_flows.mail: names attribute \"mail\", which the objects of connector up do not have (the attributes its object types read: cn, dn, mial, objectClass, uid)",
        // The server that is down is not checked, and that is only a warning.
        "warning: connectors.down.settings: ",
        "the attributes were not checked against the server's schema",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    for needle in [
        "\"uid\" is not in the schema",
        "\"cn\" is not in the schema",
    ] {
        assert!(
            !stderr.contains(needle),
            "unexpected {needle:?} in:\n{stderr}"
        );
    }
}
