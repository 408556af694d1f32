//! Peer servers end to end through the binary (docs/PEER.md): real `ucsync serve` processes
//! over HTTPS with certificates of a private CA made by the test kit ([`Pki`]), one reading another
//! with a `peer` connector whose host name is checked against the certificate (the name is
//! resolved to 127.0.0.1 by the connector's `address`). A delta run carries exactly what the
//! peer changed; a peer whose store was replaced is listed again from the start; a peer that is
//! down, refuses the token or shows a certificate of another name fails the run with words that
//! say so and leaves the directory as it was; two enterprises of one server read each other
//! without sending anyone's contacts back.

use std::net::SocketAddr;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

pub(crate) use ucsync_testkit::Pki;

use crate::harness::{Env, counters};
use crate::serve::{Server, admin, call};

/// Server B's directory and PKI: enterprise `acme-b` with the people `numbers` (of
/// `b.example`) from a CSV file, and enterprise `acme-other`; its CA made in `pki`. The
/// environment, the PKI and the CA file.
pub(crate) fn server_b_env(numbers: &[usize]) -> (Env, Pki, String) {
    let b = Env::new();
    let pki = Pki::new(&b.path("pki"));
    let ca = pki.ca();
    b.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\nid = \"acme-b\"\n[enterprises.other]\nid = \"acme-other\"\n{}",
            staff_connector("staff", "default", "staff.csv")
        ),
    );
    b.write("staff.csv", staff("b.example", numbers, &[]));
    (b, pki, ca)
}

/// `ucsync serve` over HTTPS with `cert` on `listen`, with the environment `vars`.
pub(crate) fn serve(
    env: &Env,
    cert: &(String, String),
    listen: &str,
    vars: &[(&str, &str)],
) -> Server {
    let mut cmd = env.command(&["serve", "--listen", listen]);
    cmd.args(["--tls-cert", &cert.0, "--tls-key", &cert.1]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Server::start_command(cmd)
}

pub(crate) fn port(server: &Server) -> u16 {
    let url = server.url("");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// An HTTPS client that trusts `ca` alone, reaching `host` at 127.0.0.1.
pub(crate) fn https(ca: &str, host: Option<(&str, u16)>) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if let Some((host, port)) = host {
        builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], port)));
    }
    builder.build().unwrap()
}

/// A client of the server at `port` that trusts `ca` and reaches `host` there: the base URL
/// and the client.
pub(crate) fn client(ca: &str, host: &str, port: u16) -> (String, reqwest::Client) {
    (
        format!("https://{host}:{port}"),
        https(ca, Some((host, port))),
    )
}

/// An administrator of the peer role bound to the enterprise with the ID `id`, without token.
pub(crate) fn add_peer(env: &Env, name: &str, id: &str) {
    let out = env
        .command(&["admin", "add", name, "--role", "peer", "--enterprise", id])
        .env("UCSYNC_ADMIN_PASSWORD", format!("{name}-password"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// An administrator of the peer role bound to the enterprise with the ID `id`: its token.
pub(crate) fn peer_admin(env: &Env, name: &str, id: &str) -> String {
    add_peer(env, name, id);
    let out = env.run(&["admin", "token", name]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Sync Now of `enterprise` through the API at `base`, to its end: the run.
pub(crate) async fn sync_now(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    enterprise: &str,
) -> Value {
    let url = format!("{base}/api/v1/enterprises/{enterprise}/sync-now");
    let (status, body) = call(http, "POST", &url, Some(token)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["run_id"].as_i64().unwrap();
    for _ in 0..300 {
        let (_, run) = call(
            http,
            "GET",
            &format!("{base}/api/v1/runs/{id}"),
            Some(token),
        )
        .await;
        if run["status"] != "running" {
            assert_eq!(run["status"], "success", "{run:#}");
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("run {id} did not end");
}

/// The entries of `object_type` of `enterprise`, through the API at `base` (every page): each as its
/// attributes' first values, by name.
pub(crate) async fn entries(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    enterprise: &str,
    object_type: &str,
) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let url = format!(
            "{base}/api/v1/directory?enterprise={enterprise}&type={object_type}&limit=1000&after={after}"
        );
        let (status, body) = call(http, "GET", &url, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        all.extend(body["entries"].as_array().unwrap().iter().cloned());
        match body["next"].as_i64() {
            Some(next) => after = next,
            None => return all,
        }
    }
}

/// An entry's values of `name`, joined with `|`.
pub(crate) fn values(entry: &Value, name: &str) -> String {
    entry["attributes"][name]["values"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| x.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_default()
}

/// The mail addresses of `entries`, sorted (repeated ones stay: a duplicate shows).
pub(crate) fn mails(entries: &[Value]) -> Vec<String> {
    let mut m: Vec<String> = entries.iter().map(|e| values(e, "mail")).collect();
    m.sort();
    m
}

/// The people of a CSV connector, by number: given name, surname, mail at `domain`,
/// extension 4700 + number; the surname of the numbers in `renamed` is `Renamed`.
pub(crate) fn staff(domain: &str, numbers: &[usize], renamed: &[usize]) -> String {
    let mut s = String::from("employeeId,givenName,sn,mail,telephoneNumber\n");
    for i in numbers {
        let sn = if renamed.contains(i) {
            "Renamed".to_owned()
        } else {
            format!("Sur{i}")
        };
        s.push_str(&format!("{i},Given{i},{sn},p{i}@{domain},{}\n", 4700 + i));
    }
    s
}

pub(crate) fn addresses(domain: &str, numbers: &[usize]) -> Vec<String> {
    let mut m: Vec<String> = numbers.iter().map(|i| format!("p{i}@{domain}")).collect();
    m.sort();
    m
}

/// A CSV connector of `enterprise` giving the people of `file` as persons.
pub(crate) fn staff_connector(name: &str, enterprise: &str, file: &str) -> String {
    format!(
        r#"
[connectors.{name}]
kind = "csv"
enterprise = "{enterprise}"
[connectors.{name}.settings]
path = "{file}"
key = ["employeeId"]
[connectors.{name}.rules]
projection = {{ person = "person" }}
[connectors.{name}.rules.import_flows]
uid = "employeeId"
givenName = "givenName"
sn = "sn"
displayName = '"${{givenName}} ${{sn}}"'
mail = "mail"
telephoneNumber = "telephoneNumber"
"#
    )
}

/// Where a peer connector reads: the name the peer's certificate holds, its port (reached
/// at 127.0.0.1), the CA that signed the certificate.
pub(crate) struct At<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) ca: &'a str,
}

/// A peer connector of `enterprise` reading `peer_id` at `at`, with the token in the variable
/// `token_env`; its contacts go to the directory with their dial strings, federation and the
/// peer (`description`) as their folder.
pub(crate) fn peer_connector(
    name: &str,
    enterprise: &str,
    description: &str,
    at: &At,
    token_env: &str,
    peer_id: &str,
) -> String {
    let At { host, port, ca } = at;
    format!(
        r#"
[connectors.{name}]
kind = "peer"
enterprise = "{enterprise}"
[connectors.{name}.settings]
description = "{description}"
host = "{host}"
port = {port}
address = "127.0.0.1"
ca_file = "{ca}"
token_env = "{token_env}"
peer_enterprise_id = "{peer_id}"
dialing_prefix = "8"
page_size = 2
[connectors.{name}.rules]
projection = {{ contact = "contact" }}
[connectors.{name}.rules.import_flows]
displayName = "displayName"
givenName = "givenName"
sn = "sn"
mail = "mail"
telephoneNumber = "telephoneNumber"
dialString = "dialString"
federation = "federation"
folder = "peer"
"#
    )
}

/// A PBX node of `enterprise` (a pbx connector) with `digit` as its outgoing digit (none when
/// empty), reading an export of no numbers written in `env`.
pub(crate) fn pbx_node(env: &Env, name: &str, enterprise: &str, digit: &str) -> String {
    env.write(&format!("{name}.csv"), crate::pbx::HEADER);
    let digit = match digit {
        "" => String::new(),
        d => format!("outgoing_digit = \"{d}\"\n"),
    };
    format!(
        "\n[connectors.{name}]\nkind = \"pbx\"\nenterprise = \"{enterprise}\"\n[connectors.{name}.settings]\npath = \"{name}.csv\"\n{digit}[connectors.{name}.rules]\nprojection = {{ account = \"account\" }}\n"
    )
}

/// Server A: the `ucsync` CLI against it (`--server`, trusting the CA), and reads of its
/// directory through its API.
pub(crate) struct ServerA {
    pub(crate) env: Env,
    pub(crate) server: Option<Server>,
    pub(crate) ca: String,
    pub(crate) cert: (String, String),
    pub(crate) operator: String,
    pub(crate) viewer: String,
}

impl ServerA {
    pub(crate) fn start(&mut self, token: &str, forbidden_token: &str) {
        self.server = Some(serve(
            &self.env,
            &self.cert,
            "127.0.0.1:0",
            &[("PEER_B_TOKEN", token), ("OTHER_TOKEN", forbidden_token)],
        ));
    }

    pub(crate) fn base(&self) -> String {
        self.server.as_ref().unwrap().url("")
    }

    /// `ucsync --server A --json ARGS` as the operator: the exit code and the run it printed
    /// (`run`, `steps`), with every message of the run and its steps in `text`.
    pub(crate) fn run(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let out = self.command(args).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let mut text = report["run"]["message"].as_str().unwrap_or("").to_owned();
        for step in report["steps"].as_array().into_iter().flatten() {
            text.push('\n');
            text.push_str(step["message"].as_str().unwrap_or(""));
        }
        (out.status.code(), report, text)
    }

    /// `ucsync --server A --json ARGS` as the operator, to be started.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin!("ucsync"));
        command
            .args([
                "--server",
                &self.base(),
                "--token",
                &self.operator,
                "--ca-cert",
            ])
            .arg(&self.ca)
            .arg("--json")
            .args(args);
        command
    }

    /// Sync Now of A, which must succeed: the counters of the peer's import.
    pub(crate) fn sync(&self) -> ([i64; 5], String) {
        let (code, report, text) = self.run(&["sync-now"]);
        assert_eq!(code, Some(0), "{report:#}");
        let step = Env::step(&report, "peer-b", "delta-import");
        (counters(step), text)
    }

    pub(crate) async fn contacts(&self) -> Vec<Value> {
        let http = https(&self.ca, None);
        entries(&http, &self.base(), &self.viewer, "default", "contact").await
    }
}

/// Server A reads enterprise `acme-b` of server B. B: changes carried exactly, a peer token of
/// another enterprise and a certificate of another name refused with messages that say so, B
/// down (the run fails naming it, A keeps its contacts; B back: converged, and an entry id is
/// never given twice), and B's store replaced (410, everything listed again: no duplicate, no
/// lost delete; the old token refused as not valid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_server_follows_another_over_https_through_changes_outages_and_a_new_store() {
    // Server B: enterprise acme-b, its people from a CSV file; a second enterprise with an ID.
    let (b, pki, ca) = server_b_env(&[1, 2, 3, 4, 5]);
    let b_cert = pki.issue("peer-b.test", "DNS:peer-b.test");
    let make_b_admins = || {
        (
            peer_admin(&b, "peer-a", "acme-b"),
            peer_admin(&b, "peer-o", "acme-other"),
            admin(&b, "otto", "operator"),
        )
    };
    let (peer_token, other_token, mut b_operator) = make_b_admins();
    let mut b_server = serve(&b, &b_cert, "127.0.0.1:0", &[]);
    let b_port = port(&b_server);
    let b_listen = format!("127.0.0.1:{b_port}");
    let (b_base, b_http) = client(&ca, "peer-b.test", b_port);
    sync_now(&b_http, &b_base, &b_operator, "default").await;

    // Server A: B's people as contacts in its default enterprise; in enterprise "errors",
    // peer connectors that are refused.
    let a_env = Env::new();
    let connector = |name: &str, enterprise: &str, host: &str, token_env: &str| {
        let at = At {
            host,
            port: b_port,
            ca: &ca,
        };
        peer_connector(name, enterprise, "Branch B", &at, token_env, "acme-b")
    };
    // The PBX node of A's default enterprise dials 9 for an outside line.
    let node = pbx_node(&a_env, "pbx-a", "default", "9");
    a_env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.default]\n[enterprises.errors]\n{node}{}{}{}",
            connector("peer-b", "default", "peer-b.test", "PEER_B_TOKEN"),
            connector("peer-of-other", "errors", "peer-b.test", "OTHER_TOKEN"),
            connector("peer-misnamed", "errors", "other.test", "PEER_B_TOKEN"),
        ),
    );
    let a_cert = pki.issue("peer-a.test", "DNS:peer-a.test, IP:127.0.0.1");
    let mut a = ServerA {
        operator: admin(&a_env, "otto", "operator"),
        viewer: admin(&a_env, "vera", "viewer"),
        env: a_env,
        server: None,
        ca: ca.clone(),
        cert: a_cert,
    };
    a.start(&peer_token, &other_token);

    // The first run lists B's people: contacts with federation, dial strings (the PBX node's
    // outgoing digit, the prefix, the number), the folder.
    let (first, _) = a.sync();
    assert_eq!(first[..3], [5, 0, 0]);
    let contacts = a.contacts().await;
    assert_eq!(mails(&contacts), addresses("b.example", &[1, 2, 3, 4, 5]));
    for c in &contacts {
        let n: usize = values(c, "givenName")
            .trim_start_matches("Given")
            .parse()
            .unwrap();
        assert_eq!(values(c, "displayName"), format!("Given{n} Sur{n}"), "{c}");
        assert_eq!(values(c, "telephoneNumber"), format!("{}", 4700 + n), "{c}");
        assert_eq!(values(c, "dialString"), format!("98{}", 4700 + n), "{c}");
        assert_eq!(values(c, "federation"), "enabled", "{c}");
        assert_eq!(values(c, "folder"), "Branch B", "{c}");
        assert_eq!(c["attributes"]["mail"]["source"], "peer-b", "{c}");
    }

    // B: one added, one changed, one deleted; A's delta carries exactly those.
    b.write("staff.csv", staff("b.example", &[1, 2, 4, 5, 6], &[2]));
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    let (delta, _) = a.sync();
    assert_eq!(delta, [1, 1, 1, 0, 0]);
    let contacts = a.contacts().await;
    assert_eq!(mails(&contacts), addresses("b.example", &[1, 2, 4, 5, 6]));
    assert!(
        contacts
            .iter()
            .any(|c| values(c, "displayName") == "Given2 Renamed")
    );
    let (quiet, _) = a.sync();
    assert_eq!(quiet[..3], [0, 0, 0]);

    // A token of B's other enterprise may not read acme-b: 403, said in the run.
    let (code, report, text) = a.run(&["run", "peer-of-other", "delta-import"]);
    assert_ne!(code, Some(0), "{report:#}");
    assert!(
        text.contains("403 Forbidden")
            && text.contains("bound to another enterprise")
            && text.contains("acme-b"),
        "{text}"
    );
    // A certificate of another name: the run says which name the certificate holds.
    let (code, report, text) = a.run(&["run", "peer-misnamed", "delta-import"]);
    assert_ne!(code, Some(0), "{report:#}");
    assert!(
        text.contains("the certificate of other.test names peer-b.test, not other.test")
            && text.contains("subjectAltName=DNS:other.test"),
        "{text}"
    );

    // B deletes the person with its highest entry id, and stops.
    let people = entries(&b_http, &b_base, &b_operator, "default", "person").await;
    let highest = people.iter().map(|e| e["id"].as_i64().unwrap()).max();
    let six = people.iter().find(|e| values(e, "mail") == "p6@b.example");
    assert_eq!(six.and_then(|e| e["id"].as_i64()), highest);
    b.write("staff.csv", staff("b.example", &[1, 2, 4, 5], &[2]));
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    assert_eq!(b_server.stop(), Some(0));
    // A's run fails naming B; A's contacts stay as they were.
    let before = a.contacts().await;
    let (code, report, text) = a.run(&["sync-now"]);
    assert_ne!(code, Some(0), "{report:#}");
    assert!(
        text.contains(&format!("https://peer-b.test:{b_port}/"))
            && text.contains(&format!(
                "nothing listens at address 127.0.0.1, port {b_port}"
            )),
        "{text}"
    );
    assert_eq!(a.contacts().await, before);
    // B back on its port, with one more person: A's next run takes the deletion and the new
    // person.
    b_server = serve(&b, &b_cert, &b_listen, &[]);
    b.write("staff.csv", staff("b.example", &[1, 2, 4, 5, 7], &[2]));
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    let (back, _) = a.sync();
    assert_eq!(back, [1, 0, 1, 0, 0]);
    assert_eq!(
        mails(&a.contacts().await),
        addresses("b.example", &[1, 2, 4, 5, 7])
    );
    // B deletes that person, the one with the highest entry id, and is restarted; then
    // another comes. The newcomer's id on B is not the deleted one's: A sees one person
    // leave and another come, not one renamed.
    let person_ids = |people: &[Value]| -> Vec<(String, i64)> {
        people
            .iter()
            .map(|e| (values(e, "mail"), e["id"].as_i64().unwrap()))
            .collect()
    };
    let before = person_ids(&entries(&b_http, &b_base, &b_operator, "default", "person").await);
    let seven = before.iter().find(|(m, _)| m == "p7@b.example").unwrap().1;
    assert_eq!(before.iter().map(|(_, id)| *id).max(), Some(seven));
    b.write("staff.csv", staff("b.example", &[1, 2, 4, 5], &[2]));
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    assert_eq!(b_server.stop(), Some(0));
    b_server = serve(&b, &b_cert, &b_listen, &[]);
    b.write("staff.csv", staff("b.example", &[1, 2, 4, 5, 9], &[2]));
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    let after = person_ids(&entries(&b_http, &b_base, &b_operator, "default", "person").await);
    let nine = after.iter().find(|(m, _)| m == "p9@b.example").unwrap().1;
    assert_ne!(nine, seven, "{after:?}");
    let (renewed, _) = a.sync();
    assert_eq!(renewed, [1, 0, 1, 0, 0]);
    assert_eq!(
        mails(&a.contacts().await),
        addresses("b.example", &[1, 2, 4, 5, 9])
    );

    // B's store is replaced: a fresh data directory, the same configuration; person 4 left
    // and person 8 came while it was replaced. The peer administrator is made again.
    assert_eq!(b_server.stop(), Some(0));
    std::fs::rename(b.path("data"), b.path("data-replaced")).unwrap();
    b.write("staff.csv", staff("b.example", &[1, 2, 5, 8, 9], &[]));
    let (new_peer_token, _, operator) = make_b_admins();
    b_operator = operator;
    let _b_server = serve(&b, &b_cert, &b_listen, &[]);
    sync_now(&b_http, &b_base, &b_operator, "default").await;
    // A still has B's old token: not valid any more, and the run says so.
    let (code, report, text) = a.run(&["sync-now"]);
    assert_ne!(code, Some(0), "{report:#}");
    assert!(
        text.contains("401 Unauthorized") && text.contains("the token is not valid"),
        "{text}"
    );
    // With the new token (A's environment), B answers A's cursor 410: A lists everything
    // again, and its contacts are B's people exactly.
    a.server.take().unwrap().stop();
    a.start(&new_peer_token, &other_token);
    let (restart, text) = a.sync();
    assert_eq!(restart[4], 0, "{text}");
    assert!(text.contains("the peer asked to start over"), "{text}");
    let contacts = a.contacts().await;
    assert_eq!(mails(&contacts), addresses("b.example", &[1, 2, 5, 8, 9]));
    assert!(
        contacts
            .iter()
            .all(|c| values(c, "displayName") != "Given2 Renamed")
    );
    let (quiet, text) = a.sync();
    assert_eq!(quiet[..3], [0, 0, 0], "{text}");
    assert!(!text.contains("start over"), "{text}");
    // The connector's status names the peer's version.
    let base = a.base();
    let out = Command::new(assert_cmd::cargo::cargo_bin!("ucsync"))
        .args(["--server", &base, "--token", &a.operator, "--ca-cert"])
        .arg(&a.ca)
        .args(["connector", "status"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status.contains(&format!(
            "peer server: ucsync {}",
            env!("CARGO_PKG_VERSION")
        )),
        "{status}"
    );
}

/// One server, enterprises east and west, each with its people and a peer connector reading
/// the other over HTTPS: each gets the other's people as contacts and nothing comes back;
/// a deletion goes one way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_enterprises_of_one_server_read_each_other_and_nothing_comes_back() {
    let env = Env::new();
    let pki = Pki::new(&env.path("pki"));
    let ca = pki.ca();
    let cert = pki.issue("hub.test", "DNS:hub.test");
    env.write("east.csv", staff("east.example", &[1, 2, 3], &[]));
    env.write("west.csv", staff("west.example", &[11, 12], &[]));
    // The peer connectors name the server's port: a free one, taken before it starts.
    let hub_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hub = At {
        host: "hub.test",
        port: hub_port,
        ca: &ca,
    };
    env.write(
        "ucsync.toml",
        format!(
            "version = 1\n[enterprises.east]\nid = \"east-1\"\n[enterprises.west]\nid = \"west-1\"\n{}{}{}{}",
            staff_connector("east-staff", "east", "east.csv"),
            staff_connector("west-staff", "west", "west.csv"),
            peer_connector("from-west", "east", "West", &hub, "WEST_TOKEN", "west-1"),
            peer_connector("from-east", "west", "East", &hub, "EAST_TOKEN", "east-1"),
        ),
    );
    let east_reads = peer_admin(&env, "east-reads-west", "west-1");
    let west_reads = peer_admin(&env, "west-reads-east", "east-1");
    let operator = admin(&env, "otto", "operator");
    let vars = [
        ("WEST_TOKEN", east_reads.as_str()),
        ("EAST_TOKEN", &west_reads),
    ];
    let _server = serve(&env, &cert, &format!("127.0.0.1:{hub_port}"), &vars);
    let (base, http) = client(&ca, "hub.test", hub_port);
    let import = |run: &Value, connector: &str| {
        let step = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["connector"] == connector && s["profile"] == "delta-import")
            .unwrap_or_else(|| panic!("no import of {connector} in {run:#}"))
            .clone();
        counters(&step)
    };

    // East first (west has nothing yet), then west (east's people), then east again (west's
    // people; not east's own, which west now holds as contacts).
    let run = sync_now(&http, &base, &operator, "east").await;
    assert_eq!(import(&run, "from-west"), [0, 0, 0, 0, 0]);
    let run = sync_now(&http, &base, &operator, "west").await;
    assert_eq!(import(&run, "from-east"), [3, 0, 0, 0, 0]);
    let run = sync_now(&http, &base, &operator, "east").await;
    assert_eq!(import(&run, "from-west"), [2, 0, 0, 0, 0]);
    for _ in 0..2 {
        let run = sync_now(&http, &base, &operator, "west").await;
        assert_eq!(import(&run, "from-east")[..3], [0, 0, 0]);
        let run = sync_now(&http, &base, &operator, "east").await;
        assert_eq!(import(&run, "from-west")[..3], [0, 0, 0]);
    }
    let directory = |enterprise: &'static str, object_type: &'static str| {
        let (http, base, operator) = (&http, &base, &operator);
        async move { mails(&entries(http, base, operator, enterprise, object_type).await) }
    };
    assert_eq!(
        directory("east", "person").await,
        addresses("east.example", &[1, 2, 3])
    );
    assert_eq!(
        directory("east", "contact").await,
        addresses("west.example", &[11, 12])
    );
    assert_eq!(
        directory("west", "person").await,
        addresses("west.example", &[11, 12])
    );
    assert_eq!(
        directory("west", "contact").await,
        addresses("east.example", &[1, 2, 3])
    );
    // Each feed offers its own people alone.
    for (id, token, count) in [("east-1", &west_reads, 3), ("west-1", &east_reads, 2)] {
        let url = format!("{base}/api/v1/peer/v1/enterprises/{id}/changes");
        let (status, page) = call(&http, "GET", &url, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let listed = page["contacts"].as_array().unwrap();
        assert_eq!(listed.len(), count, "{page:#}");
        assert!(listed.iter().all(|c| c["type"] == "person"), "{page:#}");
    }

    // West loses a person: east's contact goes, and the deletion of that contact in east
    // is nothing west had.
    env.write("west.csv", staff("west.example", &[11], &[]));
    sync_now(&http, &base, &operator, "west").await;
    let run = sync_now(&http, &base, &operator, "east").await;
    assert_eq!(import(&run, "from-west"), [0, 0, 1, 0, 0]);
    let run = sync_now(&http, &base, &operator, "west").await;
    assert_eq!(import(&run, "from-east")[..3], [0, 0, 0]);
    assert_eq!(
        directory("east", "contact").await,
        addresses("west.example", &[11])
    );
    assert_eq!(
        directory("west", "contact").await,
        addresses("east.example", &[1, 2, 3])
    );
}
