//! The rules of a peer connector's fields and of enterprise IDs, at their boundaries, as
//! `ucsync check` and the API of a real `ucsync serve` name them: the same key, the same words.
//! And an external peer end to end: recorded, shown, nothing read from it.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::Env;
use crate::serve::{Server, call, call_with, setup};

/// The settings of a peer connector, with `changed` over valid ones.
fn settings(changed: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut s: BTreeMap<String, String> = [
        ("description", "Branch B"),
        ("host", "peer-b.test"),
        ("token_env", "PEER_TOKEN"),
        ("peer_enterprise_id", "acme-b"),
        ("dialing_prefix", "8"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in changed {
        s.insert((*k).to_owned(), (*v).to_owned());
    }
    s
}

/// Settings changed over the valid ones: `(key, value)`.
type Changes<'a> = Vec<(&'a str, &'a str)>;

/// Connectors named `peer-N`, each wrong in one way; `peer-ok` at every upper boundary.
fn cases() -> Vec<(String, BTreeMap<String, String>, Option<&'static str>)> {
    let d64 = "Branch B ".repeat(7) + "x";
    let id32 = "a".repeat(32);
    let id33 = "a".repeat(33);
    let p20 = "8".repeat(20);
    let p21 = "8".repeat(21);
    let d65 = format!("{d64}x");
    let mut cases: Vec<(Changes, Option<&'static str>)> = vec![
        (vec![("description", &d65)], Some("description")),
        (vec![("description", "Branch_B")], Some("description")),
        (
            vec![("peer_enterprise_id", "abc")],
            Some("peer_enterprise_id"),
        ),
        (
            vec![("peer_enterprise_id", &id33)],
            Some("peer_enterprise_id"),
        ),
        (vec![("dialing_prefix", &p21)], Some("dialing_prefix")),
        // The outgoing digit is the PBX node's (peer_dialing tests where it goes).
        (vec![("outgoing_digit", "9")], Some("outgoing_digit")),
        (vec![("pbx_node", "pbx-hq")], Some("pbx_node")),
        (vec![("peer_type", "xmpp")], Some("peer_type")),
    ];
    let forbidden: Vec<String> = [' ', '|', ',', ';', ':']
        .iter()
        .map(|c| format!("acme{c}b"))
        .collect();
    for id in &forbidden {
        cases.push((vec![("peer_enterprise_id", id)], Some("peer_enterprise_id")));
    }
    let mut named: Vec<_> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (changed, key))| (format!("peer-{i}"), settings(&changed), key))
        .collect();
    // The boundaries that pass: 64 characters of description, an ID of 4 and of 32, a prefix
    // of 20 (also one that starts with a dash).
    let ok = [
        ("description", d64.as_str()),
        ("peer_enterprise_id", id32.as_str()),
        ("dialing_prefix", p20.as_str()),
    ];
    named.push(("peer-ok".into(), settings(&ok), None));
    let ok4 = [("peer_enterprise_id", "ab-1"), ("dialing_prefix", "-8")];
    named.push(("peer-ok4".into(), settings(&ok4), None));
    named
}

fn toml_of(name: &str, settings: &BTreeMap<String, String>) -> String {
    let mut text =
        format!("\n[connectors.{name}]\nkind = \"peer\"\n[connectors.{name}.settings]\n");
    for (k, v) in settings {
        text.push_str(&format!("{k} = {v:?}\n"));
    }
    text.push_str(&format!(
        "[connectors.{name}.rules]\nprojection = {{ contact = \"contact\" }}\n[connectors.{name}.rules.import_flows]\ndisplayName = \"displayName\"\ndialString = \"dialString\"\nfederation = \"federation\"\nfolder = \"peer\"\n"
    ));
    text
}

/// Each problem `ucsync check` prints: `path: message`.
fn check_lines(env: &Env) -> Vec<String> {
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err.lines().map(|l| l.trim().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_peer_field_rule_is_checked_alike_by_check_and_the_api() {
    let cases = cases();
    // `ucsync check`: each wrong connector named at its key, and nothing of the valid ones.
    let file = Env::new();
    let mut config = "version = 1\n[enterprises.default]\nid = \"acme-a\"\n[enterprises.short]\nid = \"abc\"\n[enterprises.twin]\nid = \"acme-a\"\n[enterprises.spaced]\nid = \"acme a\"\n".to_owned();
    for (name, s, _) in &cases {
        config.push_str(&toml_of(name, s));
    }
    file.write("ucsync.toml", &config);
    let lines = check_lines(&file);
    let text = lines.join("\n");
    for (name, _, key) in &cases {
        match key {
            Some(key) => {
                let at = format!("connectors.{name}.settings.{key}: ");
                assert!(lines.iter().any(|l| l.starts_with(&at)), "{at} in:\n{text}");
            }
            None => assert!(!text.contains(&format!("connectors.{name}.")), "{text}"),
        }
    }
    for (at, says) in [
        ("enterprises.short.id: ", "too short"),
        ("enterprises.twin.id: ", "has the ID \"acme-a\" already"),
        ("enterprises.spaced.id: ", "a space"),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(at) && l.contains(says)),
            "{at}{says} in:\n{text}"
        );
    }
    assert!(!text.contains("enterprises.default."), "{text}");
    // The rules say what they are: lengths, characters, what to do.
    for says in ["64", "4 to 32", "20 characters"] {
        assert!(text.contains(says), "{says} in:\n{text}");
    }

    // The API: the same connectors refused (422) with the same problems, word for word; the
    // valid ones created.
    let (env, [_, _, admin]) = setup(1);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let url = server.url("/api/v1/connectors");
    for (name, s, key) in &cases {
        let body = json!({
            "name": name,
            "kind": "peer",
            "settings": s,
            "rules": {
                "projection": { "contact": "contact" },
                "import_flows": { "displayName": "displayName", "dialString": "dialString",
                    "federation": "federation", "folder": "peer" },
            },
        });
        let (status, answer) = call_with(&http, "POST", &url, Some(&admin), Some(&body)).await;
        let Some(key) = key else {
            assert_eq!(status, StatusCode::CREATED, "{name}: {answer}");
            continue;
        };
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {answer}");
        let problems = answer["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{name}: {answer}");
        let path = problems[0]["path"].as_str().unwrap();
        assert_eq!(
            path,
            format!("connectors.{name}.settings.{key}"),
            "{answer}"
        );
        let line = format!("{path}: {}", problems[0]["message"].as_str().unwrap());
        assert!(
            lines.contains(&line),
            "{line:?} not said alike by check:\n{text}"
        );
    }
    let (_, list) = call(&http, "GET", &url, Some(&admin)).await;
    let names: Vec<&str> = list["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"peer-ok") && names.contains(&"peer-ok4"),
        "{list}"
    );
    assert!(!names.contains(&"peer-0"), "{list}");
    // The schedule a peer connector is meant to run on is offered with it; none runs it yet.
    let ok = list["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "peer-ok")
        .unwrap();
    assert_eq!(
        ok["schedules"],
        json!({ "by": [], "offered": "every 1 day at 2:00 AM" }),
        "{ok}"
    );
}

/// An external peer (an XMPP federation partner) is recorded and shown, nothing is read from
/// it, and a sync-now with it succeeds and says so.
#[test]
fn an_external_peer_is_recorded_and_nothing_is_read_from_it() {
    let env = Env::new();
    let mut s = settings(&[("peer_type", "external"), ("host", "xmpp.partner.example")]);
    for key in ["token_env", "peer_enterprise_id"] {
        s.remove(key);
    }
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\n{}",
            toml_of("partner", &s)
        ),
    );
    let report = env.json(&["sync-now"], 0);
    let step = Env::step(&report, "partner", "delta-import");
    let counted: Vec<i64> = ["added", "updated", "deleted", "errors"]
        .iter()
        .map(|k| step["counters"][k].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(counted, [0, 0, 0, 0], "{report:#}");
    let message = step["message"].as_str().unwrap_or("");
    assert!(
        message.contains("xmpp.partner.example is an external peer")
            && message.contains("nothing is imported"),
        "{report:#}"
    );
    let status = env.json(&["connector", "status", "partner"], 0);
    let shown = status.to_string();
    assert!(
        shown.contains("\"peer\"") && shown.contains("xmpp.partner.example is an external peer"),
        "{status:#}"
    );
    // No schedule runs it: the one its kind is meant to run on is said; then the
    // enterprise's nightly Sync Now runs it.
    assert_eq!(
        status[0]["schedules"],
        json!({ "by": [], "offered": "every 1 day at 2:00 AM" }),
        "{status:#}"
    );
    let out = env.run(&["connector", "status", "partner"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "schedule      none; a peer connector is meant to run every 1 day at 2:00 AM"
        ),
        "{text}"
    );
    let config = std::fs::read_to_string(env.path("ucsync.toml")).unwrap();
    env.write(
        "ucsync.toml",
        config + "\n[schedules.nightly]\nenterprise = \"default\"\nwhen = \"every 1 day at 2:00 AM\"\n",
    );
    let out = env.run(&["connector", "status", "partner"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("schedule      nightly (every 1 day at 2:00 AM)") && !text.contains("none;"),
        "{text}"
    );
    let entries = env.json(&["directory", "search"], 0);
    assert_eq!(entries.as_array().unwrap().len(), 0, "{entries}");
}
