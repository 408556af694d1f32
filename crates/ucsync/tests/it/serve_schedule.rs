//! The scheduler of `ucsync serve` on an injected clock, over a real SQLite store and real CSV
//! files: a slot in Berlin's spring-forward gap fires at the end of the gap; a run due while
//! another of the enterprise is in progress is skipped and the skip recorded; after downtime,
//! one catch-up run per schedule, never one per missed slot. Runs and the audit name the
//! scheduler as who started them.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use ucsync_engine::Engine;
use ucsync_model::config;
use ucsync_server::{AppState, ManualClock};
use ucsync_store::{ConfigStore, RunRecord, SqliteStore};

use crate::harness::{Env, forest_central_config, people};

const SCHEDULES: &str = r#"
[schedules.a-sync-now]
enterprise = "default"
when = "daily at 02:30"
time_zone = "Europe/Berlin"

[schedules.b-forest]
connector = "forest"
profile = "full-import"
when = "daily at 02:30"
time_zone = "Europe/Berlin"
"#;

/// A server state on the env's store with the clock at `now`, and its scheduler running.
async fn start(
    env: &Env,
    now: &str,
) -> (Arc<AppState>, Arc<ManualClock>, tokio::task::JoinHandle<()>) {
    // A skipped run is recorded at the injected clock's time (in March 2026), the runs the
    // engine starts at the real one: a run history long enough keeps the first ones.
    let text = format!("{}{SCHEDULES}", forest_central_config("500", "", ""))
        .replace(
            "path = \"",
            &format!("path = \"{}/", env.path("").display()),
        )
        .replace(
            "[enterprises.default]\n",
            "[enterprises.default]\nrun_history_days = 36500\n",
        );
    let config = config::parse(&text, &ucsync_connectors::Connectors).unwrap();
    let connectors = config::build_all(&config, &ucsync_connectors::Connectors).unwrap();
    let store = Arc::new(SqliteStore::open(&env.path("data")).await.unwrap());
    store.put_config_text(&text).await.unwrap();
    let clock = Arc::new(ManualClock::new(now.parse().unwrap()));
    let state = AppState::new(
        Arc::new(Engine::new(store, config, connectors)),
        Arc::new(ucsync_connectors::Connectors),
        env.path("data/status"),
        clock.clone(),
    );
    let scheduler = tokio::spawn(ucsync_server::scheduler::run(state.clone()));
    (state, clock, scheduler)
}

async fn runs(state: &AppState) -> Vec<RunRecord> {
    let mut runs = state.engine().store().runs(100).await.unwrap();
    runs.retain(|r| r.parent_id.is_none());
    runs.reverse();
    runs
}

/// Waits until `n` top-level runs exist and none is running.
async fn settle(state: &AppState, n: usize) -> Vec<RunRecord> {
    for _ in 0..600 {
        let runs = runs(state).await;
        if runs.len() >= n && runs.iter().all(|r| r.status != "running") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} finished runs, have {:#?}", runs(state).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_runs_start_overlaps_are_skipped_and_downtime_owes_one_catch_up() {
    let env = Env::new();
    env.write("forest.csv", people(3000, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );

    // 2026-03-29: Berlin's clocks jump from 02:00 to 03:00; 02:30 does not exist that night
    // and the runs are due at 03:00 CEST = 01:00 UTC.
    let (state, clock, scheduler) = start(&env, "2026-03-29T00:59:58Z").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        runs(&state).await.is_empty(),
        "nothing is due before the gap ends"
    );
    clock.set("2026-03-29T01:00:00Z".parse().unwrap());
    let all = settle(&state, 2).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(
        (all[0].profile.as_str(), all[0].status.as_str()),
        ("sync-now", "success"),
        "{all:#?}"
    );
    // The forest's own schedule came due while the enterprise's Sync Now ran: skipped.
    assert_eq!(all[1].status, "skipped", "{all:#?}");
    assert_eq!(all[1].connector.as_deref(), Some("forest"));
    let message = all[1].message.clone().unwrap_or_default();
    assert!(
        message.contains("b-forest") && message.contains(&format!("run {}", all[0].id)),
        "{message}"
    );
    // Both, and the steps of the Sync Now, are the scheduler's, in the runs and the audit.
    let store = state.engine().store().clone();
    let every = store.runs(100).await.unwrap();
    assert!(
        every
            .iter()
            .all(|r| r.started_by.as_deref() == Some("scheduler")),
        "{every:#?}"
    );
    let audit = store.audit(10).await.unwrap();
    let started: Vec<(&str, &str)> = audit
        .iter()
        .filter(|l| l.action == "run-started")
        .map(|l| (l.administrator.as_str(), l.object.as_str()))
        .collect();
    assert_eq!(started, [("scheduler", &*format!("run {}", all[0].id))]);
    let states = state.engine().store().schedule_states().await.unwrap();
    assert_eq!(states.len(), 2, "{states:?}");
    for s in &states {
        assert_eq!(s.last_slot, "2026-03-29T01:00:00Z", "{s:?}");
    }

    // Nothing more until the next slot.
    clock.set("2026-03-29T20:00:00Z".parse().unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(runs(&state).await.len(), 2);

    // Down for three days: one catch-up run at start, not three.
    scheduler.abort();
    drop(state);
    let (state, clock, _scheduler) = start(&env, "2026-04-02T09:00:00Z").await;
    let all = settle(&state, 4).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all_after = runs(&state).await;
    assert_eq!(
        all_after.len(),
        4,
        "one catch-up each, no more: {all_after:#?}"
    );
    assert_eq!(all[2].profile, "sync-now");
    let states = state.engine().store().schedule_states().await.unwrap();
    let a = states.iter().find(|s| s.name == "a-sync-now").unwrap();
    assert!(
        a.note.as_deref().unwrap_or("").contains("catch-up"),
        "{a:?}"
    );
    assert_eq!(
        a.last_slot, "2026-04-02T00:30:00Z",
        "the latest missed slot (02:30 CEST)"
    );

    // And the next slot runs as usual.
    clock.set("2026-04-03T00:30:00Z".parse::<Timestamp>().unwrap());
    let all = settle(&state, 5).await;
    assert!(all.len() >= 5, "{all:#?}");
}
