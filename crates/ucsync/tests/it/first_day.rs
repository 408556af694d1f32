//! What an administrator meets on the first day, through the binary: a target file that does not
//! exist yet, line numbers of files written on Windows, output piped into a reader that stops
//! early, and sync-now of an enterprise that has no connectors.

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
