//! What a command or a server leaves in the data directory when it ends: the whole store in
//! `ucsync.db`, so that a copy of that one file (a backup taken while nothing runs) holds
//! everything committed, and no write-ahead log is left to grow the directory.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Env, forest_central_config, people};
use crate::serve::{Server, call, setup, wait_for_run};

const PEOPLE: usize = 3_000;

/// A new working directory with the configuration, the secret key and `ucsync.db` of `env`,
/// and nothing else of its data directory.
fn copy_of_the_database_file(env: &Env) -> Env {
    let copy = Env::new();
    copy.write("ucsync.toml", env.read("ucsync.toml"));
    copy.write("data/secret.key", env.bytes("data/secret.key"));
    copy.write("data/ucsync.db", env.bytes("data/ucsync.db"));
    copy
}

/// The ids and statuses of the runs a store lists.
fn runs(env: &Env) -> Vec<(i64, String)> {
    let runs = env.json(&["runs"], 0);
    let mut list: Vec<(i64, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_i64().unwrap(), r["status"].to_string()))
        .collect();
    list.sort();
    list
}

fn write_ahead_log(env: &Env) -> u64 {
    std::fs::metadata(env.path("data/ucsync.db-wal")).map_or(0, |m| m.len())
}

/// No log is left beside `ucsync.db`, and a copy of that file alone lists the same `people`
/// entries and the same runs as the data directory.
fn assert_the_file_alone_holds_the_store(env: &Env, people: usize) {
    assert_eq!(write_ahead_log(env), 0, "a write-ahead log was left");
    let copy = copy_of_the_database_file(env);
    let directory = env.directory();
    assert_eq!(directory.len(), people);
    let copied = copy.directory();
    assert_eq!(copied.len(), people, "the copy misses entries");
    assert_eq!(copied, directory);
    assert_eq!(runs(&copy), runs(env), "the copy misses runs");
}

/// A sync-now through the server's API, to its end.
async fn sync_now(http: &reqwest::Client, server: &Server, operator: &str, viewer: &str) {
    let url = server.url("/api/v1/enterprises/default/sync-now");
    let (status, body) = call(http, "POST", &url, Some(operator)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = wait_for_run(http, server, viewer, body["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "success", "{run}");
}

/// A forest of `PEOPLE` provisioned into a central file by one sync-now of the CLI.
fn synced_forest() -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(PEOPLE, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    env.json(&["sync-now"], 0);
    env
}

#[test]
fn a_command_leaves_the_whole_store_in_its_database_file() {
    let env = synced_forest();
    assert_the_file_alone_holds_the_store(&env, PEOPLE);
}

/// A reader of another process holds a snapshot while a command ends: the command ends at
/// once (the log stays), and the next one, with no reader left, writes the log into the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_another_process_does_not_hold_a_command_back() {
    use sqlx::Connection;
    let env = synced_forest();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(env.path("data/ucsync.db"))
        .read_only(true);
    let mut reader = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut reader).await.unwrap();
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    assert_eq!(before as usize, PEOPLE);

    env.write("forest.csv", people(PEOPLE + 100, 0));
    let began = std::time::Instant::now();
    let report = env.json(&["sync-now"], 0);
    assert_eq!(report["status"], "success", "{report}");
    assert!(
        began.elapsed() < std::time::Duration::from_secs(15),
        "the reader held the command back {:?}",
        began.elapsed()
    );
    assert!(
        write_ahead_log(&env) > 0,
        "the reader's snapshot was not kept"
    );
    let still: i64 = sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(&mut reader)
        .await
        .unwrap();
    assert_eq!(still, before, "the reader's snapshot changed under it");
    reader.close().await.unwrap();

    env.json(&["sync-now"], 0);
    assert_the_file_alone_holds_the_store(&env, PEOPLE + 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_leaves_the_whole_store_in_its_database_file() {
    let (env, [viewer, operator, _]) = setup(PEOPLE);
    let http = reqwest::Client::new();
    let server = Server::start(&env);
    sync_now(&http, &server, &operator, &viewer).await;
    assert_eq!(server.stop(), Some(0), "SIGTERM exits 0");
    assert_the_file_alone_holds_the_store(&env, PEOPLE);

    // Killed, a server leaves its last changes in the log; the next process that holds the
    // data directory writes them into the file.
    env.write("forest.csv", people(PEOPLE + 100, 0));
    let server = Server::start(&env);
    sync_now(&http, &server, &operator, &viewer).await;
    drop(server); // kill -9
    assert!(write_ahead_log(&env) > 0, "the killed server left no log");
    let held: Value = env.json(&["sync-now"], 0);
    assert_eq!(held["counters"]["added"], 0, "{held}");
    assert_the_file_alone_holds_the_store(&env, PEOPLE + 100);
}
