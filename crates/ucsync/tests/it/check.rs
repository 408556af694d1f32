//! `ucsync check` lists every problem with its key path, and exits 2.

use crate::harness::Env;

#[test]
fn check_reports_every_problem_with_its_path() {
    let env = Env::new();
    env.write(
        "ucsync.toml",
        r#"version = 1
[enterprises.default]
sync_order = ["a", "nope"]
deletion_threshold = "150%"
[connectors.a]
kind = "csv"
colour = "blue"
[connectors.a.settings]
path = "a.csv"
key = ["id"]
delimeter = ";"
[connectors.a.rules]
scope = 'department = "x"'
[connectors.a.rules.import_flows]
mail = 'lowercase(mail)'
[connectors.b]
kind = "ldapp"
"#,
    );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "connectors.a.colour: unknown key; allowed here: enterprise, kind, settings, rules, character_rule",
        "connectors.a.settings.delimeter",
        "connectors.a.rules.scope",
        "connectors.a.rules.import_flows.mail",
        "lowercase",
        "connectors.b.kind: unknown kind \"ldapp\"",
        "enterprises.default.sync_order[1]",
        "enterprises.default.deletion_threshold",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn a_valid_config_checks_ok_and_a_bad_one_never_runs() {
    let env = Env::new();
    env.write("ucsync.toml", "version = 2\n");
    let out = env.run(&["sync-now"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version"));
    assert!(
        !env.path("data").exists(),
        "a bad configuration must not create a store"
    );

    env.write(
        "ucsync.toml",
        crate::harness::forest_central_config("500", "", ""),
    );
    let out = env.run(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = env.run(&["run", "forest", "sideways-import"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("full-import"));
}

#[test]
fn an_enterprise_uses_one_type_of_synchronizer() {
    let env = Env::new();
    let connectors = r#"
[connectors.dir]
kind = "ldap"
[connectors.dir.settings]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=admin,dc=example,dc=com"
password = "x"
[[connectors.dir.settings.object_types]]
name = "person"
base = "ou=People,dc=example,dc=com"
[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
"#;
    env.write("ucsync.toml", format!("version = 1\n{connectors}"));
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("enterprises.default: enterprise default has LDAP synchronizers (dir) and PBX node synchronizers (node)"),
        "{err}"
    );

    env.write(
        "ucsync.toml",
        format!("version = 1\n[enterprises.default]\nsynchronizers = \"pbx\"\n{connectors}"),
    );
    let err = String::from_utf8_lossy(&env.run(&["check"]).stderr).into_owned();
    assert!(
        err.contains("connectors.dir.kind: enterprise default uses pbx synchronizers"),
        "{err}"
    );
    assert!(!err.contains("connectors.node.kind"), "{err}");

    env.write(
        "ucsync.toml",
        format!("version = 1\n[enterprises.default]\nsynchronizers = \"sip\"\n{connectors}"),
    );
    let err = String::from_utf8_lossy(&env.run(&["check"]).stderr).into_owned();
    assert!(
        err.contains("enterprises.default.synchronizers: \"sip\" is not a synchronizer type; allowed: ldap, pbx"),
        "{err}"
    );
}
