//! A bounded load test of `ucsync serve`'s reads: 200 clients at once, each on its own
//! keep-alive connection, read runs and the directory for 10 s from a server with a synced
//! directory. Every answer must be a 200 with a JSON body; the test prints requests/s and
//! latency percentiles. The clients and the server share the machine's cores.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::serve::{Server, call, setup, wait_for_run};

const CLIENTS: usize = 200;
const DURATION: Duration = Duration::from_secs(10);
const PEOPLE: u64 = 2_000;

/// What one client saw.
#[derive(Default)]
struct Tally {
    /// Latency of each good answer (microseconds), by kind of request.
    latencies: [Vec<u32>; 4],
    errors: Vec<String>,
}

const KINDS: [&str; 4] = ["runs", "run", "directory search", "directory show"];

/// xorshift64: which request comes next, without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn client(base: String, token: String, run_ids: Vec<i64>, seed: u64) -> Tally {
    let mut tally = Tally::default();
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            tally.errors.push(format!("client: {e}"));
            return tally;
        }
    };
    let mut state = seed | 1;
    let deadline = Instant::now() + DURATION;
    while Instant::now() < deadline {
        let r = next(&mut state);
        let kind = (r % 4) as usize;
        let path = match kind {
            0 => "/api/v1/runs".to_owned(),
            1 => format!(
                "/api/v1/runs/{}",
                run_ids[(r >> 8) as usize % run_ids.len()]
            ),
            2 => format!("/api/v1/directory?q=Given{}&limit=10", (r >> 8) % PEOPLE),
            _ => format!("/api/v1/directory/{}", 1 + (r >> 8) % PEOPLE),
        };
        let started = Instant::now();
        let answer = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await;
        let outcome = match answer {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(body) if status == StatusCode::OK => {
                        serde_json::from_slice::<Value>(&body).map_err(|e| format!("{e}"))
                    }
                    Ok(body) => Err(format!("{status} {}", String::from_utf8_lossy(&body))),
                    Err(e) => Err(format!("{status}, reading the body: {e}")),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(_) => tally.latencies[kind].push(started.elapsed().as_micros() as u32),
            Err(e) => tally.errors.push(format!("GET {path}: {e}")),
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_read_runs_and_the_directory_for_ten_seconds() {
    let (env, [viewer, operator, _]) = setup(PEOPLE as usize);
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
    let run = wait_for_run(&http, &server, &viewer, body["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "success", "{run}");
    let (_, runs) = call(&http, "GET", &server.url("/api/v1/runs"), Some(&viewer)).await;
    let run_ids: Vec<i64> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(run_ids.len(), 7, "{runs}");

    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            tokio::spawn(client(
                server.url(""),
                viewer.clone(),
                run_ids.clone(),
                0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1),
            ))
        })
        .collect();
    let mut tally = Tally::default();
    let mut fewest = usize::MAX;
    for t in tasks {
        let t = t.await.unwrap();
        fewest = fewest.min(t.latencies.iter().map(Vec::len).sum());
        for (all, one) in tally.latencies.iter_mut().zip(t.latencies) {
            all.extend(one);
        }
        tally.errors.extend(t.errors);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < DURATION + Duration::from_secs(15),
        "the load ran {elapsed:?}"
    );

    let mut all: Vec<u32> = tally.latencies.iter().flatten().copied().collect();
    all.sort_unstable();
    let total = all.len() + tally.errors.len();
    println!(
        "{CLIENTS} clients, {:.1} s: {} requests, {:.0} requests/s, {} errors",
        elapsed.as_secs_f64(),
        total,
        total as f64 / elapsed.as_secs_f64(),
        tally.errors.len()
    );
    for (kind, lat) in KINDS.iter().zip(tally.latencies.iter_mut()) {
        lat.sort_unstable();
        if !lat.is_empty() {
            println!(
                "  {kind:<16} {:>7} answers, p50 {:>7.2} ms, p99 {:>7.2} ms",
                lat.len(),
                percentile(lat, 0.5),
                percentile(lat, 0.99)
            );
        }
    }
    assert!(
        tally.errors.is_empty(),
        "{} of {total} requests failed; the first ones:\n{}",
        tally.errors.len(),
        tally.errors[..tally.errors.len().min(10)].join("\n")
    );
    assert!(!all.is_empty(), "no request was answered");
    println!(
        "  all              p50 {:.2} ms, p99 {:.2} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    for (kind, lat) in KINDS.iter().zip(&tally.latencies) {
        assert!(!lat.is_empty(), "no {kind} request was answered");
    }
    // No client was starved.
    println!("  fewest answers to one client: {fewest}");
    assert!(fewest > 0, "a client got no answer in {DURATION:?}");
}
