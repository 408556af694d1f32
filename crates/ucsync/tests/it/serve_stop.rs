//! SIGTERM during a large run of a real `ucsync serve`: the server starts no new run, lets the
//! batch being written commit, exits 0; after a restart the next run converges to what an
//! uninterrupted run gives.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::serve::{Server, call, setup, wait_for_run};

const PEOPLE: usize = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_large_run_stops_at_a_batch_and_the_next_run_converges() {
    let (env, [viewer, operator, _]) = setup(PEOPLE);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let (status, body) = call(
        &http,
        "POST",
        &server.url("/api/v1/enterprises/default/sync-now"),
        Some(&operator),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["run_id"].as_i64().unwrap();

    // Wait until the forest's import is under way, then stop the server.
    let run_url = server.url(&format!("/api/v1/runs/{id}"));
    let mut under_way = false;
    for _ in 0..400 {
        let (_, run) = call(&http, "GET", &run_url, Some(&viewer)).await;
        if run["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["connector"] == "forest"))
        {
            under_way = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(under_way, "the forest's import never started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let began = std::time::Instant::now();
    assert_eq!(server.stop(), Some(0), "SIGTERM exits 0");
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "the stop waited for the whole run"
    );

    // Restarted: the run is recorded as stopped, with what to expect.
    let server = Server::start(&env);
    let run_url = server.url(&format!("/api/v1/runs/{id}"));
    let (_, run) = call(&http, "GET", &run_url, Some(&viewer)).await;
    assert_eq!(run["status"], "stopped", "{run}");
    assert!(
        run["message"].as_str().unwrap_or("").contains("next run"),
        "{run}"
    );
    let exported_then = env.read("central.csv").lines().count() - 1;
    assert!(exported_then < PEOPLE, "the run was not cut short");

    // The next run converges: every person exported once; the one after changes nothing.
    let sync_now = server.url("/api/v1/enterprises/default/sync-now");
    let (status, body) = call(&http, "POST", &sync_now, Some(&operator)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = wait_for_run(&http, &server, &viewer, body["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "success", "{run}");
    let central = env.read("central.csv");
    assert_eq!(central.lines().count(), PEOPLE + 1);
    let mut ids: Vec<&str> = central
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), PEOPLE, "each person exactly once");

    let (_, body) = call(&http, "POST", &sync_now, Some(&operator)).await;
    let run = wait_for_run(&http, &server, &viewer, body["run_id"].as_i64().unwrap()).await;
    let changed: i64 = ["added", "updated", "deleted"]
        .iter()
        .map(|k| run["counters"][k].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(changed, 0, "{run}");
    let _: &Value = &run;
}
