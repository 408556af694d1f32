//! Malformed input through the binary: a damaged forest file never deprovisions anybody (the
//! listing is incomplete, the run says so and names the line; fixed, the next run gives the
//! state of a run that never saw the damage), a damaged PBX export deletes no account, and
//! control characters never reach a target unless both sides opted out of the
//! valid-character rule.

use serde_json::Value;

use crate::harness::{Env, counters, forest_central_config, people};

const CENTRAL_HEADER: &str = "externalId,email,displayName,phone,department\r\n";

fn forest_env(rows: usize) -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(rows, 1));
    env.write("central.csv", CENTRAL_HEADER);
    env
}

/// The forest file as lines, to change some of them.
fn lines(env: &Env) -> Vec<String> {
    env.read("forest.csv").lines().map(str::to_owned).collect()
}

fn write_lines(env: &Env, lines: &[String]) {
    env.write("forest.csv", lines.join("\n") + "\n");
}

/// The error outcomes of a run, as `runs show` gives them.
fn errors(env: &Env, run: &Value) -> Vec<Value> {
    let id = run["run_id"].as_i64().unwrap().to_string();
    let shown = env.json(&["runs", "show", &id], 0);
    shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "error")
        .cloned()
        .collect()
}

#[test]
fn an_unbalanced_quote_in_the_forest_exports_no_deletion_and_the_fixed_file_catches_up() {
    let env = forest_env(2_000);
    let never = forest_env(2_000);
    env.json(&["sync-now"], 0);
    never.json(&["sync-now"], 0);

    // Person 100 moved (line 101, before the damage); person 1900 left (after it). Line 1701
    // (person 1700) gets a quote that is never closed: it swallows the 299 lines after it,
    // fewer than the deletion threshold (500), as in issue 17.
    let mut changed = lines(&env);
    changed[100] = changed[100].replace(",Dept", ",Moved");
    changed.remove(1900);
    let mut damaged = changed.clone();
    damaged[1700] = damaged[1700].replace(",Given1700,", ",\"Given1700,");
    write_lines(&env, &damaged);

    let report = env.json(&["sync-now"], 3);
    assert_eq!(report["status"], "completed-with-errors");
    let import = Env::step(&report, "forest", "delta-import");
    assert_eq!(counters(import), [0, 1, 0, 1698, 1]);
    let message = import["message"].as_str().unwrap();
    assert_eq!(
        message,
        "the listing is incomplete: 1 record could not be read (lines 1701–2000); so no \
         deletions were inferred in this run (300 staged objects not in the listing were \
         kept). To find them, fix lines 1701–2000 as this run's errors say and run the import \
         again"
    );
    let export = Env::step(&report, "central", "export");
    assert_eq!(counters(export)[..3], [0, 1, 0], "no deletion exported");
    let errs = errors(&env, import);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["object"], "1700");
    let error = errs[0]["message"].as_str().unwrap();
    assert!(
        error.starts_with(
            "lines 1701–2000 were read as one row: the quoted value of column 2 (\"givenName\") \
             opened on line 1701 is never closed, so it runs to the end of the file and swallowed \
             lines 1702–2000;"
        ),
        "{error}"
    );
    let central = env.read("central.csv");
    assert_eq!(
        central.lines().count(),
        2_001,
        "every contact is still there"
    );
    assert!(central.contains("user1900@acme.com"));
    assert!(
        central.contains(",Moved"),
        "the change before the damage went through"
    );
    // The status file says the same.
    let status = env.read(import["status_file"].as_str().unwrap());
    let last = status.lines().last().unwrap();
    assert!(
        last.starts_with(
            ",,,,,,incomplete,\"the listing is incomplete: 1 record could not be read"
        ),
        "{last}"
    );

    // Fixed (the changes stay), the next run finds the deletion: the state is that of a run
    // that never saw the damage.
    write_lines(&env, &changed);
    write_lines(&never, &changed);
    let fixed = env.json(&["sync-now"], 0);
    never.json(&["sync-now"], 0);
    let import = Env::step(&fixed, "forest", "delta-import");
    assert_eq!(counters(import)[2], 1, "person 1900's deletion is found");
    assert_eq!(env.read("central.csv"), never.read("central.csv"));
    assert_eq!(env.directory(), never.directory());
    assert!(!env.read("central.csv").contains("user1900@acme.com"));
}

#[test]
fn a_nul_in_the_source_is_rejected_and_never_written_to_the_target() {
    let env = forest_env(3);
    env.json(&["sync-now"], 0);
    let text = env.read("forest.csv").replace("2,Given2,", "2,Hu\0go,");
    env.write("forest.csv", text);
    let report = env.json(&["sync-now"], 3);
    let import = Env::step(&report, "forest", "delta-import");
    let errs = errors(&env, import);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["object"], "2");
    let message = errs[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "line 3, column 2 (\"givenName\") holds a NUL character (U+0000) at position 3"
        ),
        "{message}"
    );
    let central = env.read("central.csv");
    assert!(!central.contains('\0'), "{central:?}");
    assert!(central.contains("Given2 Sur2"), "{central}");
}

/// The forest → central configuration with `character_rule` lines for each connector.
fn rules_config(forest: &str, central: &str) -> String {
    let config = forest_central_config("500", "", "");
    let (f, c) = (
        "[connectors.forest]\nkind = \"csv\"\n",
        "[connectors.central]\nkind = \"csv\"\n",
    );
    config
        .replace(f, &format!("{f}{forest}\n"))
        .replace(c, &format!("{c}{central}\n"))
}

#[test]
fn control_characters_reach_a_target_only_when_both_sides_opted_out() {
    let env = forest_env(3);
    env.json(&["sync-now"], 0);
    let text = env
        .read("forest.csv")
        .replace("2,Given2,", "2,Gi\u{1B}ven2,");
    env.write("forest.csv", text);

    // The rule is on by default: the source rejects the object.
    let report = env.json(&["sync-now"], 3);
    let errs = errors(&env, Env::step(&report, "forest", "delta-import"));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0]["message"],
        "attribute \"givenName\" has an invalid character U+001B at position 3 (line 3); fix \
         the value in the source, or set character_rule = false on connector forest"
    );
    assert!(!env.read("central.csv").contains('\u{1B}'));

    // The source opted out (a full import reads the unchanged file again): the value reaches
    // the directory, and the export to central refuses it, naming the object, the attribute
    // and the position; the row stays as it was.
    env.write("ucsync.toml", rules_config("character_rule = false", ""));
    env.json(&["run", "forest", "full-import"], 0);
    let report = env.json(&["sync-now"], 3);
    let export = Env::step(&report, "central", "export");
    assert_eq!(export["status"], "completed-with-errors");
    let errs = errors(&env, export);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0]["object"], "2");
    let message = errs[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "not exported, kept pending: attribute \"displayName\" has an invalid character \
             U+001B at position 3;"
        ),
        "{message}"
    );
    let central = env.read("central.csv");
    assert!(!central.contains('\u{1B}'), "{central:?}");
    assert!(
        central.contains("2,user2@acme.com,Given2 Sur2,"),
        "{central}"
    );

    // Both opted out: it goes through.
    env.write(
        "ucsync.toml",
        rules_config("character_rule = false", "character_rule = false"),
    );
    env.json(&["sync-now"], 0);
    assert!(env.read("central.csv").contains("Gi\u{1B}ven2 Sur2"));
}

const PBX_HEADER: &str = "Number,First Name,Last Name,Department,Device Type,MAC Address,Group,Group Kind,Pilot,Dynamic\n";

fn pbx_config() -> &'static str {
    r#"version = 1
[enterprises.default]
synchronizers = "pbx"
sync_order = ["node", "accounts"]

[connectors.node]
kind = "pbx"
[connectors.node.settings]
path = "node.csv"
[connectors.node.rules]
projection = { account = "account" }
[connectors.node.rules.import_flows]
givenName = "givenName"
sn = "sn"
telephoneNumber = "telephoneNumber"

[connectors.accounts]
kind = "csv"
[connectors.accounts.settings]
path = "accounts.csv"
object_type = "account"
key = ["account"]
header = ["account", "numbers"]
multi_valued = { numbers = ";" }
[connectors.accounts.rules]
provisioning = [{ from = "account", object_type = "account" }]
[connectors.accounts.rules.export_flows]
account = '"${givenName} ${sn}"'
numbers = "telephoneNumber"
"#
}

#[test]
fn a_damaged_pbx_export_deletes_no_account() {
    let env = Env::new();
    env.write("ucsync.toml", pbx_config());
    let rows: String = (1..=6)
        .map(|i| format!("100{i},First{i},Last{i},Dept,5330e IP,,,,,\n"))
        .collect();
    env.write("node.csv", format!("{PBX_HEADER}{rows}"));
    env.write("accounts.csv", "account,numbers\r\n");
    env.json(&["sync-now"], 0);
    assert_eq!(env.read("accounts.csv").lines().count(), 7);

    // Account 6 leaves the node, and the row of 1003 opens a quote nothing closes.
    let damaged: String = rows
        .lines()
        .filter(|l| !l.starts_with("1006"))
        .map(|l| l.replacen(",Dept,", ",\"Dept,", usize::from(l.starts_with("1003"))) + "\n")
        .collect();
    env.write("node.csv", format!("{PBX_HEADER}{damaged}"));
    let report = env.json(&["sync-now"], 3);
    let import = Env::step(&report, "node", "delta-import");
    assert_eq!(counters(import)[2], 0, "nothing deleted");
    assert!(
        import["message"]
            .as_str()
            .unwrap()
            .starts_with("the listing is incomplete: 1 record could not be read (line 4)"),
        "{import:#}"
    );
    let errs = errors(&env, import);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let message = errs[0]["message"].as_str().unwrap();
    assert!(
        message
            .contains("the quoted value of column \"Department\" opened on line 4 is never closed")
            && message.contains("swallowed lines 5–6"),
        "{message}"
    );
    let export = Env::step(&report, "accounts", "export");
    assert_eq!(counters(export)[2], 0, "no deletion exported");
    assert_eq!(env.read("accounts.csv").lines().count(), 7);
}
