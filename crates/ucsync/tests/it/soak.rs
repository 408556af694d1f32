//! The soak test of issue 17: rounds of changes to three enterprises' sources, each round's
//! Sync Now of the three started together through the API, with previews of every enterprise
//! (Sync Now and connector deletion) in between while they run. After every round, each
//! enterprise holds what the same rounds made one run at a time give.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::enterprises::{Hub, Served, all_ended, forest};

const ENTERPRISES: [&str; 3] = ["north", "south", "central"];
const N: usize = 3_000;

/// The forest of enterprise number `k` in round `round`: people join, change department,
/// leave (fewer than the threshold of 500) and come back.
fn round_forest(k: usize, round: usize) -> String {
    let e = ENTERPRISES[k];
    let from = k * 10_000;
    let (n, changed): (usize, Vec<usize>) = match round {
        0 => (N, Vec::new()),
        1 => (N + 200, (from..from + N).step_by(7).collect()),
        2 => (N + 50, (from..from + N).step_by(11).collect()),
        _ => (N + 150, (from + 3..from + N).step_by(13).collect()),
    };
    let mut text = forest(e, from, n, &changed);
    if round == 2 {
        // 150 people leave in the middle.
        let gone: BTreeSet<String> = (from + 1_000..from + 1_150)
            .map(|i| format!("{e}{i},"))
            .collect();
        text = text
            .lines()
            .filter(|l| !gone.iter().any(|g| l.starts_with(g.as_str())))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    text
}

fn write_round(hub: &Hub, round: usize) {
    for (k, e) in ENTERPRISES.iter().enumerate() {
        hub.env
            .write(&format!("forest-{e}.csv"), round_forest(k, round));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_enterprises_at_once_with_previews_end_as_one_run_at_a_time() {
    // One run at a time: each round, each enterprise in turn.
    let alone = Hub::new(&ENTERPRISES, "500", "").await;
    let mut expected = Vec::new();
    for round in 0..4 {
        write_round(&alone, round);
        let mut states = Vec::new();
        for e in ENTERPRISES {
            let report = alone.sync_now(e).await;
            assert_eq!(report.status.as_str(), "success", "{report:?}");
            states.push(alone.state(e).await);
        }
        expected.push(states);
    }

    let hub = Hub::new(&ENTERPRISES, "500", "").await;
    let served = Served::start(&hub, "2026-06-01T12:00:00Z").await;
    for (round, expected) in expected.into_iter().enumerate() {
        write_round(&hub, round);
        let mut ids = Vec::new();
        for e in ENTERPRISES {
            ids.push(served.start_sync_now(e).await);
        }
        let mut previews = 0;
        'running: loop {
            for (k, e) in ENTERPRISES.iter().enumerate() {
                let path = if k == 1 {
                    format!("/api/v1/connectors/forest-{e}?preview=true&allow_deletes=100000")
                } else {
                    format!("/api/v1/enterprises/{e}/sync-now?preview=true")
                };
                let method = if k == 1 { "DELETE" } else { "POST" };
                let (status, body) = served.call(method, &path, &served.admin).await;
                assert_eq!(status, StatusCode::OK, "{path}: {body}");
                assert_eq!(body["preview"], true, "{body}");
                previews += 1;
            }
            let mut running = false;
            for id in &ids {
                running |= served.run(*id).await["status"] == "running";
            }
            if !running {
                break 'running;
            }
        }
        for (e, id) in ENTERPRISES.iter().zip(&ids) {
            let run = served.wait(*id).await;
            assert_eq!(run["status"], "success", "round {round}, {e}: {run:#}");
        }
        for (e, expected) in ENTERPRISES.iter().zip(expected) {
            assert_eq!(
                hub.state(e).await,
                expected,
                "round {round}, enterprise {e}, after {previews} previews"
            );
        }
    }
    all_ended(&served.runs().await);
    served.stop().await;
}
