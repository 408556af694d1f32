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
    // A further run has nothing left to do.
    let again = env.json(&["sync-now"], 0);
    assert_eq!(again["counters"]["added"], 0);
    assert_eq!(again["counters"]["updated"], 0);
    assert_eq!(again["counters"]["deleted"], 0);
}
