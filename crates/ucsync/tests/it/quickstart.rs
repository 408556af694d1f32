//! The bundled quickstart gives exactly the expected central file, and a second run changes
//! nothing.

use crate::harness::{Env, counters, repo_root};

fn quickstart() -> Env {
    let env = Env::new();
    let src = repo_root().join("examples/quickstart");
    std::fs::create_dir_all(env.path("out")).unwrap();
    for f in ["ucsync.toml", "forest-a.csv", "forest-b.csv", "central.csv"] {
        env.write(f, std::fs::read(src.join(f)).unwrap());
    }
    env
}

#[test]
fn quickstart_output_is_exact() {
    let env = quickstart();
    let report = env.json(&["sync-now"], 0);
    assert_eq!(report["status"], "success");
    let expected =
        std::fs::read_to_string(repo_root().join("examples/quickstart/expected/central.csv"))
            .unwrap();
    assert_eq!(env.read("out/central.csv"), expected);
    // The out-of-scope test account was not provisioned, the partner row was kept.
    assert!(!expected.contains("test.account"));
    assert!(expected.contains("vendor-1"));
    assert_eq!(
        counters(Env::step(&report, "central", "export")),
        [6, 0, 0, 0, 0]
    );

    // Nothing changed: nothing is processed or written.
    let before = std::fs::metadata(env.path("out/central.csv"))
        .unwrap()
        .modified()
        .unwrap();
    let again = env.json(&["sync-now"], 0);
    for step in again["steps"].as_array().unwrap() {
        let [added, updated, deleted, _, errors] = counters(step);
        assert_eq!((added, updated, deleted, errors), (0, 0, 0, 0), "{step:#}");
    }
    let after = std::fs::metadata(env.path("out/central.csv"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        before, after,
        "an export with nothing pending must not rewrite the file"
    );

    // The directory holds the six people, each value with its source.
    let people = env.json(&["directory", "search", "--type", "person"], 0);
    assert_eq!(people.as_array().unwrap().len(), 6);
    let anna = env.json(&["directory", "search", "--attr", "uid=a-1001"], 0);
    assert_eq!(anna[0]["attributes"]["mail"]["source"], "forest-a");
    assert_eq!(
        anna[0]["attributes"]["displayName"]["values"][0],
        "Anna Berg"
    );

    // Runs are recorded and listed.
    let runs = env.json(&["runs"], 0);
    assert!(runs.as_array().unwrap().len() >= 10);
    let id = report["run_id"].as_i64().unwrap().to_string();
    let shown = env.json(&["runs", "show", &id], 0);
    assert_eq!(shown["run"]["profile"], "sync-now");
    assert_eq!(shown["steps"].as_array().unwrap().len(), 9);
}
