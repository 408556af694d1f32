//! CSV → directory → CSV runs through the binary: deltas, encodings, the deletion threshold,
//! preview and malformed input.

use crate::harness::{Env, counters, forest_central_config, people};

const CENTRAL_HEADER: &str = "externalId,email,displayName,phone,department\r\n";

fn setup(n: usize, threshold: &str) -> Env {
    let env = Env::new();
    env.write("ucsync.toml", forest_central_config(threshold, "", ""));
    env.write("forest.csv", people(n, 1));
    env.write("central.csv", CENTRAL_HEADER);
    env
}

#[test]
fn a_delta_run_touches_only_changed_rows() {
    let env = setup(200, "500");
    let first = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&first, "forest", "delta-import")),
        [200, 0, 0, 0, 0]
    );
    assert_eq!(
        counters(Env::step(&first, "forest", "delta-sync")),
        [200, 0, 0, 0, 0]
    );
    assert_eq!(
        counters(Env::step(&first, "central", "export")),
        [200, 0, 0, 0, 0]
    );

    // Change 3 rows, delete 1, add 1.
    let text = env.read("forest.csv");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for i in [10, 50, 150] {
        lines[i] = lines[i].replace(",Dept", ",Moved");
    }
    lines.remove(100);
    lines.push("9999,New,Person,new.person@forest.example,,Dept1".into());
    env.write("forest.csv", lines.join("\n") + "\n");

    let second = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&second, "forest", "delta-import")),
        [1, 3, 1, 196, 0]
    );
    let [added, updated, deleted, unchanged, errors] =
        counters(Env::step(&second, "forest", "delta-sync"));
    assert_eq!(
        (added, updated + unchanged, deleted, errors),
        (1, 3, 1, 0),
        "sync processed only the 5 changed rows"
    );
    assert_eq!(
        counters(Env::step(&second, "central", "export")),
        [1, 3, 1, 0, 0]
    );
    // Central's own import saw its file unchanged since its last export.
    assert_eq!(
        counters(Env::step(&second, "central", "delta-import"))[..3],
        [0, 0, 0]
    );

    let central = env.read("central.csv");
    assert_eq!(central.lines().count(), 201);
    assert!(central.contains("9999,new.person@acme.com,New Person"));
    assert_eq!(central.matches(",Moved").count(), 3);
    assert!(
        !central.contains("user100@"),
        "the deleted person's contact is gone"
    );
}

#[test]
fn utf16le_round_trip_with_non_ascii_names() {
    let env = Env::new();
    env.write(
        "ucsync.toml",
        forest_central_config("500", "encoding = \"utf-16le\"", "encoding = \"utf-16le\""),
    );
    let names = [
        ("1", "Zoë", "Ångström"),
        ("2", "李", "小龙"),
        ("3", "Øyvind", "Ñúñez"),
        ("4", "Ольга", "Шевченко"),
    ];
    let mut csv = String::from("employeeId,givenName,sn,mail,telephoneNumber,department\r\n");
    for (id, g, s) in names {
        csv.push_str(&format!("{id},{g},{s},p{id}@forest.example,,Ventes é\r\n"));
    }
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(csv.encode_utf16().flat_map(u16::to_le_bytes));
    env.write("forest.csv", bytes);
    let mut central = vec![0xFF, 0xFE];
    central.extend(CENTRAL_HEADER.encode_utf16().flat_map(u16::to_le_bytes));
    env.write("central.csv", central);

    env.json(&["sync-now"], 0);
    let out = env.bytes("central.csv");
    assert_eq!(
        &out[..2],
        &[0xFF, 0xFE],
        "UTF-16 LE output starts with its BOM"
    );
    let units: Vec<u16> = out[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    for (id, g, s) in names {
        assert!(
            text.contains(&format!("{id},p{id}@acme.com,{g} {s},,Ventes é")),
            "{text}"
        );
    }
    // Reading our own output back changes nothing.
    let again = env.json(&["sync-now"], 0);
    assert_eq!(
        counters(Env::step(&again, "central", "delta-import"))[..3],
        [0, 0, 0]
    );
    assert_eq!(
        counters(Env::step(&again, "central", "export"))[..3],
        [0, 0, 0]
    );
}

#[test]
fn the_deletion_threshold_stops_before_exporting_anything() {
    let env = setup(20, "5");
    env.json(&["sync-now"], 0);
    let before = env.bytes("central.csv");

    env.write("forest.csv", people(10, 1));
    let out = env.run(&["sync-now"]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("stopped-deletion-threshold"), "{stdout}");
    assert!(
        stdout.contains("would delete 10 of its 20 entries"),
        "{stdout}"
    );
    assert!(stdout.contains("--allow-deletes 10"), "{stdout}");
    assert_eq!(env.bytes("central.csv"), before, "nothing was exported");
    assert_eq!(env.directory().len(), 20, "nor deleted from the directory");

    // Still held back on the next run, until allowed.
    assert_eq!(env.run(&["sync-now"]).status.code(), Some(3));
    assert_eq!(env.bytes("central.csv"), before);
    let allowed = env.json(&["sync-now", "--allow-deletes", "10"], 0);
    assert_eq!(counters(Env::step(&allowed, "central", "export"))[2], 10);
    assert_eq!(env.read("central.csv").lines().count(), 11);
}

#[test]
fn a_percentage_threshold_counts_the_share_of_the_target() {
    let env = setup(20, "\"50%\"");
    env.json(&["sync-now"], 0);
    env.write("forest.csv", people(12, 1)); // 8 of 20 = 40%: allowed
    env.json(&["sync-now"], 0);
    env.write("forest.csv", people(4, 1)); // 8 of 12 = 67%: stopped
    let report = env.json(&["sync-now"], 3);
    assert_eq!(report["status"], "stopped-deletion-threshold");
}

#[test]
fn a_preview_changes_nothing_in_the_store_or_on_disk() {
    let env = setup(30, "500");
    env.json(&["sync-now"], 0);
    let central = env.bytes("central.csv");
    let directory = env.directory();
    let runs = env.json(&["runs", "--limit", "1000"], 0);

    let text = env.read("forest.csv").replace("Given7,", "Seven,");
    env.write("forest.csv", text);
    let out = env.run(&["sync-now", "--preview"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("nothing was committed"), "{stdout}");
    assert!(
        stdout.contains("givenName: [\"Given7\"] -> [\"Seven\"]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("displayName: [\"Given7 Sur7\"] -> [\"Seven Sur7\"]"),
        "{stdout}"
    );
    assert!(stdout.contains("export-update"), "{stdout}");

    assert_eq!(env.bytes("central.csv"), central);
    assert_eq!(env.directory(), directory);
    assert_eq!(env.json(&["runs", "--limit", "1000"], 0), runs);
    let status_files = std::fs::read_dir(env.path("data/status")).unwrap().count();

    // The real run then does what the preview said.
    let real = env.json(&["sync-now"], 0);
    assert_eq!(counters(Env::step(&real, "central", "export"))[1], 1);
    assert!(env.read("central.csv").contains("Seven Sur7"));
    assert!(std::fs::read_dir(env.path("data/status")).unwrap().count() > status_files);
}

#[test]
fn malformed_lines_are_reported_by_line_while_good_rows_sync() {
    let env = setup(0, "500");
    let mut bytes = b"employeeId,givenName,sn,mail,telephoneNumber,department\n".to_vec();
    bytes.extend_from_slice(b"1,Ann,One,ann@forest.example,,Sales\n");
    bytes.extend_from_slice(b"2,Too,Many,x@forest.example,,Sales,extra\n"); // line 3
    bytes.extend_from_slice(b"3,Bad\xff,Bytes,y@forest.example,,Sales\n"); // line 4
    bytes.extend_from_slice(b"1,Dup,Key,dup@forest.example,,Sales\n"); // line 5
    bytes.extend_from_slice(b",No,Key,nokey@forest.example,,Sales\n"); // line 6
    bytes.extend_from_slice(b"7,Gus,Seven,gus@forest.example,,Sales\n");
    env.write("forest.csv", bytes);

    let report = env.json(&["sync-now"], 3);
    assert_eq!(report["status"], "completed-with-errors");
    let import = Env::step(&report, "forest", "delta-import");
    assert_eq!(counters(import), [2, 0, 0, 0, 4]);
    let central = env.read("central.csv");
    assert!(
        central.contains("ann@acme.com") && central.contains("gus@acme.com"),
        "{central}"
    );
    assert_eq!(central.lines().count(), 3);

    let id = import["run_id"].as_i64().unwrap().to_string();
    let shown = env.json(&["runs", "show", &id], 0);
    let messages: Vec<String> = shown["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "error")
        .map(|o| o["message"].as_str().unwrap().to_owned())
        .collect();
    for line in ["line 3", "line 4", "line 5", "line 6"] {
        assert!(
            messages.iter().any(|m| m.contains(line)),
            "no error for {line}: {messages:#?}"
        );
    }
    // The status file has one row per input row, errors included, then why nothing could be
    // deleted: rows could not be read.
    let status_file = import["status_file"].as_str().unwrap();
    let status = std::fs::read_to_string(status_file).unwrap();
    let rows: Vec<&str> = status.lines().collect();
    assert!(rows[0].ends_with("status,statusMessage"), "{status}");
    assert_eq!(rows.len(), 8, "{status}");
    assert!(rows[1].contains(",created,"));
    assert!(
        rows[2].contains(",error,") && rows[3].contains(",error,") && rows[4].contains(",error,")
    );
    assert!(
        rows[7].starts_with(
            ",,,,,,incomplete,\"the listing is incomplete: 3 records could not be read (line 3, \
             line 4, line 6); so no deletions were inferred in this run."
        ),
        "{status}"
    );
}

#[test]
fn profiles_run_one_by_one_lose_nothing() {
    let env = setup(30_000, "500");
    let import = env.json(&["run", "forest", "full-import"], 0);
    assert_eq!(counters(&import)[0], 30_000);
    let sync = env.json(&["run", "forest", "delta-sync"], 0);
    assert_eq!(
        counters(&sync)[0],
        30_000,
        "every imported row reached sync"
    );
    env.json(&["run", "central", "export"], 0);
    assert_eq!(env.read("central.csv").lines().count(), 30_001);
}
