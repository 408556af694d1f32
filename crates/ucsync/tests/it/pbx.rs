//! A PBX node synchronizer end to end through the binary: a node's export becomes accounts by
//! the PBX rules, a changed export is carried by a delta run, and the number-retention rule
//! keeps a deleted number while the account's own data refers to it.

use serde_json::Value;

use crate::harness::{Env, counters};

/// The header of a PBX node's export (docs/PBX.md).
pub(crate) const HEADER: &str = "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic\n";

/// John: a PRG (deskphone pilot 1001, deskphone 1002, Minet softphone 2001). Mary: a deskphone
/// and a UC endpoint with equal names. "mary" (another case): an account of her own. Bob: two
/// deskphones and no group.
const FIRST: &str = "\
1001,John,Smith,Sales,5330e IP,08:00:0F:00:00:01,7001,PRG,yes,no
1002,John,Smith,Sales,5320e IP,08:00:0F:00:00:02,7001,PRG,no,no
2001,John,Smith,Sales,5020 IP,a1-21-00-00-00-09,7001,PRG,no,yes
1101,Mary,Jones,Support,6920 IP,08:00:0F:00:01:01,,,,
2101,Mary,Jones,Support,MiCollab Client Endpoint,,,,,
2102,mary,jones,Support,MiCollab Client Endpoint,,,,,
1202,Bob,Brown,,5330e IP,08:00:0F:00:02:02,,,,
1201,Bob,Brown,,5330e IP,08:00:0F:00:02:01,,,,
";

/// John's 1002 and 2001 are deleted on the node, "mary" leaves, Eve arrives.
const SECOND: &str = "\
1001,John,Smith,Sales,5330e IP,08:00:0F:00:00:01,7001,PRG,yes,no
1101,Mary,Jones,Support,6920 IP,08:00:0F:00:01:01,,,,
2101,Mary,Jones,Support,MiCollab Client Endpoint,,,,,
1202,Bob,Brown,,5330e IP,08:00:0F:00:02:02,,,,
1201,Bob,Brown,,5330e IP,08:00:0F:00:02:01,,,,
1301,Eve,Stone,Sales,6930 IP,08:00:0F:00:03:01,,,,
";

fn config(profile: &str) -> String {
    format!(
        r#"version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node", "accounts"]

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
feature_profile = "{profile}"
[connectors.node.rules]
projection = {{ account = "account" }}
[connectors.node.rules.import_flows]
givenName = "givenName"
sn = "sn"
department = "department"
telephoneNumber = "telephoneNumber"
deskphone = "deskphone"
softphone = "softphone"
ucEndpoint = "ucEndpoint"
softphoneType = "softphoneType"
pilot = "pilot"
pbxGroup = "pbxGroup"
pbxGroupKind = "pbxGroupKind"

[connectors.accounts]
kind = "csv"
[connectors.accounts.settings]
path = "accounts.csv"
object_type = "account"
key = ["account"]
header = ["account", "numbers", "softphone", "featureProfile"]
multi_valued = {{ numbers = ";" }}
[connectors.accounts.rules]
provisioning = [{{ from = "account", object_type = "account" }}]
deprovisioning = {{ action = "delete" }}
[connectors.accounts.rules.export_flows]
account = '"${{givenName}} ${{sn}}"'
numbers = "telephoneNumber"
softphone = "softphone"
featureProfile = "featureProfile"
"#
    )
}

/// Entries by "givenName sn".
fn accounts(env: &Env) -> std::collections::BTreeMap<String, Value> {
    env.json(&["directory", "search", "--type", "account"], 0)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let a = &e["attributes"];
            let name = format!(
                "{} {}",
                a["givenName"]["values"][0].as_str().unwrap(),
                a["sn"]["values"][0].as_str().unwrap()
            );
            (name, e.clone())
        })
        .collect()
}

fn values(entry: &Value, attr: &str) -> Vec<String> {
    entry["attributes"][attr]["values"]
        .as_array()
        .map(|v| v.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The message of the first outcome with `action` of the node's import in a sync-now report.
fn import_message(env: &Env, report: &Value, action: &str) -> String {
    let run = Env::step(report, "node", "delta-import")["run_id"]
        .as_i64()
        .unwrap();
    let shown = env.json(&["runs", "show", &run.to_string()], 0);
    let found = shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["action"] == action)
        .unwrap_or_else(|| panic!("no {action} in {shown:#}"));
    found["message"].as_str().unwrap().to_owned()
}

fn accounts_file(env: &Env) -> Vec<String> {
    let mut rows: Vec<String> = env
        .read("accounts.csv")
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    rows.sort();
    rows
}

#[test]
fn rule7_a_pbx_export_becomes_accounts_and_deleted_numbers_stay_while_referenced() {
    let env = Env::new();
    env.write("ucsync.toml", config("Standard"));
    env.write("node.csv", format!("{HEADER}{FIRST}"));
    env.write("accounts.csv", "account,numbers,softphone,featureProfile\n");

    let first = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&first, "node", "delta-import")),
        [4, 0, 0, 0, 0]
    );
    let all = accounts(&env);
    let names: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["Bob Brown", "John Smith", "Mary Jones", "mary jones"]
    );
    let john = &all["John Smith"];
    assert_eq!(values(john, "telephoneNumber"), ["1001", "1002", "2001"]);
    assert_eq!(values(john, "deskphone"), ["1001", "1002"]);
    assert_eq!(values(john, "softphone"), ["2001"]);
    assert_eq!(values(john, "softphoneType"), ["minet"]);
    assert_eq!(values(john, "pbxGroupKind"), ["prg"]);
    // The feature profile is the account's own from its creation on.
    assert_eq!(values(john, "featureProfile"), ["Standard"]);
    assert!(
        john["attributes"]["featureProfile"]["source"].is_null(),
        "{john:#}"
    );
    assert_eq!(values(&all["Mary Jones"], "ucEndpoint"), ["2101"]);
    assert_eq!(values(&all["Mary Jones"], "softphoneType"), ["sip"]);
    assert_eq!(values(&all["mary jones"], "telephoneNumber"), ["2102"]);
    assert_eq!(values(&all["Bob Brown"], "telephoneNumber"), ["1201"]);
    // Bob's second deskphone is a warning that names both numbers.
    let message = import_message(&env, &first, "warning");
    assert!(
        message.contains("1201") && message.contains("1202"),
        "{message}"
    );
    assert_eq!(
        accounts_file(&env),
        [
            "Bob Brown,1201,,Standard",
            "John Smith,1001;1002;2001,2001,Standard",
            "Mary Jones,1101;2101,,Standard",
            "mary jones,2102,,Standard",
        ]
    );

    // John's account refers to 2001 (a status makes calls from it) and 1002 (added by hand).
    let id = john["id"].as_i64().unwrap().to_string();
    let data = env.json(
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
    assert_eq!(data["dynamic_statuses"][0]["make_call_from"], "2001");
    env.json(&["account", "number", "add", &id, "1002"], 0);
    let refused = env.run(&["account", "number", "remove", &id, "9999"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no hand-added number 9999"));
    let refused = env.run(&["account", "number", "add", &id, "12ab"]);
    assert_eq!(refused.status.code(), Some(2));

    // The node deletes 1002 and 2001; a new profile goes to new accounts only.
    env.write("ucsync.toml", config("Premium"));
    env.write("node.csv", format!("{HEADER}{SECOND}"));
    let second = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&second, "node", "delta-import")),
        [1, 1, 1, 2, 0],
        "only John (changed), Eve (new) and mary (gone) are processed"
    );
    let all = accounts(&env);
    let john = &all["John Smith"];
    assert_eq!(
        values(john, "telephoneNumber"),
        ["1001", "1002", "2001"],
        "{john:#}"
    );
    assert_eq!(values(john, "softphone"), ["2001"], "{john:#}");
    assert_eq!(values(john, "featureProfile"), ["Standard"]);
    assert_eq!(values(&all["Eve Stone"], "featureProfile"), ["Premium"]);
    assert!(!all.contains_key("mary jones"));

    // The status now makes calls from 1001: 2001 goes at the next sync, 1002 stays (by hand).
    env.json(
        &[
            "account",
            "status",
            "set",
            &id,
            "In a meeting",
            "--make-call-from",
            "1001",
        ],
        0,
    );
    let third = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&third, "node", "delta-sync")),
        [0, 1, 0, 0, 0],
        "only John's account is synced again"
    );
    let john = &accounts(&env)["John Smith"];
    assert_eq!(values(john, "telephoneNumber"), ["1001", "1002"]);
    assert_eq!(values(john, "softphone"), Vec::<String>::new());

    env.json(&["account", "number", "remove", &id, "1002"], 0);
    env.json(&["account", "status", "clear", &id, "In a meeting"], 0);
    env.json(&["sync-now"], 0);
    let john = &accounts(&env)["John Smith"];
    assert_eq!(values(john, "telephoneNumber"), ["1001"]);
    assert!(values(john, "manualNumber").is_empty() && values(john, "dynamicStatus").is_empty());
    assert_eq!(
        accounts_file(&env),
        [
            "Bob Brown,1201,,Standard",
            "Eve Stone,1301,,Premium",
            "John Smith,1001,,Standard",
            "Mary Jones,1101;2101,,Standard",
        ]
    );
    let quiet = env.json(&["sync-now"], 0);
    assert_eq!(quiet["counters"]["added"], 0);
    assert_eq!(quiet["counters"]["updated"], 0);

    // Deleting the node synchronizer deletes the four accounts it owns; the accounts file
    // loses them at its next export.
    let without_node = config("Premium")
        .replace(
            r#"sync_order = ["node", "accounts"]"#,
            r#"sync_order = ["accounts"]"#,
        )
        .split("[connectors.node]")
        .next()
        .unwrap()
        .to_owned()
        + "[connectors.accounts]"
        + config("Premium")
            .split("[connectors.accounts]")
            .nth(1)
            .unwrap();
    env.write("ucsync.toml", without_node);
    let preview = env.json(&["connector", "delete", "node", "--preview"], 0);
    assert!(
        preview["message"]
            .as_str()
            .unwrap()
            .contains("4 entries it owned deleted"),
        "{preview:#}"
    );
    assert_eq!(accounts(&env).len(), 4, "a preview changes nothing");
    env.json(&["connector", "delete", "node"], 0);
    assert!(accounts(&env).is_empty());
    env.json(&["sync-now"], 0);
    assert!(accounts_file(&env).is_empty());
}

#[test]
fn a_pbx_value_with_an_invalid_character_rejects_that_account_only() {
    let env = Env::new();
    env.write("ucsync.toml", config("Standard"));
    env.write(
        "node.csv",
        format!("{HEADER}1001,John,Smith,Sa\u{7}les,5330e IP,,,,,\n1101,Mary,Jones,Support,6920 IP,,,,,\n"),
    );
    env.write("accounts.csv", "account,numbers,softphone,featureProfile\n");
    let report = env.json(&["sync-now"], 3);
    assert_eq!(report["status"], "completed-with-errors");
    assert_eq!(
        counters(Env::step(&report, "node", "delta-import")),
        [1, 0, 0, 0, 1]
    );
    let message = import_message(&env, &report, "error");
    assert!(
        message.contains("U+0007") && message.contains("position 3"),
        "{message}"
    );
    let names: Vec<String> = accounts(&env).into_keys().collect();
    assert_eq!(names, ["Mary Jones"]);

    // The rejected account stays an outstanding error of the node through a sync-now that
    // reads nothing new, naming its number and line, until the row is fixed.
    env.json(&["sync-now"], 0);
    let errors = env.json(&["connector", "errors", "node"], 0);
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors:#}");
    assert_eq!(errors[0]["step"], "import", "{errors:#}");
    assert_eq!(errors[0]["line"], 2, "{errors:#}");
    assert!(
        errors[0]["name"].as_str().unwrap().contains("1001"),
        "{errors:#}"
    );
    env.write(
        "node.csv",
        format!(
            "{HEADER}1001,John,Smith,Sales,5330e IP,,,,,\n1101,Mary,Jones,Support,6920 IP,,,,,\n"
        ),
    );
    env.json(&["sync-now"], 0);
    assert_eq!(
        env.json(&["connector", "errors", "node"], 0),
        serde_json::json!([])
    );
}
