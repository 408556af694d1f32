//! Secrets at rest, through the binary: a literal connector password never reaches the files of
//! the data directory (the stored configuration is sealed with a key kept apart from the
//! database), runs still bind with it against a real slapd, the data directory and every file
//! in it are private to their user, a store written with clear-text secrets is sealed when
//! opened, the key rotates without a secret ever being left that no key opens, and a missing or
//! wrong key is a clear error that loses nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use ucsync_testkit::{Slapd, SlapdOptions};

use crate::harness::{Env, forest_central_config, people};
use crate::serve::{Server, admin, call, call_with};

/// The bind password of the test slapd's `cn=admin`: found nowhere it should not be.
const PASSWORD: &str = "Zq9-bind-Pa55-4711-secret";

/// A slapd whose `cn=admin` binds with [`PASSWORD`], holding one person.
fn slapd() -> Slapd {
    let s = Slapd::start(SlapdOptions {
        root_pw: PASSWORD.to_owned(),
        ..SlapdOptions::default()
    });
    let people = s.add_ou("people");
    s.ldapadd(&format!(
        "dn: uid=ann,{people}\nobjectClass: inetOrgPerson\nuid: ann\ncn: Ann Person\nsn: Person\n"
    ));
    s
}

/// The settings of an `ldap` connector reading `uri` with a literal password.
fn ldap_settings(uri: &str, base: &str, password: &str) -> Value {
    json!({
        "url": uri,
        "bind_dn": format!("cn=admin,{base}"),
        "password": password,
        "base_dn": base,
        "object_types": [{ "name": "user", "base": format!("ou=people,{base}"),
            "object_classes": ["inetOrgPerson"], "attributes": ["uid", "cn", "sn"], "rdn": "uid" }],
    })
}

/// A configuration with one `ldap` connector `hq` reading `uri` with a literal `password`.
fn ldap_config(uri: &str, base: &str, password: &str) -> String {
    format!(
        r#"version = 1

[connectors.hq]
kind = "ldap"
[connectors.hq.settings]
url = "{uri}"
bind_dn = "cn=admin,{base}"
password = "{password}"
base_dn = "{base}"
[[connectors.hq.settings.object_types]]
name = "user"
base = "ou=people,{base}"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn"]
rdn = "uid"
[connectors.hq.rules]
projection = {{ user = "person" }}
[connectors.hq.rules.import_flows]
uid = "uid"
sn = "sn"
"#
    )
}

/// `ucsync` on `env`'s data directory without a configuration file: the store's is used. Run
/// from an empty directory, so no `ucsync.toml` is found by default.
fn bare(env: &Env, args: &[&str]) -> Command {
    let cwd = env.path("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = Command::cargo_bin("ucsync").unwrap();
    cmd.current_dir(cwd)
        .arg("--data-dir")
        .arg(env.path("data"))
        .args(args)
        .env_remove("UCSYNC_LOG")
        .env_remove("UCSYNC_CONFIG")
        .env_remove("UCSYNC_SECRET_KEY_FILE")
        .env_remove("CREDENTIALS_DIRECTORY");
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn succeeds(cmd: &mut Command) -> Output {
    let out = output(cmd);
    assert!(out.status.success(), "{}", text(&out));
    out
}

fn fails(cmd: &mut Command) -> Output {
    let out = output(cmd);
    assert!(!out.status.success(), "expected a failure: {}", text(&out));
    out
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// No file of the data directory holds `secret` (the raw bytes, as a local user reading the
/// files would see them).
fn assert_no_trace(data: &Path, secret: &str) {
    let files = files_under(data);
    assert!(
        files.iter().any(|f| f.ends_with("ucsync.db")),
        "no store in {files:?}"
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the secret {secret:?} in clear",
            f.display()
        );
    }
}

/// The data directory and every directory in it are 0700, every file 0600.
fn assert_private(data: &Path) {
    fn walk(dir: &Path, wrong: &mut Vec<String>) {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        if mode != 0o700 {
            wrong.push(format!("{} is {mode:o}", dir.display()));
        }
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, wrong);
            } else {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                if mode != 0o600 {
                    wrong.push(format!("{} is {mode:o}", path.display()));
                }
            }
        }
    }
    let mut wrong = Vec::new();
    walk(data, &mut wrong);
    assert!(
        wrong.is_empty(),
        "not private to their user (want directories 700, files 600): {wrong:#?}"
    );
}

/// `ucsync secrets status --json`; it exits 0 exactly when the key found opens the store.
fn status(cmd: &mut Command) -> Value {
    let out = output(cmd);
    let st: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    assert_eq!(out.status.success(), st["opens"] == true, "{}", text(&out));
    st
}

/// A full import of `hq` from the store's configuration: it binds with the stored password.
fn import_binds(env: &Env, extra_env: &[(&str, &Path)]) {
    let mut cmd = bare(env, &["--json", "-vv", "run", "hq", "full-import"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = succeeds(&mut cmd);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "success", "{report:#}");
    assert!(
        !stderr(&out).contains(PASSWORD),
        "the password reached the log:\n{}",
        stderr(&out)
    );
}

#[test]
fn a_literal_password_never_reaches_the_data_directory_and_runs_still_bind_with_it() {
    let s = slapd();
    let env = Env::new();
    env.write("ucsync.toml", ldap_config(&s.uri(), s.suffix(), PASSWORD));
    succeeds(&mut env.command(&["config", "apply", "ucsync.toml"]));
    assert_no_trace(&env.path("data"), PASSWORD);

    // Without the file, the run takes the password out of the store, and binds with it.
    import_binds(&env, &[]);
    succeeds(&mut bare(&env, &["run", "hq", "full-sync"]));
    let out = succeeds(&mut bare(&env, &["--json", "directory", "search"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Person"));
    assert_no_trace(&env.path("data"), PASSWORD);

    // A run given the file applies it and binds too; still nothing in clear.
    let out = succeeds(&mut env.command(&["--json", "-vv", "run", "hq", "full-import"]));
    assert!(!stderr(&out).contains(PASSWORD), "{}", stderr(&out));
    assert_no_trace(&env.path("data"), PASSWORD);

    // The export stays without it.
    let out = succeeds(&mut bare(&env, &["config", "export"]));
    assert!(!text(&out).contains(PASSWORD), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_every_file_in_it_are_private_after_a_run_and_after_serve() {
    let s = slapd();
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(5, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    // A data directory made beforehand with the usual 755 is tightened.
    std::fs::create_dir_all(env.path("data")).unwrap();
    std::fs::set_permissions(env.path("data"), std::fs::Permissions::from_mode(0o755)).unwrap();
    succeeds(&mut env.command(&["sync-now"]));
    assert!(
        files_under(&env.path("data/status"))
            .iter()
            .any(|f| f.to_string_lossy().ends_with("-import-status.csv")),
        "the runs wrote status files"
    );
    assert_private(&env.path("data"));

    // A store and files that an older build left readable by everyone are tightened too.
    for f in ["data", "data/status"] {
        std::fs::set_permissions(env.path(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for f in files_under(&env.path("data")) {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let token = admin(&env, "alice", "admin");
    assert_private(&env.path("data"));

    // Serving: the store, its WAL and shared-memory files and the lock file are private while
    // it runs, and a password given over the API is in none of them.
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let hq = json!({
        "name": "hq",
        "kind": "ldap",
        "settings": ldap_settings(&s.uri(), s.suffix(), PASSWORD),
        "rules": { "projection": { "user": "person" }, "import_flows": { "uid": "uid" } },
    });
    let (code, body) = call_with(
        &http,
        "POST",
        &server.url("/api/v1/connectors"),
        Some(&token),
        Some(&hq),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (_, tested) = call(
        &http,
        "POST",
        &server.url("/api/v1/connectors/hq/test"),
        Some(&token),
    )
    .await;
    assert_eq!(tested["ok"], true, "{tested}");
    let running = files_under(&env.path("data"));
    for f in ["ucsync.db", "ucsync.db-wal", "ucsync.db-shm", "ucsync.lock"] {
        assert!(
            running.iter().any(|p| p.ends_with(f)),
            "no {f}: {running:?}"
        );
    }
    assert_private(&env.path("data"));
    assert_no_trace(&env.path("data"), PASSWORD);
    assert_eq!(server.stop(), Some(0));
    assert_private(&env.path("data"));
    assert_no_trace(&env.path("data"), PASSWORD);

    // Started again from the store alone, the server still binds with the password.
    let server = Server::start_command(bare(&env, &["serve", "--listen", "127.0.0.1:0"]));
    let (_, tested) = call(
        &http,
        "POST",
        &server.url("/api/v1/connectors/hq/test"),
        Some(&token),
    )
    .await;
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(server.stop(), Some(0));
    assert_private(&env.path("data"));
}

const OLD_MIGRATIONS: [&str; 3] = [
    include_str!("../../../ucsync-store/migrations/0001_initial.sql"),
    include_str!("../../../ucsync-store/migrations/0002_admins.sql"),
    include_str!("../../../ucsync-store/migrations/0003_config.sql"),
];

/// A store as ucsync wrote it before secrets were sealed: schema version 3, the configuration
/// as clear TOML in `config`, saved once per text as the old `put_config_text` saved it (so the
/// text replaced lingers in the file's free space).
async fn old_store(data: &Path, texts: &[String]) {
    std::fs::create_dir_all(data).unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data.join("ucsync.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    for (i, sql) in OLD_MIGRATIONS.iter().enumerate() {
        sqlx::raw_sql(*sql).execute(&mut conn).await.unwrap();
        sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
            .bind(i as i64 + 1)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for t in texts {
        sqlx::query(
            "INSERT INTO config (id, text, updated_at) VALUES (1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
        )
        .bind(t)
        .bind("2026-01-05T02:00:00Z")
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
}

fn holds(path: &Path, needle: &[u8]) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_written_with_clear_text_secrets_is_sealed_when_opened() {
    let s = slapd();
    let env = Env::new();
    let stale = "Stale-Pa55-0815";
    old_store(
        &env.path("data"),
        &[
            // A longer text first: the shorter one that replaces it leaves its start behind.
            format!(
                "{}\n# {}\n",
                ldap_config(&s.uri(), s.suffix(), stale),
                "-".repeat(1000)
            ),
            ldap_config(&s.uri(), s.suffix(), PASSWORD),
        ],
    )
    .await;
    let db = env.path("data/ucsync.db");
    assert!(holds(&db, PASSWORD.as_bytes()), "the old store holds it");
    assert!(
        holds(&db, stale.as_bytes()),
        "the old store still holds the text it replaced in its free space"
    );

    // The first command that opens it seals it; the run binds with the password it kept.
    import_binds(&env, &[]);
    assert_no_trace(&env.path("data"), PASSWORD);
    assert_no_trace(&env.path("data"), stale);
    let key = env.path("data/secret.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    assert_private(&env.path("data"));
    let st = status(&mut bare(&env, &["--json", "secrets", "status"]));
    assert_eq!(st["opens"], true, "{st:#}");

    // Opened again, nothing more happens: still sealed, still readable.
    import_binds(&env, &[]);
    let out = succeeds(&mut bare(&env, &["config", "export"]));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("password_env = \"UCSYNC_SECRET_HQ_PASSWORD\""),
        "{}",
        text(&out)
    );
}

/// The sealed configuration as the store holds it.
async fn sealed_blob(data: &Path) -> Vec<u8> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data.join("ucsync.db"));
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let blob: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM config WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    blob
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_every_secret_readable_and_the_old_key_opens_nothing() {
    let s = slapd();
    let env = Env::new();
    env.write("ucsync.toml", ldap_config(&s.uri(), s.suffix(), PASSWORD));
    succeeds(&mut env.command(&["config", "apply", "ucsync.toml"]));
    let key = env.path("data/secret.key");
    let first = std::fs::read(&key).unwrap();
    env.write("old.key", &first);
    let before = status(&mut bare(&env, &["--json", "secrets", "status"]));
    let sealed_before = sealed_blob(&env.path("data")).await;

    let out = succeeds(&mut bare(&env, &["secrets", "rotate-key"]));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let second = std::fs::read(&key).unwrap();
    assert_eq!(second.len(), 32);
    assert_ne!(first, second, "a new key");
    let after = status(&mut bare(&env, &["--json", "secrets", "status"]));
    assert_ne!(before["key_id"], after["key_id"]);
    assert_eq!(after["sealed_with"], after["key_id"], "{after:#}");
    for id in [&before["key_id"], &after["key_id"]] {
        assert!(said.contains(id.as_str().unwrap()), "{said}");
    }
    assert!(said.contains("back it up"), "{said}");
    assert!(!env.path("data/secret.key.new").exists());
    assert_private(&env.path("data"));
    // The audit says the command line rotated the key, from which id to which.
    let audit = env.json(&["audit", "--limit", "1"], 0);
    let line = &audit["audit"][0];
    assert_eq!(
        (&line["administrator"], &line["action"]),
        (&json!("local"), &json!("secret-key-rotated")),
        "{audit}"
    );
    let detail = line["detail"].as_str().unwrap();
    for id in [&before["key_id"], &after["key_id"]] {
        assert!(detail.contains(id.as_str().unwrap()), "{detail}");
    }

    // Every secret still opens: the run binds with the stored password.
    import_binds(&env, &[]);
    // The old key opens nothing: not the store's configuration, and what it sealed is gone
    // from the files.
    let out =
        fails(bare(&env, &["config", "export"]).env("UCSYNC_SECRET_KEY_FILE", env.path("old.key")));
    let err = stderr(&out);
    for needle in [
        after["key_id"].as_str().unwrap(),
        before["key_id"].as_str().unwrap(),
        "UCSYNC_SECRET_KEY_FILE",
        "old.key",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
    for f in files_under(&env.path("data")) {
        assert!(
            !holds(&f, &sealed_before[..32]),
            "{} still holds what the old key sealed",
            f.display()
        );
    }

    // A rotation cut short after the store was sealed with the new key but before the new key
    // file replaced the old one is finished by the next command that reads the secrets.
    std::fs::rename(&key, env.path("data/secret.key.new")).unwrap();
    std::fs::write(&key, &first).unwrap();
    import_binds(&env, &[]);
    assert_eq!(std::fs::read(&key).unwrap(), second);
    assert!(!env.path("data/secret.key.new").exists());
    assert_private(&env.path("data"));
}

#[test]
fn a_missing_or_wrong_key_is_a_clear_error_that_loses_nothing() {
    let env = Env::new();
    env.write(
        "ucsync.toml",
        ldap_config("ldap://127.0.0.1:1", "dc=example,dc=com", PASSWORD),
    );
    succeeds(&mut env.command(&["config", "apply", "ucsync.toml"]));
    let st = status(&mut bare(&env, &["--json", "secrets", "status"]));
    let id = st["key_id"].as_str().unwrap().to_owned();
    let key = env.path("data/secret.key");
    std::fs::rename(&key, env.path("kept.key")).unwrap();

    // Missing: reading or writing the configuration says which key it needs and what to do,
    // and makes no new key.
    for mut cmd in [
        bare(&env, &["config", "export"]),
        bare(&env, &["run", "hq", "full-import"]),
        env.command(&["config", "apply", "ucsync.toml"]),
    ] {
        let out = fails(&mut cmd);
        let err = stderr(&out);
        for needle in [
            id.as_str(),
            "secret.key",
            "backup",
            "UCSYNC_SECRET_KEY_FILE",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in: {err}");
        }
        assert!(
            !key.exists(),
            "a new key was made in place of the missing one"
        );
    }

    // Wrong: another key names both.
    env.write("wrong.key", [7u8; 32]);
    let out = fails(
        bare(&env, &["config", "export"]).env("UCSYNC_SECRET_KEY_FILE", env.path("wrong.key")),
    );
    let err = stderr(&out);
    assert!(err.contains(&id) && err.contains("wrong.key"), "{err}");
    let wrong = status(
        bare(&env, &["--json", "secrets", "status"])
            .env("UCSYNC_SECRET_KEY_FILE", env.path("wrong.key")),
    );
    assert_eq!(wrong["opens"], false, "{wrong:#}");
    assert!(err.contains(wrong["key_id"].as_str().unwrap()), "{err}");

    // Not a key at all.
    env.write("short.key", "not a key\n");
    let out = fails(
        bare(&env, &["config", "export"]).env("UCSYNC_SECRET_KEY_FILE", env.path("short.key")),
    );
    assert!(stderr(&out).contains("32"), "{}", stderr(&out));

    // Back in place, everything is there.
    std::fs::rename(env.path("kept.key"), &key).unwrap();
    let out = succeeds(&mut bare(&env, &["config", "export"]));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("password_env = \"UCSYNC_SECRET_HQ_PASSWORD\""),
        "{}",
        text(&out)
    );
    let out = succeeds(&mut env.command(&["config", "apply", "ucsync.toml"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already holds this configuration"),
        "{}",
        text(&out)
    );

    // Lost for good: resetting discards the sealed configuration, and only it.
    std::fs::remove_file(&key).unwrap();
    fails(&mut bare(&env, &["secrets", "reset"]));
    succeeds(&mut bare(
        &env,
        &["secrets", "reset", "--discard-configuration"],
    ));
    let out = succeeds(&mut env.command(&["config", "apply", "ucsync.toml"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("connector hq: added"),
        "{}",
        text(&out)
    );
    assert!(key.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_can_come_from_the_environment_or_systemd_credentials() {
    let s = slapd();
    let env = Env::new();
    env.write("ucsync.toml", ldap_config(&s.uri(), s.suffix(), PASSWORD));

    // A key file named by UCSYNC_SECRET_KEY_FILE that does not exist is an error, not a new key.
    let ext = env.path("keys/ucsync.key");
    let out = fails(
        env.command(&["config", "apply", "ucsync.toml"])
            .env("UCSYNC_SECRET_KEY_FILE", &ext),
    );
    assert!(
        stderr(&out).contains("UCSYNC_SECRET_KEY_FILE"),
        "{}",
        stderr(&out)
    );
    assert!(!ext.exists());

    // 64 hex digits (as `openssl rand -hex 32` writes them) are a key too.
    env.write("keys/ucsync.key", format!("{}\n", "5e".repeat(32)));
    std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o600)).unwrap();
    succeeds(
        env.command(&["config", "apply", "ucsync.toml"])
            .env("UCSYNC_SECRET_KEY_FILE", &ext),
    );
    assert!(
        !env.path("data/secret.key").exists(),
        "no key beside the store"
    );
    import_binds(&env, &[("UCSYNC_SECRET_KEY_FILE", &ext)]);
    fails(&mut bare(&env, &["config", "export"]));

    // systemd credentials: $CREDENTIALS_DIRECTORY/ucsync-secret-key.
    env.write("creds/ucsync-secret-key", std::fs::read(&ext).unwrap());
    import_binds(&env, &[("CREDENTIALS_DIRECTORY", &env.path("creds"))]);

    // A credential cannot be replaced by ucsync: rotating needs the new key given, and then
    // the credential is installed by its owner.
    let out = fails(
        bare(&env, &["secrets", "rotate-key"]).env("CREDENTIALS_DIRECTORY", env.path("creds")),
    );
    assert!(stderr(&out).contains("--new-key-file"), "{}", stderr(&out));
    env.write("new.key", [42u8; 32]);
    let out = succeeds(
        bare(&env, &["secrets", "rotate-key", "--new-key-file"])
            .arg(env.path("new.key"))
            .env("CREDENTIALS_DIRECTORY", env.path("creds")),
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ucsync-secret-key"),
        "{}",
        text(&out)
    );
    fails(bare(&env, &["config", "export"]).env("CREDENTIALS_DIRECTORY", env.path("creds")));
    env.write("creds/ucsync-secret-key", [42u8; 32]);
    import_binds(&env, &[("CREDENTIALS_DIRECTORY", &env.path("creds"))]);
}
