//! `kill -9` in the middle of a large run, then a rerun, gives the same files and directory as
//! a run that was never interrupted.

use std::time::{Duration, Instant};

use crate::harness::{Env, forest_central_config, people};

const N: usize = 20_000;

fn setup() -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(N, 1));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\r\n",
    );
    env
}

#[test]
fn kill_9_mid_run_then_rerun_converges() {
    let reference = setup();
    reference.json(&["sync-now"], 0);
    let expected_file = reference.read("central.csv");
    let expected_dir = reference.directory();
    assert_eq!(expected_dir.len(), N);

    // Kill at several moments: during import, sync and export.
    let env = setup();
    let start = Instant::now();
    let mut kills = 0;
    for delay_ms in [150u64, 600, 1_200, 2_500] {
        let mut child = env
            .command(&["sync-now"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills > 0,
        "the run finished before it could be killed ({:?}); raise N",
        start.elapsed()
    );

    // The next runs converge (a stale lock from a killed run does not block them).
    let out = env.run(&["sync-now"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.read("central.csv"), expected_file);
    assert_eq!(env.directory(), expected_dir);
    assert!(temps(&env).is_empty(), "left behind: {:?}", temps(&env));
    // Every killed run ended as interrupted.
    let runs = env.json(&["runs", "--limit", "1000"], 0);
    let running: Vec<_> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "running")
        .collect();
    assert!(running.is_empty(), "{running:#?}");
    // A further run has nothing left to do.
    let again = env.json(&["sync-now"], 0);
    assert_eq!(again["counters"]["added"], 0);
    assert_eq!(again["counters"]["updated"], 0);
    assert_eq!(again["counters"]["deleted"], 0);
}

/// SIGTERM (as systemd or `kill` sends it) or Ctrl-C stops a local run at a batch boundary:
/// it ends `stopped` with the exit code of a partial run, and the next run converges. Before,
/// the process died where it stood and its run stayed `interrupted`.
#[test]
fn sigterm_stops_a_local_run_at_a_batch_boundary() {
    let reference = setup();
    reference.json(&["sync-now"], 0);
    let env = setup();
    let mut child = env
        .command(&["sync-now"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_for_run(&mut child, |_| true);
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("stopping: the batch being written commits"),
        "{stderr}"
    );
    let runs = env.json(&["runs"], 0);
    let list = runs.as_array().unwrap();
    let sync_now = list.iter().find(|r| r["profile"] == "sync-now").unwrap();
    assert_eq!(sync_now["status"], "stopped", "{runs:#}");
    for run in list {
        assert!(
            run["status"] == "success" || run["status"] == "stopped",
            "{run:#}"
        );
    }
    // The next run goes on from what the stopped one committed.
    env.json(&["sync-now"], 0);
    assert_eq!(env.read("central.csv"), reference.read("central.csv"));
    assert_eq!(env.directory(), reference.directory());
}

/// The temporary files of writes of central.csv in the env's directory.
fn temps(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.path(""))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".central.csv.") && n.ends_with(".tmp"))
        .collect()
}

/// Issue 17: a run killed with `kill -9` stayed `running` for ever, so monitoring by status
/// could not be trusted.
#[test]
fn a_killed_run_is_recorded_as_interrupted_by_the_next_command() {
    let env = setup();
    let mut child = env
        .command(&["sync-now"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once its run is recorded (the store exists and lists it).
    env.wait_for_run(&mut child, |_| true);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let runs = env.json(&["runs"], 0);
    let list = runs.as_array().unwrap();
    let sync_now = list.iter().find(|r| r["profile"] == "sync-now").unwrap();
    assert_eq!(sync_now["status"], "interrupted", "{runs:#}");
    // Its steps ended before the kill, or were interrupted with it.
    for run in list {
        assert!(
            run["status"] == "success" || run["status"] == "interrupted",
            "{run:#}"
        );
        if run["status"] == "interrupted" {
            assert!(
                run["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("interrupted"),
                "{run:#}"
            );
        }
    }
    // The next run goes on from what the killed one committed.
    env.json(&["sync-now"], 0);
}

/// Issue 17: the temporary file of an export killed while writing stayed beside the target;
/// the next write removes it, but never one a live writer holds.
#[test]
fn a_killed_exports_temporary_file_is_removed_by_the_next_run() {
    let env = setup();
    env.write("forest.csv", people(50, 1));
    env.write(
        ".central.csv.k1ll3d.tmp",
        "externalId,email\r\n1,half a row",
    );
    env.write(".central.csv.l1v3ly.tmp", "being written");
    let held = std::fs::File::open(env.path(".central.csv.l1v3ly.tmp")).unwrap();
    held.lock().unwrap();
    env.json(&["sync-now"], 0);
    assert_eq!(temps(&env), [".central.csv.l1v3ly.tmp"]);
    // An import's status file killed while being written, the same.
    let status = "data/status/.9-forest-import-status.csv.k1ll3d.tmp";
    env.write(status, "employeeId,status\r\n");
    drop(held);
    env.write("forest.csv", people(51, 1));
    env.json(&["sync-now"], 0);
    assert!(temps(&env).is_empty(), "{:?}", temps(&env));
    assert!(!env.path(status).exists());
}
