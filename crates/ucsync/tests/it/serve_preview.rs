//! Preview and lifting the deletion threshold through a running server: the CLI's `--preview`
//! and `--allow-deletes` with `--server`, and who may lift the threshold.

use crate::harness::{Env, forest_central_config, people};
use crate::serve::{Server, setup};

/// `ucsync --server URL --token T ARGS…` with `--json`, and its exit code.
fn remote(env: &Env, server: &Server, token: &str, args: &[&str]) -> (Option<i32>, String) {
    let base = server.url("");
    let mut all = vec!["--json", "--server", base.as_str(), "--token", token];
    all.extend_from_slice(args);
    let out = env.run(&all);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn preview_and_allow_deletes_work_through_the_server() {
    let (env, [_viewer, operator, admin]) = setup(50);
    env.write("ucsync.toml", forest_central_config("5", "", ""));
    let server = Server::start(&env);
    let (code, out) = remote(&env, &server, &operator, &["sync-now"]);
    assert_eq!(code, Some(0), "{out}");
    let central = env.read("central.csv");

    // 20 of 50 leave, more than the threshold of 5: the preview shows where it stops.
    env.write("forest.csv", people(30, 0));
    let (code, out) = remote(&env, &server, &operator, &["sync-now", "--preview"]);
    assert_eq!(code, Some(3), "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["preview"], true, "{report:#}");
    assert_eq!(report["status"], "stopped-deletion-threshold", "{report:#}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("--allow-deletes 20"),
        "{report:#}"
    );
    assert_eq!(env.read("central.csv"), central, "a preview writes nothing");

    // Lifting the threshold is for administrators.
    let (code, out) = remote(
        &env,
        &server,
        &operator,
        &["sync-now", "--allow-deletes", "20"],
    );
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("admin"), "{out}");
    let (code, out) = remote(
        &env,
        &server,
        &admin,
        &["sync-now", "--allow-deletes", "20"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(env.read("central.csv").lines().count(), 31);
    assert_eq!(server.stop(), Some(0));
}
