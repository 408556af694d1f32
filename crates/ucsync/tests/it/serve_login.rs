//! Signing in to a real `ucsync serve` from several client addresses (127.0.0.x, all
//! loopback): the answer's time does not tell whether a name exists, failures from one address
//! do not lock the administrator out elsewhere, one address trying many names is slowed down
//! alone, `Retry-After` is never shorter than the wait, and failed logins are logged with the
//! name and the address but never the password.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::serve::{Server, admin, call, setup};

/// A client whose connections come from `ip`.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    body: Value,
    took: Duration,
}

async fn login(http: &reqwest::Client, server: &Server, name: &str, password: &str) -> Answer {
    let start = Instant::now();
    let resp = http
        .post(server.url("/api/v1/login"))
        .json(&json!({ "name": name, "password": password }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    let body = resp.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        retry_after,
        body,
        took: start.elapsed(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// An unknown name costs the server the same password verification as a known name with a
/// wrong password, and gets the same answer. Before, it was answered 10–30× faster, so names
/// could be enumerated. Medians of interleaved attempts (each from its own address and to a
/// name tried at most three times, so that no throttle answers instead) keep a busy machine
/// from deciding the outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_name_is_answered_as_slowly_as_a_wrong_password() {
    let (env, _) = setup(1);
    admin(&env, "ivan", "viewer");
    let server = Server::start(&env);
    let known = ["vera", "otto", "alice", "ivan"];
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    for i in 0..12 {
        let http = client_from(&format!("127.0.0.{}", 10 + i));
        // Connect first, so both timed requests reuse the connection.
        let (status, _) = call(&http, "GET", &server.url("/healthz"), None).await;
        assert_eq!(status, StatusCode::OK);
        let ghost = format!("ghost{i}");
        let pairs = [(known[i % known.len()], true), (ghost.as_str(), false)];
        // Alternate which goes first, so a change of load hits both alike.
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let (name, is_known) = pairs[k];
            let answer = login(&http, &server, name, "not-the-password").await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{name}: {}",
                answer.body
            );
            assert_eq!(
                answer.body,
                json!({ "error": "wrong name or password" }),
                "{name}"
            );
            if is_known {
                known_times.push(answer.took);
            } else {
                unknown_times.push(answer.took);
            }
        }
    }
    let (k, u) = (median(known_times.clone()), median(unknown_times.clone()));
    let ratio = k.max(u).as_secs_f64() / k.min(u).max(Duration::from_micros(1)).as_secs_f64();
    assert!(
        ratio < 3.0,
        "median answer for a known name {k:?}, for an unknown name {u:?} (ratio {ratio:.1}); \
         known {known_times:?}, unknown {unknown_times:?}"
    );
}

/// An attacker at 127.0.0.2 who fails until throttled does not lock out the administrator at
/// 127.0.0.1; the attacker keeps waiting, even with the right password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_elsewhere_cannot_lock_the_administrator_out() {
    let (env, _) = setup(1);
    let server = Server::start(&env);
    let attacker = client_from("127.0.0.2");
    for i in 0..3 {
        let answer = login(&attacker, &server, "alice", &format!("guess{i}")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    let answer = login(&attacker, &server, "alice", "guess3").await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    assert!(answer.retry_after.is_some_and(|s| s >= 1), "Retry-After");

    let owner = client_from("127.0.0.1");
    let answer = login(&owner, &server, "alice", "alice-password").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["role"], "admin");
    let token = answer.body["token"].as_str().unwrap();
    let (status, _) = call(
        &owner,
        "GET",
        &server.url("/api/v1/enterprises"),
        Some(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The administrator's success does not clear the attacker's wait.
    for password in ["guess4", "alice-password"] {
        let answer = login(&attacker, &server, "alice", password).await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            answer.body
        );
        assert!(answer.retry_after.is_some_and(|s| s >= 1), "Retry-After");
    }
}

/// One address trying many names (password spraying, enumeration) is slowed down after ten
/// failures whatever the names; other addresses are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_trying_many_names_is_slowed_down_alone() {
    let (env, _) = setup(1);
    let server = Server::start(&env);
    let sprayer = client_from("127.0.0.3");
    for i in 0..10 {
        let answer = login(&sprayer, &server, &format!("user{i}"), "Winter2025!").await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "try {i}: {}",
            answer.body
        );
    }
    for (name, password) in [("user10", "Winter2025!"), ("otto", "otto-password")] {
        let answer = login(&sprayer, &server, name, password).await;
        assert_eq!(
            answer.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{name}: {}",
            answer.body
        );
        assert!(answer.retry_after.is_some_and(|s| s >= 1), "Retry-After");
        let error = answer.body["error"].as_str().unwrap();
        assert!(error.contains("127.0.0.3"), "{error}");
    }

    let neighbour = client_from("127.0.0.4");
    let answer = login(&neighbour, &server, "user0", "Winter2025!").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let answer = login(&neighbour, &server, "otto", "otto-password").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// `Retry-After` is the wait rounded up: a client that waits as told is not refused again.
/// Before, a wait of 1.99 s was announced as 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_never_shorter_than_the_wait() {
    let (env, _) = setup(1);
    let server = Server::start(&env);
    let http = client_from("127.0.0.5");
    for i in 0..3 {
        let answer = login(&http, &server, "otto", &format!("wrong{i}")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    // The first wait is 1 s.
    let answer = login(&http, &server, "otto", "wrong3").await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    let first = answer.retry_after.unwrap();
    assert!(first >= 1, "{first}");
    tokio::time::sleep(Duration::from_secs(first)).await;

    // After the fourth failure the wait is 2 s from that failure, which the server records
    // after `sent`: asked at once, its remaining wait is more than 2 s minus the round trips.
    let sent = Instant::now();
    let answer = login(&http, &server, "otto", "wrong4").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let answer = login(&http, &server, "otto", "wrong5").await;
    let since = sent.elapsed();
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    let announced = answer.retry_after.unwrap();
    assert!(
        announced as f64 >= 2.0 - since.as_secs_f64(),
        "Retry-After {announced} for a remaining wait of at least {:.3} s",
        2.0 - since.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(announced)).await;
    let answer = login(&http, &server, "otto", "wrong6").await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "waited the announced {announced} s: {}",
        answer.body
    );
}

/// Over HTTPS too the server knows each client's address: a failed login is logged with the
/// name and the address (never the password), and throttling one address leaves another free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_over_https_are_logged_with_name_and_address() {
    let (env, _) = setup(1);
    let tls = ucsync_testkit::tls::generate(&env.path("tls")).unwrap();
    let mut cmd = env.command(&["serve", "--listen", "127.0.0.1:0"]);
    cmd.arg("--tls-cert")
        .arg(&tls.server_cert)
        .arg("--tls-key")
        .arg(&tls.server_key);
    let server = Server::start_command(cmd);
    let ca = reqwest::Certificate::from_pem(env.read("tls/ca.crt").as_bytes()).unwrap();
    let https_from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .tls_certs_only([ca.clone()])
            .build()
            .unwrap()
    };

    let stranger = https_from("127.0.0.6");
    for i in 0..3 {
        let answer = login(&stranger, &server, "otto", &format!("hunter{i}-secret")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let failed = loop {
        let log = server.log();
        let failed: Vec<String> = log
            .iter()
            .filter(|l| l.contains("failed login"))
            .cloned()
            .collect();
        if failed.len() >= 3 || Instant::now() > deadline {
            assert!(!log.iter().any(|l| l.contains("secret")), "{log:#?}");
            break failed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.len(), 3, "{failed:#?}");
    for line in &failed {
        assert!(line.contains("otto"), "{line}");
        assert!(line.contains("127.0.0.6"), "{line}");
    }
    let answer = login(&stranger, &server, "otto", "hunter3-secret").await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    let answer = login(&https_from("127.0.0.1"), &server, "otto", "otto-password").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
