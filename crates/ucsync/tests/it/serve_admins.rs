//! Administrators and API tokens managed through a running server, by the admin role only, and
//! the audit of who changed what and who started which run. The CLI does the same through
//! `--server`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::forest_central_config;
use crate::serve::{Server, call, call_with, setup, wait_for_run};

/// Every answer and audit line is checked for these: no secret ever leaves the server.
fn no_secret(text: &str, secrets: &[&str]) {
    for s in secrets
        .iter()
        .chain(["$argon2", "password_hash", "token_hash"].iter())
    {
        assert!(!text.contains(s), "{s:?} in {text}");
    }
}

fn lines<'a>(audit: &'a Value, action: &str) -> Vec<&'a Value> {
    audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_tokens_and_the_audit_over_the_api() {
    let (env, [viewer, operator, admin]) = setup(5);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let url = |p: &str| server.url(p);

    // Only the admin role: others get 403 naming their role, no token 401.
    let olga = json!({ "role": "operator", "password": "olga-passphrase" });
    for (method, path) in [
        ("GET", "/api/v1/admins"),
        ("PUT", "/api/v1/admins/olga"),
        ("DELETE", "/api/v1/admins/vera"),
        ("GET", "/api/v1/admins/vera/tokens"),
        ("POST", "/api/v1/admins/vera/tokens"),
        ("DELETE", "/api/v1/tokens/1"),
        ("GET", "/api/v1/audit"),
    ] {
        for (role, token) in [("viewer", &viewer), ("operator", &operator)] {
            let (status, body) =
                call_with(&http, method, &url(path), Some(token), Some(&olga)).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{role} {method} {path}: {body}"
            );
            assert!(body["error"].as_str().unwrap().contains(role), "{body}");
        }
        let (status, _) = call_with(&http, method, &url(path), None, Some(&olga)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }

    // The admin adds an operator, who has no token yet.
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/olga"),
        Some(&admin),
        Some(&olga),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["role"], "operator");
    let (status, list) = call(&http, "GET", &url("/api/v1/admins"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    no_secret(&list.to_string(), &["olga-passphrase"]);
    let names: Vec<(&str, &str, i64)> = list["admins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["role"].as_str().unwrap(),
                a["token_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("alice", "admin", 1),
            ("olga", "operator", 0),
            ("otto", "operator", 1),
            ("vera", "viewer", 1)
        ]
    );
    // A new administrator needs both role and password; a short password is refused.
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/nobody"),
        Some(&admin),
        Some(&json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("password"),
        "{body}"
    );
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/olga"),
        Some(&admin),
        Some(&json!({ "password": "short" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("8 characters"),
        "{body}"
    );
    // `local` and `scheduler` are the audit's, not an administrator's.
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/scheduler"),
        Some(&admin),
        Some(&olga),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("choose another"),
        "{body}"
    );
    // A password of the wrong type is refused without being quoted back.
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/nobody"),
        Some(&admin),
        Some(&json!({ "role": "viewer", "password": 91827364 })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("all strings"),
        "{body}"
    );
    no_secret(&body.to_string(), &["91827364"]);

    // A token for her, shown once; listed without the token.
    let (status, created) = call_with(
        &http,
        "POST",
        &url("/api/v1/admins/olga/tokens"),
        Some(&admin),
        Some(&json!({ "label": "ci" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let olga_token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["id"].as_i64().unwrap();
    let (_, tokens) = call(
        &http,
        "GET",
        &url("/api/v1/admins/olga/tokens"),
        Some(&admin),
    )
    .await;
    assert_eq!(tokens["tokens"].as_array().unwrap().len(), 1, "{tokens}");
    assert_eq!(tokens["tokens"][0]["id"], token_id);
    assert_eq!(tokens["tokens"][0]["label"], "ci");
    assert!(tokens["tokens"][0]["token"].is_null(), "{tokens}");
    no_secret(&tokens.to_string(), &[&olga_token]);

    // Her token has operator rights: it starts a run, recorded as hers, and no more.
    let (status, body) = call(
        &http,
        "POST",
        &url("/api/v1/enterprises/default/sync-now"),
        Some(&olga_token),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run_id = body["run_id"].as_i64().unwrap();
    let run = wait_for_run(&http, &server, &olga_token, run_id).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["started_by"], "olga", "{run}");
    assert!(
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["started_by"] == "olga"),
        "{run}"
    );
    let (status, _) = call(&http, "GET", &url("/api/v1/admins"), Some(&olga_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The admin applies a configuration (a lower deletion threshold).
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/config"),
        Some(&admin),
        Some(&Value::String(forest_central_config("400", "", ""))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body["changes"].as_array().unwrap().is_empty(), "{body}");

    // Revoked, her token stops working.
    let (status, body) = call(
        &http,
        "DELETE",
        &url(&format!("/api/v1/tokens/{token_id}")),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked"]["admin"], "olga");
    let (status, body) = call(&http, "GET", &url("/api/v1/runs"), Some(&olga_token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = call(
        &http,
        "DELETE",
        &url(&format!("/api/v1/tokens/{token_id}")),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The last administrator with the admin role can be neither removed nor demoted.
    let (status, body) = call(&http, "DELETE", &url("/api/v1/admins/alice"), Some(&admin)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("alice is the last administrator with the admin role"),
        "{body}"
    );
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/admins/alice"),
        Some(&admin),
        Some(&json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = call(&http, "GET", &url("/api/v1/admins"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    // Another administrator goes, with her tokens.
    let (status, body) = call(&http, "DELETE", &url("/api/v1/admins/olga"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &http,
        "GET",
        &url("/api/v1/admins/olga/tokens"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The audit names who did what, newest first, and never a secret.
    let (status, audit) = call(&http, "GET", &url("/api/v1/audit"), Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    no_secret(
        &audit.to_string(),
        &["olga-passphrase", &olga_token, &admin],
    );
    let config = lines(&audit, "config-applied");
    assert_eq!(config[0]["administrator"], "alice", "{audit}");
    assert_eq!(config[0]["object"], "configuration");
    assert!(
        config[0]["detail"]
            .as_str()
            .unwrap()
            .contains("enterprise default"),
        "{audit}"
    );
    // The file `serve` applied at its start is `local`'s.
    assert_eq!(config.last().unwrap()["administrator"], "local", "{audit}");
    let started = lines(&audit, "run-started");
    assert_eq!(started.len(), 1, "{audit}");
    assert_eq!(started[0]["administrator"], "olga");
    assert_eq!(started[0]["object"], format!("run {run_id}"));
    for (action, object) in [
        ("admin-added", "admin olga"),
        ("token-created", &*format!("token {token_id}")),
        ("token-revoked", &*format!("token {token_id}")),
        ("admin-removed", "admin olga"),
    ] {
        let found = lines(&audit, action);
        assert!(
            found
                .iter()
                .any(|l| l["object"] == object && l["administrator"] == "alice"),
            "{action} {object}: {audit}"
        );
    }
    // Administrators added on the command line before the server started are `local`'s.
    assert!(
        lines(&audit, "admin-added")
            .iter()
            .any(|l| l["object"] == "admin vera" && l["administrator"] == "local"),
        "{audit}"
    );
    let newest = audit["audit"][0]["id"].as_i64().unwrap();
    let oldest = audit["audit"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    assert!(newest > oldest);
    let (_, one) = call(&http, "GET", &url("/api/v1/audit?limit=1"), Some(&admin)).await;
    assert_eq!(one["audit"].as_array().unwrap().len(), 1);
    assert_eq!(one["audit"][0]["id"], newest);

    // Runs say who started them, on the command line too.
    let remote = ["--server", &server.url(""), "--token", &viewer];
    let mut args = remote.to_vec();
    args.push("runs");
    let out = env.run(&args);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("olga"), "{text}");

    // After the server stops, the local store has the same audit.
    assert_eq!(server.stop(), Some(0));
    let local = env.json(&["audit"], 0);
    assert_eq!(lines(&local, "run-started")[0]["administrator"], "olga");
    let out = env.run(&["runs", "show", &run_id.to_string()]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("by olga"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_administrators_through_the_server() {
    let (env, [_viewer, operator, admin]) = setup(5);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let base = server.url("");
    let as_admin = |args: &[&str]| {
        let mut all = vec!["--server", &base, "--token", &admin];
        all.extend_from_slice(args);
        env.command(&all)
            .env("UCSYNC_ADMIN_PASSWORD", "carl-passphrase")
            .output()
            .unwrap()
    };
    let json_of = |out: std::process::Output| -> Value {
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };

    // Add, list, token: the token works with the role given.
    let out = as_admin(&["admin", "add", "carl", "--role", "viewer"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("administrator carl (viewer)"));
    let list = json_of(as_admin(&["--json", "admin", "list"]));
    let carl = list["admins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "carl")
        .cloned()
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(
        (carl["role"].as_str(), carl["token_count"].as_i64()),
        (Some("viewer"), Some(0))
    );
    let out = as_admin(&["admin", "token", "carl", "--label", "laptop"]);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("ucs_"), "{token}");
    let (status, _) = call(&http, "GET", &server.url("/api/v1/runs"), Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &http,
        "POST",
        &server.url("/api/v1/enterprises/default/sync-now"),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Tokens are listed without the token; a revoked one is refused.
    let tokens = json_of(as_admin(&["--json", "admin", "tokens", "carl"]));
    assert_eq!(tokens["tokens"][0]["label"], "laptop", "{tokens}");
    no_secret(&tokens.to_string(), &[&token]);
    let id = tokens["tokens"][0]["id"].to_string();
    let out = as_admin(&["admin", "revoke", &id]);
    assert!(out.status.success(), "{out:?}");
    let (status, _) = call(&http, "GET", &server.url("/api/v1/runs"), Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The last admin stays; an operator may not manage administrators.
    let out = as_admin(&["admin", "remove", "alice"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("last administrator with the admin role"),
        "{out:?}"
    );
    let out = env.run(&["--server", &base, "--token", &operator, "admin", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
    let out = as_admin(&["admin", "remove", "carl"]);
    assert!(out.status.success(), "{out:?}");

    // The audit through the server names alice for each change.
    let audit = json_of(as_admin(&["--json", "audit", "--limit", "4"]));
    let actions: Vec<(&str, &str)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["administrator"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("alice", "admin-removed"),
            ("alice", "token-revoked"),
            ("alice", "token-created"),
            ("alice", "admin-added")
        ]
    );
    no_secret(&audit.to_string(), &["carl-passphrase", &token]);
    drop(server);

    // Without a server, the same commands work on the local store, as `local`.
    let local = |args: &[&str]| {
        env.command(args)
            .env("UCSYNC_ADMIN_PASSWORD", "dora-passphrase")
            .output()
            .unwrap()
    };
    assert!(
        local(&["admin", "add", "dora", "--role", "admin"])
            .status
            .success()
    );
    let out = local(&["admin", "token", "dora"]);
    assert!(out.status.success(), "{out:?}");
    let tokens = json_of(local(&["--json", "admin", "tokens", "dora"]));
    let id = tokens["tokens"][0]["id"].to_string();
    assert!(local(&["admin", "revoke", &id]).status.success());
    // With two admins, alice may go; then dora is the last.
    assert!(local(&["admin", "remove", "alice"]).status.success());
    let out = local(&["admin", "remove", "dora"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let audit = json_of(local(&["--json", "audit", "--limit", "4"]));
    let actions: Vec<(&str, &str)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["administrator"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("local", "admin-removed"),
            ("local", "token-revoked"),
            ("local", "token-created"),
            ("local", "admin-added")
        ]
    );
    // `config apply` on the local store is `local`'s, with the keys it changed.
    env.write("lower.toml", forest_central_config("300", "", ""));
    assert!(local(&["config", "apply", "lower.toml"]).status.success());
    let audit = json_of(local(&["--json", "audit", "--limit", "1"]));
    let line = &audit["audit"][0];
    assert_eq!(
        (&line["administrator"], &line["action"]),
        (&json!("local"), &json!("config-applied")),
        "{audit}"
    );
    assert!(
        line["detail"]
            .as_str()
            .unwrap()
            .contains("deletion_threshold"),
        "{audit}"
    );
}
