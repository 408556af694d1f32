//! `ucsync serve` over real HTTP on a free port: who may call what, one run at a time per
//! enterprise, slowed-down logins and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, forest_central_config, people};

pub(crate) struct Server {
    child: Child,
    base: String,
    /// What the server wrote to stderr after it started listening.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `ucsync serve` on a free port and waits until it listens.
    pub(crate) fn start(env: &Env) -> Server {
        Server::start_command(env.command(&["serve", "--listen", "127.0.0.1:0"]))
    }

    /// Starts a prepared `ucsync ... serve` command and waits until it listens.
    pub(crate) fn start_command(mut command: std::process::Command) -> Server {
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Server { child, base, log }
    }

    /// The server's log lines so far.
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then the exit code.
    pub(crate) fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        self.child.wait().unwrap().code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn admin(env: &Env, name: &str, role: &str) -> String {
    let out = env
        .command(&["admin", "add", name, "--role", role])
        .env("UCSYNC_ADMIN_PASSWORD", format!("{name}-password"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = env.run(&["admin", "token", name]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A forest of `n` people provisioned into a central file, and three administrators.
pub(crate) fn setup(n: usize) -> (Env, [String; 3]) {
    let env = Env::new();
    // With an ID, so that the peer feed of the enterprise is there to read.
    let config = forest_central_config("500", "", "").replace(
        "[enterprises.default]\n",
        "[enterprises.default]\nid = \"default\"\n",
    );
    env.write("ucsync.toml", config);
    env.write("forest.csv", people(n, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    let tokens = [
        admin(&env, "vera", "viewer"),
        admin(&env, "otto", "operator"),
        admin(&env, "alice", "admin"),
    ];
    (env, tokens)
}

pub(crate) async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let body = (method == "POST").then(|| json!({ "profile": "delta-import" }));
    call_with(http, method, url, token, body.as_ref()).await
}

/// A request with a JSON body (a JSON string is sent as plain text).
pub(crate) async fn call_with(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = match method {
        "POST" => http.post(url),
        "PUT" => http.put(url),
        "DELETE" => http.delete(url),
        _ => http.get(url),
    };
    req = match body {
        Some(Value::String(text)) => req.body(text.clone()),
        Some(body) => req.json(body),
        None => req,
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn wait_for_run(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    id: i64,
) -> Value {
    for _ in 0..600 {
        let (_, run) = call(
            http,
            "GET",
            &server.url(&format!("/api/v1/runs/{id}")),
            Some(token),
        )
        .await;
        if run["status"] != "running" {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("run {id} did not end");
}

/// The id of a step of `run` that wrote a status file.
pub(crate) fn step_with_status_file(run: &Value) -> String {
    run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["status_file"].is_string())
        .and_then(|s| s["id"].as_i64())
        .map(|id| id.to_string())
        .unwrap_or_else(|| panic!("no step wrote a status file: {run}"))
}

/// The `{id}` the matrix uses for a path: run or entry 1, or a run with a status file.
fn id_for<'a>(path: &str, with_file: &'a str) -> &'a str {
    if path.ends_with("/status-file") {
        with_file
    } else {
        "1"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_endpoint() {
    let (env, [viewer, operator, admin]) = setup(20);
    let server = Server::start(&env);
    let http = reqwest::Client::new();

    let (status, body) = call(&http, "GET", &server.url("/healthz"), None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    // Every operation of the OpenAPI document, as each role and without a token. A run is
    // started first so that /runs/1 exists.
    let (status, body) = call(
        &http,
        "POST",
        &server.url("/api/v1/enterprises/default/sync-now"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let first = wait_for_run(&http, &server, &viewer, body["run_id"].as_i64().unwrap()).await;
    let with_file = step_with_status_file(&first);
    let nightly = json!({ "name": "nightly", "enterprise": "default", "when": "daily at 02:00" });
    let (status, body) = call_with(
        &http,
        "POST",
        &server.url("/api/v1/schedules"),
        Some(&admin),
        Some(&nightly),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ops = ucsync_server::openapi::operations();
    assert!(ops.len() >= 10);
    for op in ops.iter().filter(|o| o.role.is_some()) {
        let path = op
            .path
            .replace("{enterprise}", "default")
            .replace("{connector}", "forest")
            .replace("{schedule}", "nightly")
            .replace("{number}", "5550100")
            .replace("{name}", "Away")
            .replace("{id}", id_for(op.path, &with_file))
            // Revoking token 1 would take the viewer's: an unknown token is refused for what
            // it asks, after the role is checked.
            .replace("/api/v1/tokens/1", "/api/v1/tokens/999999");
        // Deleting the connector for real would take the entries the later reads look at.
        let path = if op.method == "delete" && op.path == "/api/v1/connectors/{connector}" {
            format!("{path}?preview=true")
        } else {
            path
        };
        let method = op.method.to_uppercase();
        // The body each operation documents as its example; the whole configuration is put
        // back as exported, which must change nothing.
        let body = if method == "PUT" && path == "/api/v1/config" {
            let (_, exported) = call(&http, "GET", &server.url(&path), Some(&viewer)).await;
            Some(exported["toml"].clone())
        } else if method == "POST" && path.ends_with("/runs") {
            Some(json!({ "profile": "delta-import" }))
        } else {
            op.body
                .as_ref()
                .and_then(|schema| schema.get("example"))
                .cloned()
        };
        for token in [None, Some("ucs_not-a-token")] {
            let (status, body) =
                call_with(&http, &method, &server.url(&path), token, body.as_ref()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}: {body}"
            );
            assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
        }
        for (role, token) in [
            ("viewer", &viewer),
            ("operator", &operator),
            ("admin", &admin),
        ] {
            let (status, answer) = call_with(
                &http,
                &method,
                &server.url(&path),
                Some(token),
                body.as_ref(),
            )
            .await;
            let body = answer;
            let allowed = match op.role {
                Some("viewer") => true,
                Some("operator") => role != "viewer",
                _ => role == "admin",
            };
            if allowed {
                // Reads succeed; a change may also be refused for what it asks (the example
                // body names another connector, the connector was deleted by then).
                let refused_for_content = method != "GET"
                    && [StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY].contains(&status);
                assert!(
                    status.is_success() || status == StatusCode::CONFLICT || refused_for_content,
                    "{role} {method} {path}: {status} {body}"
                );
                if method == "PUT" && path == "/api/v1/config" {
                    assert_eq!(body["changes"], json!([]), "{body}");
                }
                if let Some(id) = body["run_id"].as_i64().filter(|_| method == "POST") {
                    wait_for_run(&http, &server, token, id).await;
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {body}"
                );
                assert!(body["error"].as_str().unwrap().contains(role), "{body}");
            }
        }
    }
    let (_, doc) = call(
        &http,
        "GET",
        &server.url("/api/v1/openapi.json"),
        Some(&viewer),
    )
    .await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(
        doc["paths"]["/api/v1/runs/{id}"]["get"].is_object(),
        "{doc}"
    );

    // Connectors are shown with their settings (secrets never: see serve_config).
    let (_, body) = call(
        &http,
        "GET",
        &server.url("/api/v1/connectors"),
        Some(&admin),
    )
    .await;
    assert_eq!(body["connectors"][0]["kind"], "csv", "{body}");
    assert_eq!(body["connectors"][0]["secrets_set"], json!([]), "{body}");
    // Unknown things are 404 with the name.
    let (status, body) = call(
        &http,
        "POST",
        &server.url("/api/v1/enterprises/nope/sync-now"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nope"));

    assert_eq!(server.stop(), Some(0), "SIGTERM stops the server cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_sync_now_requests_give_one_run() {
    let (env, [viewer, operator, _]) = setup(20_000);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let url = server.url("/api/v1/enterprises/default/sync-now");
    let answers =
        futures_util::future::join_all((0..50).map(|_| call(&http, "POST", &url, Some(&operator))))
            .await;
    let started: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(started.len(), 1, "{answers:?}");
    let id = started[0]["run_id"].as_i64().unwrap();
    for (status, body) in &answers {
        if *status != StatusCode::ACCEPTED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["run_id"], id, "{body}");
        }
    }
    let run = wait_for_run(&http, &server, &viewer, id).await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["steps"].as_array().unwrap().len(), 6, "{run}");
    assert_eq!(env.read("central.csv").lines().count(), 20_001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_slowed_down() {
    let (env, _) = setup(1);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let login = |name: &str, password: &str| {
        http.post(server.url("/api/v1/login"))
            .json(&json!({ "name": name, "password": password }))
            .send()
    };
    for _ in 0..3 {
        let r = login("otto", "wrong").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = login("otto", "otto-password").await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(r.headers().get("retry-after").is_some());

    // Another name is not held back; its token works.
    let r = login("vera", "vera-password").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["role"], "viewer");
    let token = body["token"].as_str().unwrap();
    let (status, _) = call(&http, "GET", &server.url("/api/v1/runs"), Some(token)).await;
    assert_eq!(status, StatusCode::OK);
}
