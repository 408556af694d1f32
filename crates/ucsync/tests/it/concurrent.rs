//! No run disturbs another: previews during a run, and runs of several enterprises started
//! together through the API and by the scheduler, each end as the same runs made alone.

use reqwest::StatusCode;

use crate::enterprises::{Hub, Served, all_ended, forest};

/// Issue 17: every batch another enterprise's run wrote during a preview became a savepoint of
/// the preview's transaction and was rolled back with it, without an error; the run reported
/// success with people missing everywhere, and later runs saw nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_during_another_enterprises_run_lose_nothing_of_it() {
    const N: usize = 20_000;
    let enterprises = ["west", "east"];
    let reference = Hub::new(&enterprises, "500", "").await;
    reference
        .env
        .write("forest-west.csv", forest("w", 0, N, &[]));
    reference.sync_now("west").await;
    let expected = reference.state("west").await;
    assert_eq!(expected.1.len(), N);

    let hub = Hub::new(&enterprises, "500", "").await;
    hub.env.write("forest-west.csv", forest("w", 0, N, &[]));
    hub.env.write("forest-east.csv", forest("e", 0, 300, &[]));
    hub.sync_now("east").await;
    let served = Served::start(&hub, "2026-06-01T12:00:00Z").await;
    let run = served.start_sync_now("west").await;
    let mut previews = 0;
    loop {
        let (status, body) = served
            .call(
                "DELETE",
                "/api/v1/connectors/forest-east?preview=true",
                &served.admin,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["report"]["counters"]["deleted"], 300, "{body}");
        previews += 1;
        if served.run(run).await["status"] != "running" {
            break;
        }
    }
    let ended = served.wait(run).await;
    assert_eq!(ended["status"], "success", "{ended:#}");
    assert!(previews > 1, "no preview ran during the run; raise N");
    all_ended(&served.runs().await);
    served.stop().await;

    assert_eq!(
        hub.state("west").await,
        expected,
        "after {previews} previews"
    );
    // The previews kept nothing: east is as before, and its connector is still there.
    assert_eq!(hub.state("east").await.1.len(), 300);
    // And the next run has nothing left to do.
    let again = hub.sync_now("west").await;
    assert_eq!(
        again.counters.added + again.counters.deleted,
        0,
        "{again:?}"
    );
    assert_eq!(hub.state("west").await, expected);
}

/// Issue 17: new entry ids came from `MAX(id)+1` read once per step, so two enterprises'
/// syncs at once collided (`UNIQUE constraint failed: entries.id`), and the join keys a large
/// sync holds were one set for all enterprises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_enterprises_started_by_the_api_and_the_scheduler_give_what_each_gives_alone() {
    const N: usize = 8_000;
    let enterprises = ["a", "b", "c"];
    let schedule = r#"
[schedules.c-nightly]
enterprise = "c"
when = "daily at 02:00"
time_zone = "UTC"
"#;
    let write = |hub: &Hub| {
        for (k, e) in enterprises.iter().enumerate() {
            hub.env
                .write(&format!("forest-{e}.csv"), forest(e, k * 1000, N, &[]));
        }
    };
    let mut expected = Vec::new();
    for e in enterprises {
        // Alone: a store of its own, and nothing else running.
        let alone = Hub::new(&enterprises, "500", "").await;
        write(&alone);
        alone.sync_now(e).await;
        expected.push(alone.state(e).await);
    }

    let hub = Hub::new(&enterprises, "500", schedule).await;
    write(&hub);
    let served = Served::start(&hub, "2026-06-01T01:59:59Z").await;
    let (a, b) = tokio::join!(served.start_sync_now("a"), served.start_sync_now("b"));
    served.clock.set("2026-06-01T02:00:00Z".parse().unwrap());
    let mut ran = Vec::new();
    for id in [a, b] {
        ran.push(served.wait(id).await);
    }
    // The scheduler's run of c.
    let c = loop {
        let runs = served.runs().await;
        if let Some(c) = runs
            .iter()
            .find(|r| r["enterprise"] == "c" && r["profile"] == "sync-now")
        {
            break c["id"].as_i64().unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    ran.push(served.wait(c).await);
    for run in &ran {
        assert_eq!(run["status"], "success", "{run:#}");
    }
    all_ended(&served.runs().await);
    served.stop().await;
    for (e, expected) in enterprises.iter().zip(expected) {
        assert_eq!(hub.state(e).await, expected, "enterprise {e}");
    }
}
