//! The read side of `ucsync serve` over real HTTP after real runs: directory search and show
//! (the same answers as `ucsync directory search|show`), status-file downloads, and the
//! Prometheus metrics with their values.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::people;
use crate::serve::{Server, call, call_with, setup, step_with_status_file, wait_for_run};

async fn get(http: &reqwest::Client, server: &Server, path: &str, token: &str) -> Value {
    let (status, body) = call(http, "GET", &server.url(path), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// Starts a run (Sync Now, or a profile on a connector) as the operator and waits for it.
pub(crate) async fn run(
    http: &reqwest::Client,
    server: &Server,
    operator: &str,
    connector_profile: Option<(&str, &str)>,
) -> Value {
    let (path, body) = match connector_profile {
        None => ("/api/v1/enterprises/default/sync-now".to_owned(), json!({})),
        Some((c, p)) => (
            format!("/api/v1/connectors/{c}/runs"),
            json!({ "profile": p }),
        ),
    };
    let (status, answer) = call_with(
        http,
        "POST",
        &server.url(&path),
        Some(operator),
        Some(&body),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "POST {path}: {answer}");
    let run = wait_for_run(http, server, operator, answer["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "success", "{run}");
    run
}

fn ids(entries: &Value) -> Vec<i64> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_search_and_show_answer_as_the_cli_does() {
    let (env, [viewer, operator, _]) = setup(20);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    run(&http, &server, &operator, None).await;

    // Case-insensitive, in any value; the CLI answers the same entries.
    let found = get(&http, &server, "/api/v1/directory?q=gIVEN1", &viewer).await;
    let entries = found["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["attributes"]["givenName"]["values"][0].as_str().unwrap())
        .collect();
    let expected: Vec<String> = [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
        .iter()
        .map(|i| format!("Given{i}"))
        .collect();
    assert_eq!(names, expected, "{found}");
    assert_eq!(entries[0]["type"], "person");
    assert_eq!(entries[0]["attributes"]["mail"]["source"], "forest");
    assert_eq!(found["next"], Value::Null);
    assert_eq!(
        found["entries"],
        env.json(&["directory", "search", "gIVEN1"], 0)
    );
    let all = get(&http, &server, "/api/v1/directory", &viewer).await;
    assert_eq!(all["entries"], env.json(&["directory", "search"], 0));
    assert_eq!(ids(&all["entries"]).len(), 20);

    // Filters, and pages through ?after= the answer's next.
    let contacts = get(&http, &server, "/api/v1/directory?type=contact", &viewer).await;
    assert_eq!(contacts["entries"], json!([]));
    let persons = get(
        &http,
        &server,
        "/api/v1/directory?type=person&q=dept3",
        &viewer,
    )
    .await;
    assert_eq!(
        ids(&persons["entries"]),
        ids(&env.json(&["directory", "search", "dept3", "--type", "person"], 0))
    );
    let mut paged = Vec::new();
    let mut path = "/api/v1/directory?limit=7&q=given".to_owned();
    loop {
        let page = get(&http, &server, &path, &viewer).await;
        paged.extend(ids(&page["entries"]));
        let Some(next) = page["next"].as_i64() else {
            break;
        };
        path = format!("/api/v1/directory?limit=7&q=given&after={next}");
    }
    assert_eq!(paged, ids(&all["entries"]));
    let none = get(
        &http,
        &server,
        "/api/v1/directory?q=nobody-has-this",
        &viewer,
    )
    .await;
    assert_eq!(none, json!({ "entries": [], "next": null }));
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/directory?enterprise=nope"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");

    // One entry with its sources and its linked objects, as `directory show` gives it.
    let id = entries[0]["id"].as_i64().unwrap();
    let shown = get(&http, &server, &format!("/api/v1/directory/{id}"), &viewer).await;
    assert_eq!(shown, env.json(&["directory", "show", &id.to_string()], 0));
    assert_eq!(shown["attributes"]["uid"]["values"], json!(["1"]));
    assert_eq!(
        shown["links"],
        json!([
            { "connector": "forest", "anchor": "1", "type": "person" },
            { "connector": "central", "anchor": "1", "type": "contact" },
        ])
    );

    // Unknown and malformed ids; no token.
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/directory/999999"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no directory entry 999999"),
        "{body}"
    );
    let (status, _) = call(
        &http,
        "GET",
        &server.url("/api/v1/directory/abc"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in ["/api/v1/directory?q=x", "/api/v1/directory/1"] {
        let (status, body) = call(&http, "GET", &server.url(path), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_status_file_is_downloaded_as_an_attachment() {
    let (env, [viewer, operator, _]) = setup(20);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let sync_now = run(&http, &server, &operator, None).await;
    // The forest's import wrote one (the matrix in serve.rs downloads whichever comes first).
    assert!(!step_with_status_file(&sync_now).is_empty());
    let forest = sync_now["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connector"] == "forest" && s["profile"] == "delta-import")
        .unwrap();
    let step = forest["id"].as_i64().unwrap();
    let recorded = forest["status_file"].as_str().unwrap().to_owned();
    let name = std::path::Path::new(&recorded)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(name.starts_with(&format!("{step}-")), "{name}");

    let url = server.url(&format!("/api/v1/runs/{step}/status-file"));
    let resp = http.get(&url).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let header = |h: &str| {
        resp.headers()
            .get(h)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        header("content-disposition"),
        Some(format!("attachment; filename=\"{name}\""))
    );
    let on_disk = env.bytes(&format!("data/status/{name}"));
    let body = resp.bytes().await.unwrap();
    assert_eq!(body.as_ref(), on_disk.as_slice());
    // The header and one row per person, each with its status.
    let text = String::from_utf8(on_disk).unwrap();
    assert_eq!(text.lines().count(), 21, "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(",status,statusMessage"),
        "{text}"
    );
    assert!(text.contains("19,Given19,Sur19,"), "{text}");

    // A Sync Now has none of its own: 404 naming the steps that have one.
    let parent = sync_now["id"].as_i64().unwrap();
    let (status, body) = call(
        &http,
        "GET",
        &server.url(&format!("/api/v1/runs/{parent}/status-file")),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(&format!("run {parent} has no status file")),
        "{body}"
    );
    let steps = message.split("its steps ").nth(1).unwrap_or_default();
    assert!(steps.contains(&step.to_string()), "{body}");
    assert!(message.ends_with("/status-file"), "{body}");
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/runs/999/status-file"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "no run 999");
    let (status, _) = call(&http, "GET", &url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Once the file is gone (cleaned up by hand), the run says so.
    std::fs::remove_file(env.path(&format!("data/status/{name}"))).unwrap();
    let (status, body) = call(&http, "GET", &url, Some(&viewer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no longer"),
        "{body}"
    );
}

/// The samples of an exposition, by name with labels as written (`name{a="b"}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| panic!("{l}: {e}")),
            };
            (key.to_owned(), value)
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, server: &Server, token: &str) -> HashMap<String, f64> {
    let resp = http
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    // Every sample belongs to a family declared before it.
    let mut declared = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.push(rest.split(' ').next().unwrap().to_owned());
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(
                declared.iter().any(|d| name.starts_with(d.as_str())),
                "{line} before its # TYPE"
            );
        }
    }
    samples(&text)
}

fn value(m: &HashMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_runs_objects_pending_exports_and_entries() {
    let (env, [viewer, operator, _]) = setup(20);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let (status, body) = call(&http, "GET", &server.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let sync_now = run(&http, &server, &operator, None).await;
    let m = scrape(&http, &server, &viewer).await;
    assert_eq!(value(&m, "ucsync_runs_total{status=\"success\"}"), 1.0);
    assert_eq!(
        value(&m, "ucsync_directory_entries{enterprise=\"default\"}"),
        20.0
    );
    assert_eq!(
        value(&m, "ucsync_pending_exports{connector=\"central\"}"),
        0.0
    );
    assert_eq!(value(&m, "ucsync_pending_sync{connector=\"forest\"}"), 0.0);
    // Every step's counters, as the run records them.
    for step in sync_now["steps"].as_array().unwrap() {
        let (c, p) = (
            step["connector"].as_str().unwrap(),
            step["profile"].as_str().unwrap(),
        );
        for change in ["added", "updated", "deleted", "unchanged"] {
            let key = format!(
                "ucsync_objects_processed_total{{connector=\"{c}\",profile=\"{p}\",change=\"{change}\"}}"
            );
            assert_eq!(
                value(&m, &key),
                step["counters"][change].as_f64().unwrap(),
                "{key}"
            );
        }
        let key = format!(
            "ucsync_connector_runs_total{{connector=\"{c}\",profile=\"{p}\",status=\"success\"}}"
        );
        assert_eq!(value(&m, &key), 1.0, "{key}");
    }
    assert_eq!(
        value(
            &m,
            "ucsync_objects_processed_total{connector=\"forest\",profile=\"delta-import\",change=\"added\"}"
        ),
        20.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_run_duration_seconds_count{connector=\"\",profile=\"sync-now\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_run_duration_seconds_bucket{connector=\"\",profile=\"sync-now\",le=\"+Inf\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_run_duration_seconds_bucket{connector=\"\",profile=\"sync-now\",le=\"3600\"}"
        ),
        1.0
    );
    let took = value(
        &m,
        "ucsync_run_duration_seconds_sum{connector=\"\",profile=\"sync-now\"}",
    );
    assert!((0.0..60.0).contains(&took), "{took}");

    // Five more people, imported and synced but not exported: five adds wait for central.
    env.write("forest.csv", people(25, 0));
    run(&http, &server, &operator, Some(("forest", "delta-import"))).await;
    run(&http, &server, &operator, Some(("forest", "delta-sync"))).await;
    let m = scrape(&http, &server, &viewer).await;
    assert_eq!(
        value(&m, "ucsync_pending_exports{connector=\"central\"}"),
        5.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_pending_exports_by_operation{connector=\"central\",operation=\"add\"}"
        ),
        5.0
    );
    assert_eq!(
        value(&m, "ucsync_pending_exports{connector=\"forest\"}"),
        0.0
    );
    assert_eq!(
        value(&m, "ucsync_directory_entries{enterprise=\"default\"}"),
        25.0
    );
    assert_eq!(value(&m, "ucsync_runs_total{status=\"success\"}"), 3.0);
    assert_eq!(
        value(
            &m,
            "ucsync_connector_runs_total{connector=\"forest\",profile=\"delta-import\",status=\"success\"}"
        ),
        2.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_objects_processed_total{connector=\"forest\",profile=\"delta-import\",change=\"added\"}"
        ),
        25.0
    );
    assert_eq!(
        value(
            &m,
            "ucsync_run_duration_seconds_count{connector=\"forest\",profile=\"delta-sync\"}"
        ),
        2.0
    );
    assert!(value(&m, "ucsync_metrics_scrape_seconds") < 5.0);
}
