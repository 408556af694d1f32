//! The configuration as data: a file applied to the store prints what changed, the store's
//! configuration is used when no file is given, and an export applied to an empty store
//! exports identically, without secrets.

use crate::harness::{Env, forest_central_config, people};

/// The forest/central example plus an LDAP connector with a literal password and a schedule.
fn full_config() -> String {
    format!(
        "{}\n{}",
        forest_central_config("500", "", ""),
        r#"
[connectors.hq]
kind = "ldap"
enterprise = "hq"
[connectors.hq.settings]
url = "ldap://127.0.0.1:1"
bind_dn = "cn=sync,dc=example,dc=com"
password = "s3cret-Pa55"
base_dn = "dc=example,dc=com"
[[connectors.hq.settings.object_types]]
name = "contact"
base = "ou=Contacts,dc=example,dc=com"
object_classes = ["inetOrgPerson"]
attributes = ["cn", "sn", "mail"]
rdn = "cn"
[connectors.hq.rules]
projection = { contact = "person" }
[connectors.hq.rules.import_flows]
uid = "cn"

[enterprises.hq]

[schedules.nightly]
enterprise = "default"
when = "daily at 02:00"
time_zone = "Europe/Berlin"

[schedules.hq-delta]
connector = "hq"
profile = "delta-import"
when = "every 2 days at 1:30 AM from 2026-01-05"
enabled = false
"#
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_export_applied_to_an_empty_store_exports_the_same_without_secrets() {
    let env = Env::new();
    env.write("ucsync.toml", full_config());
    let out = env.run(&["config", "apply", "ucsync.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let applied = stdout(&out);
    for line in [
        "connector forest: added",
        "connector hq: added",
        "schedule nightly: added",
        "enterprise hq: added",
    ] {
        assert!(applied.contains(line), "missing {line:?} in:\n{applied}");
    }

    let out = env.run(&["config", "export", "--output", "first.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let first = env.read("first.toml");
    assert!(!first.contains("s3cret"), "a secret was exported:\n{first}");
    assert!(
        first.contains("password_env = \"UCSYNC_SECRET_HQ_PASSWORD\""),
        "{first}"
    );
    assert!(
        stderr(&out).contains("UCSYNC_SECRET_HQ_PASSWORD"),
        "the export says which variable to set: {}",
        stderr(&out)
    );
    assert!(first.contains("[schedules.nightly]"), "{first}");
    assert!(first.contains("base_dir = "), "{first}");

    // Into an empty store, then out again: the same text.
    let mut apply = env.command(&["config", "apply", "first.toml"]);
    apply.args(["--data-dir", env.path("empty").to_str().unwrap()]);
    let out = apply.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut export = env.command(&["config", "export"]);
    export.args(["--data-dir", env.path("empty").to_str().unwrap()]);
    let out = export.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), first);

    // Applied back to the store it came from, it changes nothing: the password is kept.
    let out = env.run(&["config", "apply", "first.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("already holds this configuration"),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["config", "export"]);
    assert_eq!(stdout(&out), first);
}

#[test]
fn a_file_given_at_start_is_applied_and_without_one_the_store_is_used() {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(5, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    let out = env.run(&["sync-now"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("connector forest: added"),
        "{}",
        stderr(&out)
    );

    // The same file again: nothing to say.
    let out = env.run(&["sync-now"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("applied"), "{}", stderr(&out));

    // A changed rule is named.
    env.write(
        "ucsync.toml",
        forest_central_config("500", "", "").replace(
            "department = \"department\"",
            "department = \"upper(department)\"",
        ),
    );
    let out = env.run(&["sync-now"]);
    assert!(
        stderr(&out).contains("connector forest: changed (rules)"),
        "{}",
        stderr(&out)
    );

    // No file: the store's configuration runs, from another directory.
    std::fs::remove_file(env.path("ucsync.toml")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ucsync"))
        .current_dir(elsewhere.path())
        .args([
            "--json",
            "--data-dir",
            env.path("data").to_str().unwrap(),
            "sync-now",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "success", "{report}");

    // An empty store and no file: say what to do.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ucsync"))
        .current_dir(elsewhere.path())
        .args(["--data-dir", "fresh", "sync-now"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--config"), "{}", stderr(&out));
}

#[test]
fn a_bad_schedule_is_named_by_its_key() {
    let env = Env::new();
    env.write(
        "ucsync.toml",
        format!(
            "{}\n[schedules.a]\nenterprise = \"default\"\nwhen = \"daily at 25:00\"\n\n[schedules.b]\nconnector = \"forest\"\nwhen = \"every 3 days at 2:00 AM\"\nprofile = \"delta-import\"\ntime_zone = \"Mars/Olympus\"\n\n[schedules.c]\nconnector = \"nope\"\nprofile = \"export\"\nwhen = \"cron 0 2 * * *\"\n",
            forest_central_config("500", "", "")
        ),
    );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for needle in [
        "schedules.a.when",
        "schedules.b.time_zone",
        "schedules.c.connector",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!env.path("data").exists());
}
