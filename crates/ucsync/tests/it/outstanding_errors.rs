//! Outstanding per-object errors through the binary and over HTTP: an object rejected for an
//! invalid character stays visible (`connector status`, `connector errors`, the API, the
//! metrics) through delta runs that do not read it again, until it is fixed or deleted.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Env, forest_central_config, people};
use crate::serve::{Server, call, setup};

const CENTRAL_HEADER: &str = "externalId,email,displayName,phone,department\n";

fn outstanding(env: &Env, connector: &str) -> i64 {
    let status = env.json(&["connector", "status", connector], 0);
    status[0]["outstanding_errors"]
        .as_i64()
        .unwrap_or_else(|| panic!("no outstanding_errors in {status:#}"))
}

fn text(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_rejected_row_stays_outstanding_through_delta_runs_until_fixed_or_deleted() {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    let clean = people(3, 1);
    env.write("forest.csv", &clean);
    env.write("central.csv", CENTRAL_HEADER);
    env.json(&["sync-now"], 0);
    assert_eq!(outstanding(&env, "forest"), 0);

    // Person 2 gets a bell in the given name (line 3): the run reports it.
    let broken = clean.replace("2,Given2,", "2,Gi\u{7}ven2,");
    env.write("forest.csv", &broken);
    let report = env.json(&["sync-now"], 3);
    let import = Env::step(&report, "forest", "delta-import");
    assert_eq!(import["counters"]["errors"], 1, "{report:#}");
    let rejected_by = import["run_id"].as_i64().unwrap();

    // The next sync-now reads nothing (the file has not changed) and reports no error, but the
    // row is still missing from the target: it stays outstanding.
    let report = env.json(&["sync-now"], 0);
    let import = Env::step(&report, "forest", "delta-import");
    assert_eq!(import["counters"]["errors"], 0, "{report:#}");
    let later = import["run_id"].as_i64().unwrap();
    assert_eq!(outstanding(&env, "forest"), 1);
    assert_eq!(outstanding(&env, "central"), 0);
    let status = text(&env, &["connector", "status", "forest"]);
    assert!(status.contains("outstanding errors 1"), "{status}");

    let errors = env.json(&["connector", "errors", "forest"], 0);
    let list = errors.as_array().unwrap();
    assert_eq!(list.len(), 1, "{errors:#}");
    let e = &list[0];
    assert_eq!(e["step"], "import");
    assert_eq!(e["object"], "2");
    assert_eq!(e["name"], "2");
    assert_eq!(e["line"], 3);
    assert_eq!(e["first_run"], rejected_by);
    assert_eq!(e["last_run"], rejected_by);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("attribute \"givenName\" has an invalid character U+0007 at position 3"),
        "{e:#}"
    );
    let listed = text(&env, &["connector", "errors", "forest"]);
    assert!(listed.contains("line 3"), "{listed}");
    assert!(listed.contains("\"givenName\""), "{listed}");

    // A full import reads it again: still wrong, seen by that run too.
    let full = env.json(&["run", "forest", "full-import"], 3);
    let full_id = full["run_id"].as_i64().unwrap();
    assert!(full_id > later);
    let errors = env.json(&["connector", "errors", "forest"], 0);
    assert_eq!(errors[0]["first_run"], rejected_by, "{errors:#}");
    assert_eq!(errors[0]["last_run"], full_id, "{errors:#}");

    // Fixed: the next run takes it and the error is over.
    env.write("forest.csv", &clean);
    env.json(&["sync-now"], 0);
    assert_eq!(outstanding(&env, "forest"), 0);
    assert_eq!(
        env.json(&["connector", "errors", "forest"], 0),
        Value::Array(vec![])
    );
    assert!(text(&env, &["connector", "status", "forest"]).contains("outstanding errors 0"));

    // Broken again, then deleted at the source: over too.
    env.write("forest.csv", &broken);
    env.json(&["sync-now"], 3);
    assert_eq!(outstanding(&env, "forest"), 1);
    let without: String = clean
        .lines()
        .filter(|l| !l.starts_with("2,"))
        .map(|l| format!("{l}\n"))
        .collect();
    env.write("forest.csv", &without);
    env.json(&["sync-now"], 0);
    assert_eq!(outstanding(&env, "forest"), 0);

    // A new row that was never staged: rejected, outstanding, and over once it is gone.
    env.write(
        "forest.csv",
        format!("{without}9,Gi\u{7}ven9,Sur9,user9@forest.example,+1 555 0000009,Dept9\n"),
    );
    env.json(&["sync-now"], 3);
    assert_eq!(outstanding(&env, "forest"), 1);
    env.json(&["sync-now"], 0);
    assert_eq!(outstanding(&env, "forest"), 1);
    env.write("forest.csv", &without);
    env.json(&["sync-now"], 0);
    assert_eq!(outstanding(&env, "forest"), 0);
}

fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn metric(http: &reqwest::Client, server: &Server, token: &str, key: &str) -> f64 {
    let resp = http
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    *samples(&text)
        .get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {text}"))
}

async fn sync_now(http: &reqwest::Client, server: &Server, operator: &str) {
    let (status, answer) = crate::serve::call_with(
        http,
        "POST",
        &server.url("/api/v1/enterprises/default/sync-now"),
        Some(operator),
        Some(&serde_json::json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["run_id"].as_i64().unwrap();
    crate::serve::wait_for_run(http, server, operator, id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_metrics_show_outstanding_errors() {
    let (env, [viewer, operator, _]) = setup(3);
    let clean = env.read("forest.csv");
    env.write("forest.csv", clean.replace("1,Given1,", "1,Gi\u{7}ven1,"));
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    sync_now(&http, &server, &operator).await;
    // A delta run that reads nothing leaves it outstanding.
    sync_now(&http, &server, &operator).await;

    let url = server.url("/api/v1/connectors/forest/errors");
    let (status, body) = call(&http, "GET", &url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = call(&http, "GET", &url, Some(&viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["connector"], "forest");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body:#}");
    assert_eq!(errors[0]["step"], "import");
    assert_eq!(errors[0]["name"], "1");
    assert_eq!(errors[0]["line"], 3);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("\"givenName\""),
        "{body:#}"
    );
    // The CLI against the server answers the same.
    let remote = env.json(
        &[
            "--server",
            &server.url(""),
            "--token",
            &viewer,
            "connector",
            "errors",
            "forest",
        ],
        0,
    );
    assert_eq!(&remote, &body["errors"]);

    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/connectors/forest"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outstanding_errors"], 1, "{body:#}");
    let (status, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/connectors/nobody/errors"),
        Some(&viewer),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let key = "ucsync_outstanding_errors{connector=\"forest\",step=\"import\"}";
    assert_eq!(metric(&http, &server, &viewer, key).await, 1.0);
    let central = "ucsync_outstanding_errors{connector=\"central\",step=\"export\"}";
    assert_eq!(metric(&http, &server, &viewer, central).await, 0.0);

    // Fixed: gone from the API, and the gauge falls to 0.
    env.write("forest.csv", &clean);
    sync_now(&http, &server, &operator).await;
    let (_, body) = call(&http, "GET", &url, Some(&viewer)).await;
    assert_eq!(body["errors"], Value::Array(vec![]), "{body:#}");
    assert_eq!(metric(&http, &server, &viewer, key).await, 0.0);
}
