//! Number retention for whole accounts, through the binary: a PBX account whose node stops
//! giving its last number stays while data of its own (numbers added by hand, dynamic statuses)
//! refers to it, loses the node's other values, is linked again when the node gives it again,
//! and goes at the first sync after the administrator removes the last of that data. Hand-added
//! numbers are listed among the account's numbers. Both PBX flavors; the CLI and the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::Env;
use crate::serve::{Server, admin, call, call_with};
use crate::serve_read::run;

const HEADER: &str = "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic\n";
const JOHN_DESK: &str = "1001,John,Smith,Sales,5330e IP,08:00:0F:00:00:01,,,,\n";
const JOHN_SOFT: &str = "2001,John,Smith,Sales,App Server Port,,,,,\n";
const MARY: &str = "1101,Mary,Jones,Support,6920 IP,08:00:0F:00:01:01,,,,\n";

/// A node, and a file of the accounts that have a number added by hand, keyed by the first of
/// them: the one value such an account keeps whatever the node does (a held account loses the
/// names the node gave it).
fn config(flavor: &str) -> String {
    format!(
        r#"version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node", "accounts"]

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
flavor = "{flavor}"
feature_profile = "Standard"
[connectors.node.rules]
projection = {{ account = "account" }}
join = [{{ staged = "telephoneNumber", directory = "telephoneNumber" }}]
[connectors.node.rules.import_flows]
givenName = "givenName"
sn = "sn"
department = "department"
telephoneNumber = "telephoneNumber"
deskphone = "deskphone"
softphone = "softphone"

[connectors.accounts]
kind = "csv"
[connectors.accounts.settings]
path = "accounts.csv"
object_type = "account"
key = ["account"]
header = ["account", "numbers"]
multi_valued = {{ numbers = ";" }}
[connectors.accounts.rules]
provisioning = [{{ from = "account", object_type = "account", when = "present(manualNumber)" }}]
deprovisioning = {{ action = "delete" }}
[connectors.accounts.rules.export_flows]
account = "first(manualNumber)"
numbers = "telephoneNumber"
"#
    )
}

fn values(entry: &Value, attr: &str) -> Vec<String> {
    entry["attributes"][attr]["values"]
        .as_array()
        .map(|v| v.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The ids of the entries whose values contain `text`.
fn ids(env: &Env, text: &str) -> Vec<i64> {
    env.json(&["directory", "search", text], 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// The rows of the accounts file, header left out.
fn rows(env: &Env) -> Vec<String> {
    env.read("accounts.csv")
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// The outcomes with `action` of the node's delta sync in a sync-now report.
fn sync_outcomes(env: &Env, report: &Value, action: &str) -> Vec<Value> {
    let run = Env::step(report, "node", "delta-sync")["run_id"]
        .as_i64()
        .unwrap();
    let shown = env.json(&["runs", "show", &run.to_string()], 0);
    shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == action)
        .cloned()
        .collect()
}

#[test]
fn mivoice_business_an_account_without_numbers_stays_while_its_own_data_refers_to_it() {
    let env = Env::new();
    env.write("ucsync.toml", config("mivoice-business"));
    env.write("node.csv", format!("{HEADER}{JOHN_DESK}{JOHN_SOFT}{MARY}"));
    env.write("accounts.csv", "account,numbers\n");
    env.json(&["sync-now"], 0);
    let [john] = ids(&env, "John")[..] else {
        panic!("one John expected")
    };
    let id = john.to_string();

    // Own data: a number added by hand, and a status that makes calls from the softphone.
    env.json(&["account", "number", "add", &id, "3001"], 0);
    env.json(
        &[
            "account",
            "status",
            "set",
            &id,
            "In a meeting",
            "--make-call-from",
            "2001",
        ],
        0,
    );
    // Listed among the account's numbers at once, marked as added by hand.
    let shown = env.json(&["directory", "show", &id], 0);
    let numbers = &shown["attributes"]["telephoneNumber"];
    assert_eq!(
        numbers["values"],
        json!(["1001", "2001", "3001"]),
        "{shown:#}"
    );
    assert_eq!(numbers["hand_added"], json!(["3001"]), "{shown:#}");
    env.json(&["sync-now"], 0);
    // After the sync, in the directory itself: searches and export flows list it too.
    let found = env.json(
        &["directory", "search", "--attr", "telephoneNumber=3001"],
        0,
    );
    assert_eq!(found[0]["id"], john, "{found:#}");
    assert_eq!(
        found[0]["attributes"]["telephoneNumber"]["hand_added"],
        json!(["3001"])
    );
    assert_eq!(rows(&env), ["3001,1001;2001;3001"]);
    let text = env.run(&["directory", "show", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("3001 (added by hand)"), "{text}");

    // The node stops giving John: the account stays with its own data and the numbers that
    // data refers to; the node's other values go. The run says why, naming the account.
    env.write("node.csv", format!("{HEADER}{MARY}"));
    let report = env.json(&["sync-now"], 0);
    let kept = sync_outcomes(&env, &report, "kept");
    assert_eq!(kept.len(), 1, "{report:#}");
    assert_eq!(kept[0]["object"], "John|Smith|Sales");
    let message = kept[0]["message"].as_str().unwrap();
    for part in [&format!("entry {id}"), "3001", "In a meeting", "2001"] {
        assert!(message.contains(part), "{part} not in: {message}");
    }
    assert!(sync_outcomes(&env, &report, "disconnected").is_empty());
    let shown = env.json(&["directory", "show", &id], 0);
    assert_eq!(values(&shown, "manualNumber"), ["3001"]);
    assert_eq!(values(&shown, "dynamicStatus"), ["In a meeting=2001"]);
    assert_eq!(
        values(&shown, "telephoneNumber"),
        ["2001", "3001"],
        "{shown:#}"
    );
    assert_eq!(values(&shown, "softphone"), ["2001"]);
    assert_eq!(values(&shown, "featureProfile"), ["Standard"]);
    for gone in ["givenName", "sn", "department", "deskphone"] {
        assert!(shown["attributes"][gone].is_null(), "{gone}: {shown:#}");
    }
    assert_eq!(shown["links"][0]["anchor"], "John|Smith|Sales", "{shown:#}");
    assert_eq!(shown["links"][0]["in_source"], false, "{shown:#}");
    assert_eq!(rows(&env), ["3001,2001;3001"]);
    let quiet = env.json(&["sync-now"], 0);
    assert_eq!(quiet["counters"]["updated"], 0, "{quiet:#}");
    assert_eq!(quiet["counters"]["deleted"], 0, "{quiet:#}");

    // The node gives John again: the same account, linked again, its own data intact.
    env.write("node.csv", format!("{HEADER}{JOHN_DESK}{MARY}"));
    env.json(&["sync-now"], 0);
    assert_eq!(ids(&env, "Smith"), [john]);
    let shown = env.json(&["directory", "show", &id], 0);
    assert_eq!(values(&shown, "givenName"), ["John"]);
    assert_eq!(
        values(&shown, "telephoneNumber"),
        ["1001", "2001", "3001"],
        "{shown:#}"
    );
    assert_eq!(values(&shown, "manualNumber"), ["3001"]);
    assert_eq!(shown["links"].as_array().unwrap().len(), 2, "{shown:#}");

    // Gone again; once the last of its own data is removed, the next sync deletes it.
    env.write("node.csv", format!("{HEADER}{MARY}"));
    env.json(&["sync-now"], 0);
    assert_eq!(ids(&env, "3001"), [john]);
    env.json(&["account", "status", "clear", &id, "In a meeting"], 0);
    let report = env.json(&["sync-now"], 0);
    assert_eq!(sync_outcomes(&env, &report, "kept").len(), 1, "{report:#}");
    let shown = env.json(&["directory", "show", &id], 0);
    assert_eq!(values(&shown, "telephoneNumber"), ["3001"], "{shown:#}");
    assert!(shown["attributes"]["softphone"].is_null(), "{shown:#}");
    env.json(&["account", "number", "remove", &id, "3001"], 0);
    let report = env.json(&["sync-now"], 0);
    assert_eq!(
        Env::step(&report, "node", "delta-sync")["counters"]["deleted"],
        1,
        "{report:#}"
    );
    let out = env.run(&["directory", "show", &id]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(ids(&env, "Smith").is_empty());
    assert!(rows(&env).is_empty());
}

const BOB: &str = "1201,Bob,Brown,,,,,,,\n";

async fn get(http: &reqwest::Client, server: &Server, token: &str, path: &str) -> Value {
    let (status, body) = call(http, "GET", &server.url(path), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn edit(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) {
    let (status, answer) =
        call_with(http, method, &server.url(path), Some(token), body.as_ref()).await;
    assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
}

/// The outcomes with `action` of the node's sync step of a sync-now run over the API.
async fn api_sync_outcomes(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    run: &Value,
    action: &str,
) -> Vec<Value> {
    let step = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connector"] == "node" && s["profile"] == "delta-sync")
        .unwrap_or_else(|| panic!("no node delta-sync in {run}"));
    let path = format!("/api/v1/runs/{}/outcomes", step["id"]);
    let answer = get(http, server, token, &path).await;
    answer["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == action)
        .cloned()
        .collect()
}

/// The ids of the entries whose values contain `text`, over the API.
async fn api_ids(http: &reqwest::Client, server: &Server, token: &str, text: &str) -> Vec<i64> {
    let found = get(http, server, token, &format!("/api/v1/directory?q={text}")).await;
    found["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mivoice_office_250_an_account_without_numbers_stays_while_its_own_data_refers_to_it() {
    let env = Env::new();
    env.write("ucsync.toml", config("mivoice-office-250"));
    let john = "1001,John,Smith,Sales,,,,,,\n1002,John,Smith,Sales,,,,,,\n";
    let mary = "1101,Mary,Jones,Support,,,,,,\n";
    env.write("node.csv", format!("{HEADER}{john}{mary}{BOB}"));
    env.write("accounts.csv", "account,numbers\n");
    let viewer = admin(&env, "vera", "viewer");
    let operator = admin(&env, "otto", "operator");
    let boss = admin(&env, "alice", "admin");
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let (s, v, o) = (&server, viewer.as_str(), operator.as_str());
    run(&http, s, o, None).await;
    let [id] = api_ids(&http, s, v, "John").await[..] else {
        panic!("one John expected")
    };
    let entry = format!("/api/v1/directory/{id}");

    edit(&http, s, o, "PUT", &format!("{entry}/numbers/3001"), None).await;
    let status = json!({ "make_call_from": "1002" });
    edit(
        &http,
        s,
        o,
        "PUT",
        &format!("{entry}/statuses/Away"),
        Some(status),
    )
    .await;
    let shown = get(&http, s, v, &entry).await;
    let numbers = &shown["attributes"]["telephoneNumber"];
    assert_eq!(
        numbers["values"],
        json!(["1001", "1002", "3001"]),
        "{shown:#}"
    );
    assert_eq!(numbers["hand_added"], json!(["3001"]), "{shown:#}");

    // The node stops giving John: kept, with what its own data refers to.
    env.write("node.csv", format!("{HEADER}{mary}{BOB}"));
    let done = run(&http, s, o, None).await;
    let kept = api_sync_outcomes(&http, s, v, &done, "kept").await;
    assert_eq!(kept.len(), 1, "{done}");
    assert_eq!(kept[0]["object"], "John|Smith|Sales");
    assert!(
        kept[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("entry {id}"))
    );
    let shown = get(&http, s, v, &entry).await;
    assert_eq!(
        values(&shown, "telephoneNumber"),
        ["1002", "3001"],
        "{shown:#}"
    );
    assert_eq!(values(&shown, "manualNumber"), ["3001"]);
    assert_eq!(values(&shown, "dynamicStatus"), ["Away=1002"]);
    assert!(shown["attributes"]["givenName"].is_null(), "{shown:#}");
    assert_eq!(shown["links"][0]["in_source"], false, "{shown:#}");

    // John comes back in another department: a new object, which the join rule (on the
    // numbers) links to the same account rather than a new one.
    let moved = "1002,John,Smith,Marketing,,,,,,\n";
    env.write("node.csv", format!("{HEADER}{moved}{mary}{BOB}"));
    run(&http, s, o, None).await;
    assert_eq!(api_ids(&http, s, v, "Smith").await, [id]);
    let shown = get(&http, s, v, &entry).await;
    assert_eq!(values(&shown, "department"), ["Marketing"]);
    assert_eq!(
        values(&shown, "telephoneNumber"),
        ["1002", "3001"],
        "{shown:#}"
    );
    let links = shown["links"].as_array().unwrap();
    let anchors: Vec<&Value> = links.iter().map(|l| &l["anchor"]).collect();
    assert!(
        anchors.contains(&&json!("John|Smith|Marketing")),
        "{shown:#}"
    );
    assert!(!anchors.contains(&&json!("John|Smith|Sales")), "{shown:#}");

    // Gone again, then its own data removed: the next sync deletes it.
    env.write("node.csv", format!("{HEADER}{mary}{BOB}"));
    run(&http, s, o, None).await;
    assert_eq!(
        values(&get(&http, s, v, &entry).await, "manualNumber"),
        ["3001"]
    );
    edit(
        &http,
        s,
        o,
        "DELETE",
        &format!("{entry}/numbers/3001"),
        None,
    )
    .await;
    edit(
        &http,
        s,
        o,
        "DELETE",
        &format!("{entry}/statuses/Away"),
        None,
    )
    .await;
    run(&http, s, o, None).await;
    let (status, _) = call(&http, "GET", &s.url(&entry), Some(v)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting the node deletes the accounts it owns, those kept by their own data too; the
    // preview names each such account and the data that goes with it.
    let [mary_id] = api_ids(&http, s, v, "Mary").await[..] else {
        panic!("one Mary expected")
    };
    let mary_entry = format!("/api/v1/directory/{mary_id}");
    edit(
        &http,
        s,
        o,
        "PUT",
        &format!("{mary_entry}/numbers/5001"),
        None,
    )
    .await;
    env.write("node.csv", format!("{HEADER}{BOB}"));
    run(&http, s, o, None).await;
    assert_eq!(
        values(&get(&http, s, v, &mary_entry).await, "manualNumber"),
        ["5001"]
    );
    let (status, preview) = call(
        &http,
        "DELETE",
        &s.url("/api/v1/connectors/node?preview=true"),
        Some(&boss),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let report = &preview["report"];
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("2 entries it owned deleted"),
        "{preview:#}"
    );
    let warned: Vec<&Value> = report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "warning")
        .collect();
    assert_eq!(warned.len(), 1, "{preview:#}");
    let message = warned[0]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("entry {mary_id}")) && message.contains("5001"),
        "{message}"
    );
    get(&http, s, v, &mary_entry).await;
    let (status, done) = call(
        &http,
        "DELETE",
        &s.url("/api/v1/connectors/node"),
        Some(&boss),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let (status, _) = call(&http, "GET", &s.url(&mary_entry), Some(v)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
