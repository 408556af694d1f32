//! The configuration over the API of a real `ucsync serve`: connectors and schedules created,
//! read, changed and deleted; problems named by key exactly as `ucsync check` names them;
//! secrets never shown; test connection.

use reqwest::StatusCode;
use serde_json::json;

use crate::serve::{Server, call, call_with, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_and_schedules_are_managed_through_the_api() {
    let (env, [viewer, operator, admin]) = setup(5);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let url = |p: &str| server.url(p);

    // Problems are named by key path, as in a file; nothing is changed.
    let bad = json!({
        "name": "hq",
        "kind": "ldap",
        "settings": { "url": "ldapp://nowhere", "base_dn": "dc=example,dc=com" },
        "rulez": {},
    });
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/connectors"),
        Some(&admin),
        Some(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"connectors.hq.rulez"), "{body}");
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("connectors.hq.settings")),
        "{body}"
    );
    let (_, list) = call(&http, "GET", &url("/api/v1/connectors"), Some(&viewer)).await;
    assert_eq!(list["connectors"].as_array().unwrap().len(), 2, "{list}");

    // A valid one, with a password that is never shown again. Port 1 refuses connections.
    let hq = json!({
        "name": "hq",
        "kind": "ldap",
        "settings": {
            "url": "ldap://127.0.0.1:1",
            "bind_dn": "cn=sync,dc=example,dc=com",
            "password": "s3cret-Pa55",
            "base_dn": "dc=example,dc=com",
            "object_types": [{ "name": "contact", "base": "ou=Contacts,dc=example,dc=com",
                "object_classes": ["inetOrgPerson"], "attributes": ["cn", "sn"], "rdn": "cn" }],
        },
        "rules": { "projection": { "contact": "person" }, "import_flows": { "uid": "cn" } },
    });
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/connectors"),
        Some(&operator),
        Some(&hq),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/connectors"),
        Some(&admin),
        Some(&hq),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let changes = body["changes"].to_string();
    assert!(changes.contains("connector hq: added"), "{body}");
    assert!(
        changes.contains("enterprise default: changed (sync_order)"),
        "a new connector joins its enterprise's sync order: {body}"
    );
    let (status, again) = call_with(
        &http,
        "POST",
        &url("/api/v1/connectors"),
        Some(&admin),
        Some(&hq),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let (status, shown) = call(&http, "GET", &url("/api/v1/connectors/hq"), Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!shown.to_string().contains("s3cret"), "{shown}");
    assert_eq!(shown["secrets_set"], json!(["password"]), "{shown}");
    let (_, exported) = call(&http, "GET", &url("/api/v1/config"), Some(&viewer)).await;
    assert!(!exported.to_string().contains("s3cret"), "{exported}");

    // Changed without its password: the password is kept (the export still replaces one).
    let mut changed = shown.clone();
    changed["settings"]["page_size"] = json!(250);
    for key in ["secrets_set", "character_rule"] {
        changed.as_object_mut().unwrap().remove(key);
    }
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/connectors/hq"),
        Some(&admin),
        Some(&changed),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changes"], json!(["connector hq: changed (settings)"]));
    let (_, shown) = call(&http, "GET", &url("/api/v1/connectors/hq"), Some(&viewer)).await;
    assert_eq!(shown["secrets_set"], json!(["password"]), "{shown}");
    assert_eq!(shown["settings"]["page_size"], 250, "{shown}");

    // Test connection: the forest file is there; nothing listens on port 1.
    let (status, ok) = call(
        &http,
        "POST",
        &url("/api/v1/connectors/forest/test"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["ok"], true, "{ok}");
    let (_, refused) = call(
        &http,
        "POST",
        &url("/api/v1/connectors/hq/test"),
        Some(&operator),
    )
    .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("127.0.0.1:1"),
        "{refused}"
    );

    // Schedules: a bad one is named by key; a good one shows its next due times.
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/schedules"),
        Some(&admin),
        Some(&json!({ "name": "hq-delta", "connector": "hq", "profile": "delta-import", "when": "daily at 7:99" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["problems"][0]["path"], "schedules.hq-delta.when",
        "{body}"
    );
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/schedules"),
        Some(&admin),
        Some(
            &json!({ "name": "hq-delta", "connector": "hq", "profile": "delta-import",
            "when": "daily at 7:30 PM", "time_zone": "America/New_York" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, s) = call(
        &http,
        "GET",
        &url("/api/v1/schedules/hq-delta"),
        Some(&viewer),
    )
    .await;
    let next: Vec<&str> = s["next_due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(next.len(), 3, "{s}");
    for due in &next {
        assert!(due.contains("T19:30:00-0"), "19:30 New York time: {s}");
        assert!(due.ends_with("[America/New_York]"), "{s}");
    }

    // Disabled: no next due time. A connector a schedule runs cannot be deleted.
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/schedules/hq-delta"),
        Some(&admin),
        Some(
            &json!({ "connector": "hq", "profile": "delta-import", "when": "daily at 7:30 PM",
            "time_zone": "America/New_York", "enabled": false }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, s) = call(
        &http,
        "GET",
        &url("/api/v1/schedules/hq-delta"),
        Some(&viewer),
    )
    .await;
    assert_eq!(s["enabled"], false);
    assert_eq!(s["next_due"], json!([]), "{s}");
    let (status, body) = call(&http, "DELETE", &url("/api/v1/connectors/hq"), Some(&admin)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("hq-delta"),
        "{body}"
    );
    let (status, _) = call(
        &http,
        "DELETE",
        &url("/api/v1/schedules/hq-delta"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call(&http, "DELETE", &url("/api/v1/connectors/hq"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(&http, "GET", &url("/api/v1/connectors/hq"), Some(&viewer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The store kept every change: after a restart the server has the same configuration.
    let (_, before) = call(&http, "GET", &url("/api/v1/config"), Some(&viewer)).await;
    assert_eq!(server.stop(), Some(0));
    std::fs::remove_file(env.path("ucsync.toml")).unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ucsync"));
    cmd.current_dir(env.path(""))
        .args(["--data-dir", env.path("data").to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start_command(cmd);
    let (_, after) = call(&http, "GET", &server.url("/api/v1/config"), Some(&viewer)).await;
    assert_eq!(before["toml"], after["toml"]);
}

/// The CLI against a server over HTTPS: `--server URL --token T` runs Sync Now there, lists
/// runs and exports the configuration; a local command that would write the store refuses and
/// names the server. A client that does not trust the certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_against_a_server_over_https() {
    let (env, [viewer, operator, _]) = setup(30);
    let tls = ucsync_testkit::tls::generate(&env.path("tls")).unwrap();
    let mut cmd = env.command(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.arg("--tls-cert")
        .arg(&tls.server_cert)
        .arg("--tls-key")
        .arg(&tls.server_key);
    let server = Server::start_command(cmd);
    let base = server.url("");
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");

    let remote = |token: &str, args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ucsync"));
        cmd.current_dir(env.path(""))
            .args(["--server", &base, "--token", token, "--ca-cert"])
            .arg(&tls.ca_cert)
            .args(args);
        cmd.output().unwrap()
    };
    let out = remote(&viewer, &["healthcheck", "--url", &base]);
    assert!(out.status.success(), "{out:?}");
    let out = remote(&operator, &["--json", "sync-now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["run"]["status"], "success", "{report}");
    assert_eq!(env.read("central.csv").lines().count(), 31);

    let out = remote(&viewer, &["--json", "runs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["profile"] == "sync-now"),
        "{runs}"
    );

    // A viewer may not start runs: the server's answer is shown, exit 2.
    let out = remote(&viewer, &["sync-now"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );

    let out = remote(&viewer, &["config", "export"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("[connectors.forest]"));

    // Without the CA, the certificate is not trusted.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin!("ucsync"))
        .args(["--server", &base, "--token", &viewer, "runs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // The local store is the server's: a local run refuses and says where to go.
    let out = env.run(&["sync-now"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("--server {base}")), "{err}");
}
