//! Deleting a connector (a synchronizer) deletes the entries it owns and only those, shows how
//! many first, and is held by the deletion threshold; each connector's last import, sync and
//! export are listed with their counters.

use serde_json::{Value, json};

use crate::harness::{Env, people};

const CENTRAL_HEADER: &str = "externalId,email,name\n";

fn forest(name: &str, file: &str) -> String {
    format!(
        r#"
[connectors.{name}]
kind = "csv"
[connectors.{name}.settings]
path = "{file}"
key = ["employeeId"]
[connectors.{name}.rules]
projection = {{ person = "person" }}
join = [{{ staged = "employeeId", directory = "uid" }}]
[connectors.{name}.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
mail = "mail"
"#
    )
}

fn config(with_a: bool) -> String {
    let order = if with_a {
        r#"["central", "forest-a", "forest-b"]"#
    } else {
        r#"["central", "forest-b"]"#
    };
    let mut s = format!(
        r#"version = 1
[enterprises.default]
sync_order = {order}
deletion_threshold = 3

[connectors.central]
kind = "csv"
[connectors.central.settings]
path = "central.csv"
object_type = "contact"
key = ["externalId"]
header = ["externalId", "email", "name"]
[connectors.central.rules]
join = [{{ staged = "externalId", directory = "uid" }}]
provisioning = [{{ from = "person", object_type = "contact" }}]
deprovisioning = {{ action = "delete" }}
[connectors.central.rules.export_flows]
externalId = "uid"
email = "mail"
name = '"${{givenName}} ${{sn}}"'
"#
    );
    if with_a {
        s.push_str(&forest("forest-a", "a.csv"));
    }
    s.push_str(&forest("forest-b", "b.csv"));
    s
}

fn uids(env: &Env) -> Vec<String> {
    let mut list: Vec<String> = env
        .directory()
        .iter()
        .map(|e| {
            e["attributes"]["uid"]["values"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    list.sort();
    list
}

fn central_ids(env: &Env) -> Vec<String> {
    let mut ids: Vec<String> = env
        .read("central.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn deleting_a_synchronizer_deletes_the_entries_it_owns_and_only_those() {
    let env = Env::new();
    env.write("ucsync.toml", config(true));
    // Person 4 is in both forests: forest-b shares that entry, so it is not forest-a's alone.
    env.write("a.csv", people(5, 0));
    env.write("b.csv", people(5, 4));
    env.write("central.csv", CENTRAL_HEADER);
    env.json(&["sync-now"], 0);
    let all: Vec<String> = (0..9).map(|i| i.to_string()).collect();
    assert_eq!(uids(&env), all);
    assert_eq!(central_ids(&env), all);

    // Last-sync status: each connector's last import, sync and export with counters.
    let status = env.json(&["connector", "status"], 0);
    let a = status
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "forest-a")
        .unwrap();
    assert_eq!(a["kind"], "csv");
    assert_eq!(a["last"]["import"]["status"], "success", "{a:#}");
    assert_eq!(a["last"]["import"]["counters"]["added"], 5);
    assert_eq!(a["last"]["sync"]["profile"], "delta-sync");
    assert!(a["last"]["sync"]["ended_at"].is_string());
    let central = env.json(&["connector", "status", "central"], 0);
    assert_eq!(central[0]["last"]["export"]["counters"]["added"], 9);

    // While the file still has the connector, deleting it would only bring it back.
    let out = env.run(&["connector", "delete", "forest-a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("take [connectors.forest-a]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    env.write("ucsync.toml", config(false));
    // Four entries are forest-a's alone: more than the threshold of 3.
    let held = env.json(&["connector", "delete", "forest-a"], 3);
    assert_eq!(held["status"], "stopped-deletion-threshold");
    let message = held["message"].as_str().unwrap();
    assert!(message.contains("the 4 entries it owns"), "{message}");
    assert!(message.contains("--allow-deletes 4"), "{message}");
    assert_eq!(uids(&env), all, "nothing changed");

    let preview = env.json(
        &[
            "connector",
            "delete",
            "forest-a",
            "--preview",
            "--allow-deletes",
            "4",
        ],
        0,
    );
    assert_eq!(preview["preview"], true);
    let disconnected = preview["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "disconnected")
        .count();
    assert_eq!(disconnected, 5, "{preview:#}");
    assert_eq!(uids(&env), all, "a preview changes nothing");

    let done = env.json(
        &["connector", "delete", "forest-a", "--allow-deletes", "4"],
        0,
    );
    assert_eq!(done["status"], "success", "{done:#}");
    assert!(
        done["message"]
            .as_str()
            .unwrap()
            .contains("4 entries it owned deleted")
    );
    let left: Vec<String> = (4..9).map(|i| i.to_string()).collect();
    assert_eq!(uids(&env), left, "only forest-a's own entries went");
    // The audit names the command line (`local`) for the deletion, not for the preview.
    let audit = env.json(&["audit"], 0);
    let deleted: Vec<&Value> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "connector-deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{audit:#}");
    assert_eq!(
        (&deleted[0]["administrator"], &deleted[0]["object"]),
        (&json!("local"), &json!("connector forest-a"))
    );
    // Person 4 now comes from forest-b alone.
    let four = env
        .directory()
        .into_iter()
        .find(|e| e["attributes"]["uid"]["values"][0] == "4")
        .unwrap();
    assert_eq!(
        four["attributes"]["mail"]["values"][0],
        "user4@forest.example"
    );

    // Gone from the stored configuration and from the status list.
    let export = env.run(&["config", "export"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("forest-a"));
    let status = env.json(&["connector", "status"], 0);
    let names: Vec<&Value> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, ["central", "forest-b"]);

    // Central loses their contacts at its next export, itself held by the threshold.
    let held = env.json(&["sync-now"], 3);
    assert_eq!(held["status"], "stopped-deletion-threshold");
    env.json(&["sync-now", "--allow-deletes", "4"], 0);
    assert_eq!(central_ids(&env), left);
    let again = env.json(&["sync-now"], 0);
    assert_eq!(again["counters"]["added"], 0);
    assert_eq!(again["counters"]["deleted"], 0);
}
