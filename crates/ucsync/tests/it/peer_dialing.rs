//! The outgoing digit of a peer's dial strings is the PBX node's (`outgoing_digit` of a `pbx`
//! connector, docs/PEER.md): taken from the node `pbx_node` names, or from the enterprise's one
//! node. Written on the peer, or with the node named wrong, `ucsync check` and the API refuse
//! it alike, naming where it goes. A node's new digit reaches the contacts by a full import.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, counters};
use crate::peer_servers::{
    At, entries, https, pbx_node, peer_admin, peer_connector, port, serve, server_b_env, sync_now,
    values,
};
use crate::serve::{admin, call_with};

/// A's peer connector reading enterprise acme-b of B at `at`, with `extra` settings.
fn peer(at: &At, extra: &str) -> String {
    peer_connector(
        "peer-b",
        "default",
        "Branch B",
        at,
        "PEER_B_TOKEN",
        "acme-b",
    )
    .replace(
        "dialing_prefix = \"8\"\n",
        &format!("dialing_prefix = \"8\"\n{extra}"),
    )
}

/// `ucsync check` of `config`: the lines of its problems (none when it passes).
fn problems(env: &Env, config: &str) -> Vec<String> {
    env.write("ucsync.toml", config);
    let out = env.run(&["check"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<String> = err
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| l.starts_with("connectors."))
        .collect();
    assert_eq!(out.status.code() == Some(0), lines.is_empty(), "{err}");
    lines
}

/// The one problem of `config`, which must be at `at`.
fn problem(env: &Env, config: &str, at: &str) -> String {
    let lines = problems(env, config);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let (path, message) = lines[0].split_once(": ").unwrap();
    assert_eq!(path, at, "{lines:#?}");
    message.to_owned()
}

/// Sync Now of A with the peer token: the peer's import step, and the dial strings of the
/// contacts by telephone number.
fn sync(a: &Env, token: &str) -> (Value, Vec<(String, String)>) {
    let out = a
        .command(&["--json", "sync-now"])
        .env("PEER_B_TOKEN", token)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    // A delta import, or the full one it runs as (its profile says which).
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connector"] == "peer-b" && s["profile"].as_str().unwrap().ends_with("-import"))
        .unwrap()
        .clone();
    let mut dialed: Vec<(String, String)> = a
        .directory()
        .iter()
        .filter(|e| e["type"] == "contact")
        .map(|e| {
            let first = |name: &str| {
                e["attributes"][name]["values"][0]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            };
            (first("telephoneNumber"), first("dialString"))
        })
        .collect();
    dialed.sort();
    (step, dialed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_outgoing_digit_is_its_pbx_nodes() {
    let (b, pki, ca) = server_b_env(&[1, 2]);
    b.json(&["sync-now"], 0);
    let token = peer_admin(&b, "peer-a", "acme-b");
    let b_server = serve(
        &b,
        &pki.issue("peer-b.test", "DNS:peer-b.test"),
        "127.0.0.1:0",
        &[],
    );
    let at = At {
        host: "peer-b.test",
        port: port(&b_server),
        ca: &ca,
    };
    let a = Env::new();
    let head = "version = 1\n[enterprises.default]\n[enterprises.other]\n";
    // Spaces around the digit are the node's to trim.
    let hq = pbx_node(&a, "pbx-hq", "default", " 9 ");
    let lab = pbx_node(&a, "pbx-lab", "default", "");
    let elsewhere = pbx_node(&a, "pbx-other", "other", "7");

    // Written on the peer, the digit is refused, naming the node it belongs on.
    let on_peer = format!("{head}{hq}{}", peer(&at, "outgoing_digit = \"9\"\n"));
    let said = problem(&a, &on_peer, "connectors.peer-b.settings.outgoing_digit");
    assert!(
        said.contains("taken from connector pbx-hq")
            && said.contains("under [connectors.pbx-hq.settings]"),
        "{said}"
    );
    // Whatever its value: one problem, not a type error beside it.
    let said = problem(
        &a,
        &format!("{head}{hq}{}", peer(&at, "outgoing_digit = 9\n")),
        "connectors.peer-b.settings.outgoing_digit",
    );
    assert!(
        said.contains("is not a setting of this connector"),
        "{said}"
    );
    // Two nodes, one giving a digit: which one must be said.
    let said = problem(
        &a,
        &format!("{head}{hq}{lab}{}", peer(&at, "")),
        "connectors.peer-b.settings.pbx_node",
    );
    assert!(
        said.contains("2 connectors of kind pbx (pbx-hq, pbx-lab)")
            && said.contains("pbx_node = \"pbx-hq\""),
        "{said}"
    );
    // Two nodes giving none: there is nothing to take, whichever is meant.
    let bare = pbx_node(&a, "pbx-hq", "default", "");
    assert!(problems(&a, &format!("{head}{bare}{lab}{}", peer(&at, ""))).is_empty());
    pbx_node(&a, "pbx-hq", "default", " 9 ");
    // An external peer dials nothing: it needs no node named.
    let external = "\n[connectors.partner]\nkind = \"peer\"\n[connectors.partner.settings]\npeer_type = \"external\"\ndescription = \"Partner\"\nhost = \"xmpp.partner.example\"\n[connectors.partner.rules]\nprojection = { contact = \"contact\" }\n[connectors.partner.rules.import_flows]\ndialString = \"dialString\"\nfederation = \"federation\"\nfolder = \"peer\"\n";
    assert!(problems(&a, &format!("{head}{hq}{lab}{external}")).is_empty());
    // A node named wrong: none such, of another enterprise, of another kind.
    for (named, says) in [
        ("nope", "there is no connector \"nope\""),
        ("pbx-other", "belongs to enterprise other, not default"),
        ("peer-b", "is of kind peer, not pbx"),
    ] {
        let config = format!(
            "{head}{hq}{lab}{elsewhere}{}",
            peer(&at, &format!("pbx_node = \"{named}\"\n"))
        );
        let said = problem(&a, &config, "connectors.peer-b.settings.pbx_node");
        assert!(
            said.contains(says) && said.contains("pbx-hq, pbx-lab"),
            "{named}: {said}"
        );
    }

    // Named, the node's digit starts every dial string.
    let named = format!("{head}{hq}{lab}{}", peer(&at, "pbx_node = \"pbx-hq\"\n"));
    assert!(problems(&a, &named).is_empty());
    let (step, dialed) = sync(&a, &token);
    assert_eq!(counters(&step)[..3], [2, 0, 0], "{step:#}");
    assert_eq!(
        dialed,
        [("4701", "984701"), ("4702", "984702")].map(|(n, d)| (n.into(), d.into()))
    );

    // The node's new digit: the peer's next import is a full one, and every dial string
    // changes.
    a.write(
        "ucsync.toml",
        named.replace("outgoing_digit = \" 9 \"", "outgoing_digit = \"0\""),
    );
    let (step, dialed) = sync(&a, &token);
    assert_eq!(counters(&step)[..3], [0, 2, 0], "{step:#}");
    assert_eq!(step["profile"], "full-import", "{step:#}");
    assert!(
        step["message"]
            .as_str()
            .unwrap_or("")
            .contains("settings that change what an import reads changed"),
        "{step:#}"
    );
    assert_eq!(
        dialed,
        [("4701", "084701"), ("4702", "084702")].map(|(n, d)| (n.into(), d.into()))
    );
    // The enterprise's one node needs no naming: the same digit, nothing to change.
    a.write(
        "ucsync.toml",
        format!("{head}{hq}{}", peer(&at, "")).replace("\" 9 \"", "\"0\""),
    );
    let (step, _) = sync(&a, &token);
    assert_eq!(counters(&step)[..3], [0, 0, 0], "{step:#}");

    // A served: its API refuses a bad digit on a node, and the digit on the peer, in the words
    // of `check`; a node's new digit put through the API reaches the contacts by a full import.
    let api_env = Env::new();
    api_env.write("ucsync.toml", "version = 1\n[enterprises.default]\n");
    let admin = admin(&api_env, "ada", "admin");
    let a_cert = pki.issue("peer-a.test", "DNS:peer-a.test, IP:127.0.0.1");
    let server = serve(
        &api_env,
        &a_cert,
        "127.0.0.1:0",
        &[("PEER_B_TOKEN", &token)],
    );
    let http = https(&ca, None);
    let base = server.url("");
    let url = format!("{base}/api/v1/connectors");
    api_env.write("pbx-hq.csv", a.read("pbx-hq.csv"));
    let mut node = json!({
        "name": "pbx-hq", "kind": "pbx",
        "settings": { "path": api_env.path("pbx-hq.csv"), "outgoing_digit": "9" },
        "rules": { "projection": { "account": "account" } },
    });
    let bad = pbx_node(&a, "pbx-bad", "default", "9#");
    let said_by_check = problem(
        &a,
        &format!("{head}{bad}"),
        "connectors.pbx-bad.settings.outgoing_digit",
    );
    let mut wrong = node.clone();
    wrong["name"] = json!("pbx-bad");
    wrong["settings"]["outgoing_digit"] = json!("9#");
    let (status, answer) = call_with(&http, "POST", &url, Some(&admin), Some(&wrong)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["problems"][0]["message"],
        said_by_check.as_str(),
        "{answer}"
    );
    let (status, answer) = call_with(&http, "POST", &url, Some(&admin), Some(&node)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // The settings `on_peer` gives it.
    let mut settings = json!({
        "description": "Branch B", "host": at.host, "port": at.port, "address": "127.0.0.1",
        "ca_file": at.ca, "token_env": "PEER_B_TOKEN", "peer_enterprise_id": "acme-b",
        "dialing_prefix": "8", "outgoing_digit": "9", "page_size": 2,
    });
    let mut body = json!({
        "name": "peer-b", "kind": "peer", "settings": settings,
        "rules": {
            "projection": { "contact": "contact" },
            "import_flows": { "telephoneNumber": "telephoneNumber", "dialString": "dialString",
                "federation": "federation", "folder": "peer" },
        },
    });
    let (status, answer) = call_with(&http, "POST", &url, Some(&admin), Some(&body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let problems = answer["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{answer}");
    let said_by_check = problem(&a, &on_peer, "connectors.peer-b.settings.outgoing_digit");
    assert_eq!(
        problems[0]["path"], "connectors.peer-b.settings.outgoing_digit",
        "{answer}"
    );
    assert_eq!(problems[0]["message"], said_by_check.as_str(), "{answer}");
    settings.as_object_mut().unwrap().remove("outgoing_digit");
    body["settings"] = settings;
    let (status, answer) = call_with(&http, "POST", &url, Some(&admin), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let dialed = async || {
        let contacts = entries(&http, &base, &admin, "default", "contact").await;
        let mut d: Vec<String> = contacts.iter().map(|c| values(c, "dialString")).collect();
        d.sort();
        d
    };
    sync_now(&http, &base, &admin, "default").await;
    assert_eq!(dialed().await, ["984701", "984702"]);
    node["settings"]["outgoing_digit"] = json!("0");
    let (status, answer) = call_with(
        &http,
        "PUT",
        &format!("{url}/pbx-hq"),
        Some(&admin),
        Some(&node),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let run = sync_now(&http, &base, &admin, "default").await;
    let import = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connector"] == "peer-b" && s["profile"].as_str().unwrap().ends_with("-import"))
        .unwrap();
    assert_eq!(import["profile"], "full-import", "{run:#}");
    assert_eq!(dialed().await, ["084701", "084702"]);
}
