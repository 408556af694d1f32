//! A password change ends the sessions signed in with the old password (the tokens that
//! `POST /api/v1/login` gave), over the API and with the local CLI; tokens made for automation
//! stay, and an administrator who changes their own password keeps the session they changed
//! it from. The label of signed-in sessions is not given to made tokens.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::serve::{Server, admin, call, call_with, setup};

async fn login(http: &reqwest::Client, server: &Server, name: &str, password: &str) -> String {
    let body = json!({ "name": name, "password": password });
    let (status, answer) = call_with(
        http,
        "POST",
        &server.url("/api/v1/login"),
        None,
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["token"].as_str().unwrap().to_owned()
}

/// The status a token gets for a read it is allowed.
async fn reads(http: &reqwest::Client, server: &Server, token: &str) -> StatusCode {
    call(http, "GET", &server.url("/api/v1/runs"), Some(token))
        .await
        .0
}

/// Changes an administrator (`PUT /api/v1/admins/{name}`) as `token`, which must succeed.
async fn change_admin(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    name: &str,
    change: Value,
) {
    let url = server.url(&format!("/api/v1/admins/{name}"));
    let (status, body) = call_with(http, "PUT", &url, Some(token), Some(&change)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn changes(audit: &Value, admin: &str) -> Vec<String> {
    audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "admin-changed" && l["object"] == format!("admin {admin}"))
        .map(|l| l["detail"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn a_password_change_ends_the_sessions_signed_in_with_the_old_one() {
    let (env, [_, _, alice_made]) = setup(5);
    let olga_made = admin(&env, "olga", "operator");
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let url = |p: &str| server.url(p);

    // Another administrator changes olga's password: both of her sessions end, her made token
    // stays.
    let o1 = login(&http, &server, "olga", "olga-password").await;
    let o2 = login(&http, &server, "olga", "olga-password").await;
    assert_eq!(reads(&http, &server, &o1).await, StatusCode::OK);
    change_admin(
        &http,
        &server,
        &alice_made,
        "olga",
        json!({ "password": "olga-new-passphrase" }),
    )
    .await;
    for t in [&o1, &o2] {
        assert_eq!(reads(&http, &server, t).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(reads(&http, &server, &olga_made).await, StatusCode::OK);

    // Changing her own, alice keeps the session she changed it from; her other one ends.
    let a1 = login(&http, &server, "alice", "alice-password").await;
    let a2 = login(&http, &server, "alice", "alice-password").await;
    change_admin(
        &http,
        &server,
        &a1,
        "alice",
        json!({ "password": "alice-new-passphrase" }),
    )
    .await;
    assert_eq!(reads(&http, &server, &a1).await, StatusCode::OK);
    assert_eq!(reads(&http, &server, &a2).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reads(&http, &server, &alice_made).await, StatusCode::OK);
    // A role change alone ends nothing.
    let o3 = login(&http, &server, "olga", "olga-new-passphrase").await;
    change_admin(&http, &server, &a1, "olga", json!({ "role": "viewer" })).await;
    assert_eq!(reads(&http, &server, &o3).await, StatusCode::OK);

    // The audit says how many sessions ended.
    let (_, audit) = call(&http, "GET", &url("/api/v1/audit"), Some(&a1)).await;
    let olga = changes(&audit, "olga");
    assert!(
        olga.contains(&"password changed; 2 signed-in sessions ended".to_owned()),
        "{olga:?}"
    );
    assert!(
        olga.contains(&"role operator → viewer".to_owned()),
        "{olga:?}"
    );
    let alice = changes(&audit, "alice");
    assert_eq!(alice, ["password changed; 1 signed-in session ended"]);

    // A made token cannot take the label of signed-in sessions.
    let label = json!({ "label": "login" });
    let (status, body) = call_with(
        &http,
        "POST",
        &url("/api/v1/admins/olga/tokens"),
        Some(&a1),
        Some(&label),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("signed-in sessions"),
        "{body}"
    );
    server.stop();

    // The local CLI: a new password for olga ends her session; `--label login` is refused.
    let out = env
        .command(&["admin", "add", "olga", "--role", "viewer"])
        .env("UCSYNC_ADMIN_PASSWORD", "olga-third-passphrase")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = env.run(&["admin", "token", "olga", "--label", "login"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed-in sessions"));
    let server = Server::start(&env);
    assert_eq!(reads(&http, &server, &o3).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reads(&http, &server, &olga_made).await, StatusCode::OK);
    let audit = env.json(&["audit"], 0);
    let olga = changes(&audit, "olga");
    assert_eq!(
        olga.first().map(String::as_str),
        Some("password changed; 1 signed-in session ended"),
        "{olga:?}"
    );
    server.stop();
}
