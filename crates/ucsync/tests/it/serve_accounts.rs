//! Over the API: each connector's last import, sync and export; an account's hand-added numbers
//! and dynamic statuses; deleting a connector with the entries it owns. The CLI does the same
//! through `--server`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::serve::{Server, call, call_with, setup};
use crate::serve_read::run;

async fn send(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
) -> (StatusCode, Value) {
    call_with(http, method, &server.url(path), Some(token), None).await
}

/// A change the API refuses for what it asks, saying why.
fn refused((status, body): (StatusCode, Value), because: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains(because), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_runs_account_data_and_connector_deletion_over_the_api() {
    let (env, [viewer, operator, admin]) = setup(20);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    run(&http, &server, &operator, None).await;

    // Last-sync status per connector.
    let (status, list) = call(
        &http,
        "GET",
        &server.url("/api/v1/connectors"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let by_name = |name: &str| -> Value {
        list["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    let forest = by_name("forest");
    assert_eq!(
        forest["last"]["import"]["counters"]["added"], 20,
        "{forest}"
    );
    assert_eq!(forest["last"]["sync"]["status"], "success");
    assert!(forest["last"]["sync"]["ended_at"].is_string());
    assert_eq!(
        by_name("central")["last"]["export"]["counters"]["added"],
        20
    );
    let (_, one) = call(
        &http,
        "GET",
        &server.url("/api/v1/connectors/forest"),
        Some(&viewer),
    )
    .await;
    assert_eq!(one["last"], forest["last"]);

    // An account's own data: numbers added by hand, dynamic statuses.
    let url = |p: &str| server.url(p);
    let (status, body) = send(
        &http,
        &server,
        &operator,
        "PUT",
        "/api/v1/directory/1/numbers/5550100",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["manual_numbers"], json!(["5550100"]));
    let (status, body) = call_with(
        &http,
        "PUT",
        &url("/api/v1/directory/1/statuses/In%20a%20meeting"),
        Some(&operator),
        Some(&json!({ "make_call_from": "5550100" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["dynamic_statuses"],
        json!([{ "name": "In a meeting", "make_call_from": "5550100" }])
    );
    refused(
        send(
            &http,
            &server,
            &operator,
            "PUT",
            "/api/v1/directory/1/numbers/12ab",
        )
        .await,
        "'a' is not allowed",
    );
    refused(
        send(
            &http,
            &server,
            &operator,
            "DELETE",
            "/api/v1/directory/1/statuses/Away",
        )
        .await,
        "its statuses are: In a meeting",
    );
    let (status, _) = send(
        &http,
        &server,
        &operator,
        "PUT",
        "/api/v1/directory/999999/numbers/1",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, entry) = call(&http, "GET", &url("/api/v1/directory/1"), Some(&viewer)).await;
    assert_eq!(
        entry["attributes"]["manualNumber"]["values"],
        json!(["5550100"])
    );
    assert_eq!(entry["attributes"]["manualNumber"]["source"], Value::Null);
    assert_eq!(
        entry["attributes"]["dynamicStatus"]["values"],
        json!(["In a meeting=5550100"])
    );

    // The CLI through the server.
    let remote = ["--server", &server.url(""), "--token", &operator];
    let mut args = remote.to_vec();
    args.extend(["account", "number", "add", "1", "5550101"]);
    let out = env.json(&args, 0);
    assert_eq!(out["manual_numbers"], json!(["5550100", "5550101"]));
    let mut args = remote.to_vec();
    args.extend(["connector", "status", "forest"]);
    let out = env.json(&args, 0);
    assert_eq!(out[0]["last"]["import"]["counters"]["added"], 20, "{out}");

    // Deleting the forest: a preview first, then for real; its 20 people go.
    let (status, preview) = send(
        &http,
        &server,
        &admin,
        "DELETE",
        "/api/v1/connectors/forest?preview=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["report"]["preview"], true);
    let (_, still) = call(
        &http,
        "GET",
        &url("/api/v1/directory?limit=1000"),
        Some(&viewer),
    )
    .await;
    assert_eq!(still["entries"].as_array().unwrap().len(), 20);
    let (status, done) = send(
        &http,
        &server,
        &admin,
        "DELETE",
        "/api/v1/connectors/forest?allow_deletes=0",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["report"]["status"], "success", "{done}");
    assert!(
        done["report"]["message"]
            .as_str()
            .unwrap()
            .contains("20 entries it owned deleted"),
        "{done}"
    );
    assert_eq!(
        done["changes"],
        json!([
            "enterprise default: changed (sync_order)",
            "connector forest: removed"
        ]),
        "{done}"
    );
    let (_, left) = call(
        &http,
        "GET",
        &url("/api/v1/directory?limit=1000"),
        Some(&viewer),
    )
    .await;
    assert_eq!(left["entries"], json!([]), "{left}");
    let (_, list) = call(&http, "GET", &url("/api/v1/connectors"), Some(&viewer)).await;
    let names: Vec<&Value> = list["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, ["central"]);
    // The audit names alice for the deletion and for the configuration it changed; the
    // preview left no line.
    let (_, audit) = call(&http, "GET", &url("/api/v1/audit"), Some(&admin)).await;
    let by_alice: Vec<(&str, &str)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["administrator"] == "alice")
        .map(|l| (l["action"].as_str().unwrap(), l["object"].as_str().unwrap()))
        .collect();
    assert_eq!(
        by_alice[..3],
        [
            ("config-applied", "configuration"),
            ("connector-deleted", "connector forest"),
            ("run-started", &*format!("run {}", done["report"]["run_id"])),
        ],
        "{audit}"
    );
    let (status, _) = send(
        &http,
        &server,
        &admin,
        "DELETE",
        "/api/v1/connectors/forest",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
