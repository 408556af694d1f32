//! What an administrator meets on the first day, through the binary: a target file that does not
//! exist yet, line numbers of files written on Windows, output piped into a reader that stops
//! early, and sync-now of an enterprise that has no connectors.

use std::process::Stdio;

use serde_json::Value;

use crate::harness::{Env, counters, forest_central_config, people};

fn forest_env(central: Option<&[u8]>) -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config("500", "", ""));
    env.write("forest.csv", people(3, 1));
    if let Some(bytes) = central {
        env.write("central.csv", bytes);
    }
    env
}

#[test]
fn a_first_sync_now_creates_a_target_that_does_not_exist_yet_or_is_empty() {
    let cases: [(&str, Option<&[u8]>, &str); 3] = [
        ("missing", None, "does not exist yet"),
        ("empty", Some(b""), "is empty"),
        ("only a BOM", Some(b"\xEF\xBB\xBF"), "is empty"),
    ];
    for (case, central, said) in cases {
        let env = forest_env(central);
        let report = env.json(&["sync-now"], 0);
        assert_eq!(report["status"], "success", "{case}: {report:#}");
        let import = Env::step(&report, "central", "delta-import");
        assert_eq!(counters(import), [0, 0, 0, 0, 0], "{case}");
        let message = import["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(said) && message.contains("central.csv"),
            "{case}: {message}"
        );
        assert_eq!(
            counters(Env::step(&report, "central", "export")),
            [3, 0, 0, 0, 0],
            "{case}"
        );
        let written = env.read("central.csv");
        assert_eq!(written.lines().count(), 4, "{case}: {written}");
        assert!(written.contains("user1@acme.com"), "{case}: {written}");

        // The next run reads the file the first one wrote: nothing to change.
        let again = env.json(&["sync-now"], 0);
        assert_eq!(again["status"], "success", "{case}: {again:#}");
        let [added, updated, deleted, _, errors] =
            counters(Env::step(&again, "central", "delta-import"));
        assert_eq!((added, updated, deleted, errors), (0, 0, 0, 0), "{case}");
        assert_eq!(
            counters(Env::step(&again, "central", "export"))[..3],
            [0, 0, 0],
            "{case}"
        );

        // Once the target has objects, a file that went missing is an error again: taking it
        // for empty would throw away what was exported.
        std::fs::remove_file(env.path("central.csv")).unwrap();
        let out = env.run(&["sync-now"]);
        assert_eq!(out.status.code(), Some(1), "{case}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("does not exist"), "{case}: {text}");
    }
}

#[test]
fn a_missing_source_file_still_fails_its_import() {
    let env = forest_env(Some(b"externalId,email,displayName,phone,department\n"));
    std::fs::remove_file(env.path("forest.csv")).unwrap();
    let out = env.run(&["sync-now"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("forest.csv: the file does not exist"),
        "{text}"
    );
}

/// The error outcomes of a run's step, as `runs show` gives them.
fn error_messages(env: &Env, step: &Value) -> Vec<String> {
    let id = step["run_id"].as_i64().unwrap().to_string();
    let shown = env.json(&["runs", "show", &id], 0);
    shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "error")
        .map(|o| o["message"].as_str().unwrap().to_owned())
        .collect()
}

/// UTF-16 LE with a BOM, as Windows tools save "Unicode" text.
fn utf16le(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

#[test]
fn error_lines_are_the_lines_an_editor_shows_whatever_the_line_endings_and_encoding() {
    // Line 1 header, line 2 a good row, lines 3–4 a row whose quoted value holds a line
    // break, line 5 a row without its key, line 6 a row with a field too many.
    let rows = [
        "employeeId,givenName,sn,mail,telephoneNumber,department",
        "1,Ann,One,ann@forest.example,,Sales",
        "2,\"Bo",
        "b\",Two,bob@forest.example,,Sales",
        ",No,Key,nokey@forest.example,,Sales",
        "6,Too,Many,x@forest.example,,Sales,extra",
    ];
    for (case, ending, utf16) in [
        ("CRLF", "\r\n", false),
        ("LF", "\n", false),
        ("CR", "\r", false),
        ("CRLF, UTF-16 LE", "\r\n", true),
    ] {
        let env = forest_env(Some(b"externalId,email,displayName,phone,department\r\n"));
        let text = rows.join(ending) + ending;
        if utf16 {
            env.write("forest.csv", utf16le(&text));
        } else {
            env.write("forest.csv", text);
        }
        let report = env.json(&["sync-now"], 3);
        let import = Env::step(&report, "forest", "delta-import");
        assert_eq!(counters(import), [2, 0, 0, 0, 2], "{case}");
        let messages = error_messages(&env, import);
        assert_eq!(messages.len(), 2, "{case}: {messages:#?}");
        assert!(
            messages[0].starts_with("line 5: key column 1 (\"employeeId\") is empty"),
            "{case}: {messages:#?}"
        );
        assert!(
            messages[1].starts_with("line 6 has 7 fields but the header has 6"),
            "{case}: {messages:#?}"
        );
        let message = import["message"].as_str().unwrap();
        assert!(message.contains("(line 5, line 6)"), "{case}: {message}");
        // The status file says the same, row by row.
        let status = std::fs::read(import["status_file"].as_str().unwrap()).unwrap();
        let status = if utf16 {
            let units: Vec<u16> = status[2..]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        } else {
            String::from_utf8(status).unwrap()
        };
        assert!(status.contains(",error,\"line 5: key"), "{case}: {status}");
        assert!(
            status.contains(",error,\"line 6 has 7 fields"),
            "{case}: {status}"
        );
    }
}

/// Runs `ucsync ARGS` with stdout going into a pipe whose reader is gone before anything is
/// written, as `ucsync … | head` does once head has its lines.
fn run_into_closed_pipe(env: &Env, args: &[&str]) -> std::process::Output {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_reader_that_stops_early_ends_every_printing_command_quietly() {
    let env = forest_env(Some(b"externalId,email,displayName,phone,department\n"));
    env.write("forest.csv", people(300, 1));
    env.json(&["sync-now"], 0);
    let entries = env.json(&["directory", "search"], 0);
    let entry = entries[0]["id"].to_string();
    let runs = env.json(&["runs"], 0);
    let run = runs[0]["id"].to_string();
    for args in [
        &["runs"][..],
        &["runs", "show", &run],
        &["directory", "search"],
        &["--json", "directory", "search"],
        &["directory", "show", &entry],
        &["connector", "status"],
        &["config", "export"],
        &["check"],
        &["sync-now"],
    ] {
        let out = run_into_closed_pipe(&env, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "ucsync {args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "ucsync {args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "ucsync {args:?}: {stderr}"
        );
    }
    // A run whose report nobody reads is still recorded as usual.
    let runs = env.json(&["runs"], 0);
    assert_eq!(runs[0]["status"], "success", "{runs:#}");
}

#[test]
fn sync_now_of_an_enterprise_without_connectors_names_those_with_some() {
    let env = Env::new();
    let config = forest_central_config("500", "", "")
        .replace("[enterprises.default]", "[enterprises.sales]")
        .replace(
            "[connectors.forest.settings]",
            "enterprise = \"sales\"\n[connectors.forest.settings]",
        )
        .replace(
            "[connectors.central.settings]",
            "enterprise = \"sales\"\n[connectors.central.settings]",
        );
    env.write("ucsync.toml", config);
    env.write("forest.csv", people(3, 1));
    env.write(
        "central.csv",
        "externalId,email,displayName,phone,department\n",
    );
    let out = env.run(&["sync-now"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("enterprise default has no connectors")
            && stderr.contains("sales (2 connectors)"),
        "{stderr}"
    );
    // Nothing ran, so nothing was recorded.
    let runs = env.json(&["runs"], 0);
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "{runs:#}");
    // The enterprise that has them runs.
    let report = env.json(&["sync-now", "--enterprise", "sales"], 0);
    assert_eq!(report["status"], "success");
}
