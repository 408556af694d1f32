//! A configuration file changed on the first day: a new export flow is previewed and exported
//! by the next `sync-now` without a hand-run `full-sync`, and a connector left out of the file
//! is refused everywhere a configuration is applied (`config apply`, a file given to a command
//! or to `serve`, the API) until `connector delete` takes it out whole. A full import killed
//! with `kill -9` is finished by the next run, even a delta import.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Env, forest_central_config, people};
use crate::serve::{Server, admin, call, call_with};

fn setup() -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(4, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    env.json(&["sync-now"], 0);
    env
}

fn emails(env: &Env) -> Vec<String> {
    env.read("central.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_owned())
        .collect()
}

#[test]
fn a_changed_export_flow_is_previewed_and_exported_by_the_next_sync_now() {
    let env = setup();
    assert!(emails(&env).iter().all(|e| e.ends_with("@acme.com")));
    let before = env.read("central.csv");

    env.write(
        "ucsync.toml",
        forest_central_config("500", "", "").replace("\"acme.com\"", "\"example.org\""),
    );
    let preview = env.json(&["sync-now", "--preview"], 0);
    let sync = Env::step(&preview, "central", "full-sync");
    assert!(
        sync["message"]
            .as_str()
            .unwrap_or("")
            .contains("full-sync instead of delta-sync: the rules changed"),
        "{sync:#}"
    );
    let export = Env::step(&preview, "central", "export");
    assert!(
        export["message"]
            .as_str()
            .unwrap_or("")
            .contains("4 pending exports were not sent"),
        "{export:#}"
    );
    assert_eq!(env.read("central.csv"), before, "a preview writes nothing");

    let run = env.json(&["sync-now"], 0);
    Env::step(&run, "forest", "full-sync");
    assert_eq!(
        Env::step(&run, "central", "export")["counters"]["updated"],
        4
    );
    let now = emails(&env);
    assert_eq!(now.len(), 4);
    assert!(now.iter().all(|e| e.ends_with("@example.org")), "{now:?}");

    let next = env.json(&["sync-now"], 0);
    Env::step(&next, "central", "delta-sync");
}

/// The forest/central configuration without `central`.
fn without_central() -> String {
    let full = forest_central_config("500", "", "");
    full.split("[connectors.central]")
        .next()
        .unwrap()
        .replace(r#"["central", "forest"]"#, r#"["forest"]"#)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_refused(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let text = stderr(out);
    assert!(
        text.contains("connector central is left out of the configuration but its staging space still holds 4 objects")
            && text.contains("ucsync connector delete central"),
        "{text}"
    );
}

#[test]
fn a_connector_left_out_of_the_file_is_refused_until_connector_delete() {
    let env = setup();
    env.write("ucsync.toml", without_central());
    assert_refused(&env.run(&["config", "apply", "ucsync.toml"]));
    assert_refused(&env.run(&["sync-now"]));
    assert_refused(&env.run(&["sync-now", "--preview"]));

    // `serve` with the file refuses to start (waited for, never left running).
    let mut serve = env
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while serve.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if serve.try_wait().unwrap().is_none() {
        serve.kill().unwrap();
        serve.wait().unwrap();
        panic!("serve started with a file that leaves connector central out");
    }
    assert_refused(&serve.wait_with_output().unwrap());

    // Nothing changed: the store still has central, whole.
    let export = env.run(&["config", "export"]);
    assert!(String::from_utf8_lossy(&export.stdout).contains("[connectors.central]"));

    let done = env.json(&["connector", "delete", "central"], 0);
    assert_eq!(done["status"], "success", "{done:#}");
    let export = env.run(&["config", "export"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("central"));
    env.json(&["sync-now"], 0);
    let out = env.run(&["config", "apply", "ucsync.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_put_through_the_api_that_leaves_a_connector_out_is_refused() {
    let env = setup();
    let admin = admin(&env, "alice", "admin");
    let server = Server::start(&env);
    let http = reqwest::Client::new();

    let (status, body) = call_with(
        &http,
        "PUT",
        &server.url("/api/v1/config"),
        Some(&admin),
        Some(&Value::String(without_central())),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("connector central is left out")
            && error.contains("DELETE /api/v1/connectors/central"),
        "{error}"
    );
    let (_, config) = call(&http, "GET", &server.url("/api/v1/config"), Some(&admin)).await;
    assert!(
        config["toml"]
            .as_str()
            .unwrap()
            .contains("[connectors.central]")
    );

    let (status, body) = call(
        &http,
        "DELETE",
        &server.url("/api/v1/connectors/central"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call_with(
        &http,
        "PUT",
        &server.url("/api/v1/config"),
        Some(&admin),
        Some(&Value::String(without_central())),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn a_killed_full_import_is_finished_by_the_next_delta_import() {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    // Large enough that the import is still reading when it is killed.
    env.write("forest.csv", people(200_000, 0));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    let mut child = env
        .command(&["run", "forest", "full-import"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once its run is recorded.
    env.wait_for_run(&mut child, |r| r["profile"] == "full-import");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let runs = env.json(&["runs"], 0);
    assert_eq!(runs[0]["status"], "interrupted", "{runs:#}");

    let next = env.json(&["run", "forest", "delta-import"], 0);
    assert_eq!(next["profile"], "full-import", "{next:#}");
    assert!(
        next["message"]
            .as_str()
            .unwrap_or("")
            .contains("full-import instead of delta-import: the last full import did not finish"),
        "{next:#}"
    );
    assert_eq!(
        next["counters"]["added"].as_i64().unwrap()
            + next["counters"]["unchanged"].as_i64().unwrap(),
        200_000,
        "{next:#}"
    );
    let again = env.json(&["run", "forest", "delta-import"], 0);
    assert_eq!(again["profile"], "delta-import", "{again:#}");
}

const PBX_CONFIG: &str = r#"version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node"]

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
dynamic_extensions_only = false
[connectors.node.rules]
projection = { account = "account" }
[connectors.node.rules.import_flows]
givenName = "givenName"
sn = "sn"
telephoneNumber = "telephoneNumber"
"#;

fn account_names(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = env
        .json(&["directory", "search", "--type", "account"], 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["attributes"]["givenName"]["values"][0]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn dynamic_extensions_only_turned_on_takes_effect_at_the_next_sync_now() {
    let env = Env::new();
    env.write("ucsync.toml", PBX_CONFIG);
    env.write(
        "node.csv",
        "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic\n\
         1001,John,Smith,Sales,5330e IP,08:00:0F:00:00:01,,,,no\n\
         1101,Mary,Jones,Support,6920 IP,08:00:0F:00:01:01,,,,yes\n",
    );
    env.json(&["sync-now"], 0);
    assert_eq!(account_names(&env), ["John", "Mary"]);

    // The node's file is the same: only the setting changed.
    env.write(
        "ucsync.toml",
        PBX_CONFIG.replace(
            "dynamic_extensions_only = false",
            "dynamic_extensions_only = true",
        ),
    );
    let run = env.json(&["sync-now"], 0);
    assert_eq!(account_names(&env), ["Mary"], "{run:#}");
    let import = Env::step(&run, "node", "full-import");
    assert!(
        import["message"]
            .as_str()
            .unwrap_or("")
            .contains("full-import instead of delta-import: the connector's settings that change what an import reads changed"),
        "{import:#}"
    );
}
