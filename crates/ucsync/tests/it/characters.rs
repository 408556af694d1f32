//! The valid-character rule through the binary: a rejected object is a per-object error (exit
//! code 3, the message in `runs show`), the other objects sync, the rejected one keeps its
//! previous state; `character_rule = false` lets the value in, and a target that checks (the
//! default) still refuses to write it.

use crate::harness::{Env, counters, forest_central_config, people};

const CENTRAL_HEADER: &str = "externalId,email,displayName,phone,department\r\n";

fn config(character_rule: &str) -> String {
    let config = forest_central_config("500", "", "");
    let forest = "[connectors.forest]\nkind = \"csv\"\n";
    assert!(config.contains(forest), "{config}");
    config.replace(forest, &format!("{forest}{character_rule}\n"))
}

#[test]
fn an_invalid_character_is_a_per_object_error_and_the_run_goes_on() {
    let env = Env::new();
    env.write("ucsync.toml", config(""));
    env.write("forest.csv", people(3, 1));
    env.write("central.csv", CENTRAL_HEADER);
    let out = env.run(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.json(&["sync-now"], 0);
    assert!(env.read("central.csv").contains("Given2 Sur2"));

    // Person 2 gets a bell in the given name (line 3), person 3 a new department.
    let text = env
        .read("forest.csv")
        .replace("2,Given2,", "2,Gi\u{7}ven2,")
        .replace(",Dept3\n", ",Moved\n");
    env.write("forest.csv", text);
    let report = env.json(&["sync-now"], 3);
    assert_eq!(report["status"], "completed-with-errors");
    let import = Env::step(&report, "forest", "delta-import");
    assert_eq!(import["status"], "completed-with-errors");
    assert_eq!(counters(import), [0, 1, 0, 1, 1]);

    let id = import["run_id"].as_i64().unwrap().to_string();
    let shown = env.json(&["runs", "show", &id], 0);
    let errors: Vec<&serde_json::Value> = shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{shown:#}");
    assert_eq!(errors[0]["object"], "2", "{shown:#}");
    assert_eq!(
        errors[0]["message"],
        "attribute \"givenName\" has an invalid character U+0007 at position 3 (line 3); \
         fix the value in the source, or set character_rule = false on connector forest"
    );

    // Person 3's change went through; person 2 kept the value it had.
    let central = env.read("central.csv");
    assert!(central.contains("Given2 Sur2"), "{central}");
    assert!(
        central.contains("3,user3@acme.com,Given3 Sur3,+1 555 0000003,Moved"),
        "{central}"
    );
    assert!(!central.contains('\u{7}'), "{central}");
    assert_eq!(central.lines().count(), 4, "{central}");

    // With character_rule = false the forest lets the value in (the file has not changed since
    // the last import, which a delta import skips: read it in full); the central file checks
    // by default and does not get it.
    env.write("ucsync.toml", config("character_rule = false"));
    let full = env.json(&["run", "forest", "full-import"], 0);
    assert_eq!(counters(&full), [0, 1, 0, 2, 0]);
    let report = env.json(&["sync-now"], 3);
    assert_eq!(
        Env::step(&report, "central", "export")["status"],
        "completed-with-errors"
    );
    assert!(!env.read("central.csv").contains('\u{7}'));
}
