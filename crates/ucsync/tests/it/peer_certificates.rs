//! Peer servers that show a client certificate instead of a peer token: `ucsync serve
//! --tls-client-ca` asks for one, `ucsync admin certificate` registers it for an administrator
//! with the peer role (locally, or through the API), and it then reads that peer's enterprise
//! and nothing else, until it is revoked. Certificates of the test kit's private CA
//! ([`Pki`]); both servers on 127.0.0.1, the names checked for real.

use serde_json::Value;

use crate::harness::Env;
use crate::peer_servers::{At, Pki, add_peer, peer_connector, serve, server_b_env};
use crate::serve::admin;

/// A's connector `name` (enterprise `enterprise`) showing the client certificate `cert`.
fn connector(name: &str, enterprise: &str, at: &At, cert: &(String, String)) -> String {
    peer_connector(name, enterprise, "Branch B", at, "NO_TOKEN", "acme-b").replace(
        "token_env = \"NO_TOKEN\"\n",
        &format!(
            "client_certificate = \"{}\"\nclient_key = \"{}\"\n",
            cert.0, cert.1
        ),
    )
}

/// `ucsync run NAME delta-import` on A: the exit code, the counters and the message.
fn import(a: &Env, name: &str) -> (Option<i32>, [i64; 5], String) {
    let out = a.run(&["--json", "run", name, "delta-import"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let message = report["message"].as_str().unwrap_or("").to_owned();
    let c = &report["counters"];
    let counted =
        ["added", "updated", "deleted", "unchanged", "errors"].map(|k| c[k].as_i64().unwrap_or(0));
    (out.status.code(), counted, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_registered_for_a_peer_reads_its_enterprise_and_nothing_else() {
    // B: enterprise acme-b with three people, and acme-other; a peer of each, without tokens.
    let (b, pki, ca) = server_b_env(&[1, 2, 3]);
    b.json(&["sync-now"], 0);
    add_peer(&b, "peer-a", "acme-b");
    add_peer(&b, "peer-o", "acme-other");
    let alice = admin(&b, "alice", "admin");
    admin(&b, "otto", "operator");

    // A's certificate, registered locally for peer-a; the command's own refusals.
    let a_cert = pki.issue_client("server-a", "server-a.test");
    let registered = b.json(&["admin", "certificate", "peer-a", &a_cert.0], 0);
    let sha256 = registered["sha256"].as_str().unwrap().to_owned();
    assert_eq!(sha256.len(), 95, "{registered}");
    let refused = |args: &[&str], says: &str| {
        let out = b.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["admin", "certificate", "peer-o", &a_cert.0],
        "registered already, for peer-a",
    );
    refused(
        &["admin", "certificate", "otto", &a_cert.0],
        "otto has the operator role; a client certificate identifies a peer server only",
    );
    refused(
        &["admin", "certificate", "peer-a", &a_cert.1],
        "there is no PEM certificate in it",
    );

    // B serves HTTPS and asks for client certificates of its CA (its administrators reach it
    // at 127.0.0.1).
    let b_cert = pki.issue("peer-b.test", "DNS:peer-b.test,IP:127.0.0.1");
    let b_server = serve(&b, &b_cert, "127.0.0.1:0", &[("UCSYNC_TLS_CLIENT_CA", &ca)]);
    let base = b_server.url("");
    let port: u16 = base
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let remote = |args: &[&str]| {
        let mut all = vec!["--server", &base, "--token", &alice, "--ca-cert", &ca];
        all.extend_from_slice(args);
        b.json(&all, 0)
    };
    // peer-o's certificate, registered through the API.
    let o_cert = pki.issue_client("server-o", "server-o.test");
    let through_api = remote(&["admin", "certificate", "peer-o", &o_cert.0]);
    assert_eq!(through_api["admin"], "peer-o", "{through_api}");

    // A: one connector per certificate: registered for acme-b; registered for acme-other;
    // signed by B's CA but registered for nobody; of a CA that B does not trust.
    let stranger = pki.issue_client("stranger", "stranger.test");
    let other_pki = Pki::named(&b.path("other-pki"), "Other CA");
    let untrusted = other_pki.issue_client("untrusted", "server-a.test");
    let a = Env::new();
    let at = At {
        host: "peer-b.test",
        port,
        ca: &ca,
    };
    // `ucsync check` names the flows a peer connector is meant to have when its rules leave
    // them out (here only for a connector without them).
    let bare = connector("peer-bare", "errors", &at, &a_cert)
        .replace("dialString = \"dialString\"\n", "")
        .replace("folder = \"peer\"\n", "");
    a.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\n[enterprises.errors]\n{}{}{}{}{bare}",
            connector("peer-b", "default", &at, &a_cert),
            connector("peer-o", "errors", &at, &o_cert),
            connector("peer-s", "errors", &at, &stranger),
            connector("peer-u", "errors", &at, &untrusted),
        ),
    );
    let out = a.run(&["check"]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("connectors.peer-bare.rules.import_flows")
            && text.contains("add dialString = \"dialString\", folder = \"peer\" to [connectors.peer-bare.rules.import_flows]")
            && !text.contains("connectors.peer-b.rules.import_flows"),
        "{text}"
    );

    let (code, counted, message) = import(&a, "peer-b");
    assert_eq!(code, Some(0), "{message}");
    assert_eq!(counted[..3], [3, 0, 0], "{message}");

    // B's people are A's contacts, in a folder named after the peer; B's own directory (read
    // through its API) has no folder.
    a.json(&["sync-now"], 0);
    let folders = a.json(&["directory", "folders"], 0);
    assert_eq!(
        folders,
        serde_json::json!({ "folders": [{ "folder": "Branch B", "entries": 3 }], "without_folder": 0 })
    );
    let listed = a.json(&["directory", "search", "--folder", "Branch B"], 0);
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    // The peer's contacts are read-only here: B owns them.
    let contact = listed[0]["id"].to_string();
    let out = a.run(&["account", "number", "add", &contact, "+15550100"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("read-only") && err.contains("connector peer-b"),
        "{err}"
    );
    let listed = a.json(&["directory", "search", "--folder", "Branch C"], 0);
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
    let b_folders = remote(&["directory", "folders"]);
    assert_eq!(b_folders["without_folder"], 3, "{b_folders}");
    let b_listed = remote(&["directory", "search", "--folder", "Branch B"]);
    assert_eq!(
        b_listed["entries"].as_array().unwrap().len(),
        0,
        "{b_listed}"
    );

    let (code, _, message) = import(&a, "peer-o");
    assert_ne!(code, Some(0));
    assert!(
        message.contains("403 Forbidden")
            && message.contains("peer-o has the peer role bound to enterprise acme-other")
            && message.contains("register it for the peer of enterprise \"acme-b\""),
        "{message}"
    );

    let (code, _, message) = import(&a, "peer-s");
    assert_ne!(code, Some(0));
    let stranger_sha = {
        let out = std::process::Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-fingerprint",
                "-sha256",
                "-in",
                &stranger.0,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.trim().rsplit('=').next().unwrap().to_owned()
    };
    assert!(
        message.contains("401 Unauthorized")
            && message.contains(&format!("SHA-256 {stranger_sha} is not registered"))
            && message.contains("`ucsync admin certificate NAME FILE`"),
        "{message}"
    );

    let (code, _, message) = import(&a, "peer-u");
    assert_ne!(code, Some(0));
    assert!(
        message.contains("refused the TLS handshake")
            && message.contains(&untrusted.0)
            && message.contains("--tls-client-ca"),
        "{message}"
    );

    // Revoked: A's certificate is refused from then on.
    let tokens = remote(&["admin", "tokens", "peer-a"]);
    let id = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            t["label"]
                .as_str()
                .unwrap()
                .starts_with("client certificate SHA-256")
        })
        .unwrap_or_else(|| panic!("{tokens}"))["id"]
        .to_string();
    remote(&["admin", "revoke", &id]);
    let (code, _, message) = import(&a, "peer-b");
    assert_ne!(code, Some(0));
    assert!(message.contains("401 Unauthorized"), "{message}");
    // The peer's status: the last import failed and why, and when it last went well, with the
    // peer's version.
    let out = a.run(&["connector", "status", "peer-b"]);
    let status = String::from_utf8_lossy(&out.stdout);
    let version = format!("peer server: ucsync {}", env!("CARGO_PKG_VERSION"));
    assert!(
        status.contains("failed")
            && status.contains("401 Unauthorized")
            && status.contains("last success ")
            && status.contains(&version),
        "{status}"
    );
}
