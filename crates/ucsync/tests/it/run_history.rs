//! Runs older than an enterprise's run history (`run_history_days`, 90 by default) are removed
//! when a run of the enterprise starts, with their steps and what each did to each object;
//! other enterprises' runs and newer ones stay. The setting is checked like every other.

use ucsync_store::{Counters, NewRun, ObjectOutcome, OutcomeChunk, RunEnd, RunStore, SqliteStore};

use crate::harness::{Env, forest_central_config, people};

const FORTY_DAYS_AGO: &str = "2020-01-01T00:00:00Z";

fn env_with_history(days: &str) -> Env {
    let env = Env::new();
    let config = forest_central_config("500", "", "").replace(
        "[enterprises.default]\n",
        &format!("[enterprises.default]\nrun_history_days = {days}\n"),
    );
    env.write("ucsync.toml", config);
    env.write("forest.csv", people(5, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    env
}

/// Records an ended run started long ago, with one outcome; its id.
async fn old_run(store: &SqliteStore, enterprise: &str, parent: Option<i64>) -> i64 {
    let id = store
        .create_run(NewRun {
            parent_id: parent,
            enterprise: enterprise.into(),
            connector: parent.map(|_| "forest".to_owned()),
            profile: if parent.is_some() {
                "delta-import"
            } else {
                "sync-now"
            }
            .into(),
            started_at: FORTY_DAYS_AGO.into(),
            started_by: "local".into(),
        })
        .await
        .unwrap();
    store
        .add_outcomes(OutcomeChunk {
            run_id: id,
            outcomes: vec![ObjectOutcome {
                connector: "forest".into(),
                object: "1".into(),
                object_type: "person".into(),
                action: "added".into(),
                message: None,
                changes: Vec::new(),
            }],
        })
        .await
        .unwrap();
    store
        .finish_run(
            id,
            RunEnd {
                status: "success".into(),
                ended_at: FORTY_DAYS_AGO.into(),
                counters: Counters::default(),
                message: None,
                status_file: None,
            },
        )
        .await
        .unwrap();
    id
}

fn run_ids(env: &Env) -> Vec<i64> {
    let runs = env.json(&["runs", "--limit", "1000"], 0);
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn runs_older_than_the_history_go_when_a_run_starts() {
    let env = env_with_history("30");
    env.json(&["sync-now"], 0);
    let recent = run_ids(&env);
    let (parent, step, elsewhere) = {
        let store = SqliteStore::open(&env.path("data")).await.unwrap();
        let parent = old_run(&store, "default", None).await;
        let step = old_run(&store, "default", Some(parent)).await;
        let elsewhere = old_run(&store, "other", None).await;
        (parent, step, elsewhere)
    };
    assert_eq!(run_ids(&env).len(), recent.len() + 3);

    // A preview commits nothing, and removes nothing either.
    env.json(&["sync-now", "--preview"], 0);
    assert!(run_ids(&env).contains(&parent));

    env.json(&["sync-now"], 0);
    let ids = run_ids(&env);
    assert!(!ids.contains(&parent) && !ids.contains(&step), "{ids:?}");
    assert!(ids.contains(&elsewhere), "{ids:?}");
    assert!(recent.iter().all(|r| ids.contains(r)), "{ids:?}");
    let store = SqliteStore::open(&env.path("data")).await.unwrap();
    assert!(store.outcomes(parent).await.unwrap().is_empty());
    assert!(store.outcomes(step).await.unwrap().is_empty());
    assert_eq!(store.outcomes(elsewhere).await.unwrap().len(), 1);
}

#[test]
fn the_run_history_is_a_number_of_days() {
    for (days, ok) in [("0", false), ("1", true), ("36500", true), ("36501", false)] {
        let env = env_with_history(days);
        let out = env.run(&["check"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if ok {
            assert_eq!(out.status.code(), Some(0), "{days}: {text}");
        } else {
            assert_eq!(out.status.code(), Some(2), "{days}: {text}");
            assert!(
                text.contains("enterprises.default.run_history_days")
                    && text.contains("from 1 to 36500"),
                "{days}: {text}"
            );
        }
    }
}
