//! Peer servers at their edges, end to end through real `ucsync serve` processes over HTTPS
//! (with the helpers of [`crate::peer_servers`]): B going down between two pages of one
//! listing (a TCP relay in the way cuts the connection), A killed while the relay holds B's
//! answer, deleting A's peer connector together with the contacts it brought, and B serving
//! certificates that A must refuse. After every failed run, A's contacts, the peer connector's
//! staging space and its watermark are exactly as they were before it; after a killed one, the
//! next run goes on from what it committed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::Value;
use sqlx::Connection;

use crate::harness::{Env, counters};
use crate::peer_servers::{
    At, Pki, ServerA, addresses, client, mails, peer_admin, peer_connector, port, serve, staff,
    staff_connector, sync_now, values,
};
use crate::serve::{Server, admin};

/// A TCP relay on 127.0.0.1 to a server's port. TLS passes through it untouched (it is end to
/// end); the relay counts the bytes the server sends and, once its budget is spent, cuts the
/// connection where it is and closes every later connection at once, or, holding, keeps the
/// connection open and passes nothing more until everything passes again.
struct Relay {
    port: u16,
    sent: Arc<AtomicU64>,
    budget: Arc<AtomicU64>,
    hold: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Relay {
    fn start(to: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            sent: Arc::new(AtomicU64::new(0)),
            budget: Arc::new(AtomicU64::new(u64::MAX)),
            hold: Arc::new(AtomicBool::new(false)),
            done: Arc::new(AtomicBool::new(false)),
        };
        let (sent, budget, hold) = (relay.sent.clone(), relay.budget.clone(), relay.hold.clone());
        let done = relay.done.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let (Ok(client), sent, budget) = (client, sent.clone(), budget.clone()) else {
                    continue;
                };
                let hold = hold.clone();
                std::thread::spawn(move || Relay::connection(client, to, &sent, &budget, &hold));
            }
        });
        relay
    }

    fn connection(
        client: TcpStream,
        to: u16,
        sent: &AtomicU64,
        budget: &AtomicU64,
        hold: &AtomicBool,
    ) {
        if sent.load(Ordering::SeqCst) >= budget.load(Ordering::SeqCst) {
            return;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
            return;
        };
        let (mut up_from, mut up_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut up_from, &mut up_to);
            let _ = up_to.shutdown(Shutdown::Write);
        });
        let (mut from, mut to) = (&server, &client);
        let mut buf = [0u8; 8192];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n as u64,
            };
            let budget = budget.load(Ordering::SeqCst);
            let before = sent.fetch_add(n, Ordering::SeqCst);
            let pass = n.min(budget.saturating_sub(before)) as usize;
            if to.write_all(&buf[..pass]).is_err() {
                break;
            }
            if before.saturating_add(n) >= budget {
                if !hold.load(Ordering::SeqCst) {
                    break;
                }
                while hold.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                if to.write_all(&buf[pass..n as usize]).is_err() {
                    break;
                }
            }
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    }

    /// Everything passes again; the count starts over.
    fn pass(&self) {
        self.budget.store(u64::MAX, Ordering::SeqCst);
        self.sent.store(0, Ordering::SeqCst);
        self.hold.store(false, Ordering::SeqCst);
    }

    /// Once the server has sent `bytes` more, the connection stays open and nothing more
    /// passes until [`Relay::pass`].
    fn hold_after(&self, bytes: u64) {
        self.hold.store(true, Ordering::SeqCst);
        self.cut_after(bytes);
    }

    /// The connection is cut once the server has sent `bytes` more.
    fn cut_after(&self, bytes: u64) {
        self.sent.store(0, Ordering::SeqCst);
        self.budget.store(bytes, Ordering::SeqCst);
    }

    /// The bytes the server sent since the count started.
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Server B: enterprise `acme-b` whose people (of b.example) come from a CSV file, served over
/// HTTPS as `peer-b.test` with a certificate of its own CA.
struct ServerB {
    env: Env,
    pki: Pki,
    cert: (String, String),
    server: Option<Server>,
    port: u16,
    peer_token: String,
    operator: String,
}

impl ServerB {
    /// B with the people `numbers`, synchronized.
    async fn start(numbers: &[usize]) -> ServerB {
        let env = Env::new();
        let pki = Pki::new(&env.path("pki"));
        env.write(
            "ucsync.toml",
            format!(
                "version = 1\n[enterprises.default]\nid = \"acme-b\"\n{}",
                staff_connector("staff", "default", "staff.csv")
            ),
        );
        let cert = pki.issue("peer-b.test", "DNS:peer-b.test");
        let mut b = ServerB {
            peer_token: peer_admin(&env, "peer-a", "acme-b"),
            operator: admin(&env, "otto", "operator"),
            server: Some(serve(&env, &cert, "127.0.0.1:0", &[])),
            port: 0,
            env,
            pki,
            cert,
        };
        b.port = port(b.server.as_ref().unwrap());
        b.sync(numbers, &[]).await;
        b
    }

    /// B's people become `numbers` (those of `renamed` with the surname `Renamed`).
    async fn sync(&self, numbers: &[usize], renamed: &[usize]) {
        self.env
            .write("staff.csv", staff("b.example", numbers, renamed));
        let (base, http) = client(&self.pki.ca(), "peer-b.test", self.port);
        sync_now(&http, &base, &self.operator, "default").await;
    }

    /// B served again, on its port, with `cert`.
    fn serve_with(&mut self, cert: &(String, String)) {
        if let Some(server) = self.server.take() {
            assert_eq!(server.stop(), Some(0));
        }
        let listen = format!("127.0.0.1:{}", self.port);
        self.server = Some(serve(&self.env, cert, &listen, &[]));
    }
}

/// Server A, started: its people p1 and p2 of a.example, and the peer connector `peer-b`
/// reading B at `port` (B's or a relay's) with pages of `page_size`.
fn server_a(b: &ServerB, port: u16, page_size: u32, deletion_threshold: u32) -> ServerA {
    let env = Env::new();
    env.write("a.csv", staff("a.example", &[1, 2], &[]));
    let ca = b.pki.ca();
    let at = At {
        host: "peer-b.test",
        port,
        ca: &ca,
    };
    let peer = peer_connector(
        "peer-b",
        "default",
        "Branch B",
        &at,
        "PEER_B_TOKEN",
        "acme-b",
    );
    assert!(peer.contains("page_size = 2\n"), "{peer}");
    let peer = peer.replace("page_size = 2\n", &format!("page_size = {page_size}\n"));
    env.write("ucsync.toml", a_config(deletion_threshold, &peer));
    let mut a = ServerA {
        operator: admin(&env, "otto", "operator"),
        viewer: admin(&env, "vera", "viewer"),
        cert: b
            .pki
            .issue_as("a", "peer-a.test", Some("IP:127.0.0.1"), None),
        env,
        server: None,
        ca,
    };
    a.start(&b.peer_token, "");
    a
}

/// A's configuration: its own people, and `peer` (a connector, or nothing).
fn a_config(deletion_threshold: u32, peer: &str) -> String {
    format!(
        "version = 1\n[enterprises.default]\ndeletion_threshold = {deletion_threshold}\n{}{peer}",
        staff_connector("staff", "default", "a.csv")
    )
}

/// The staging space of A's connector `peer-b` (anchor, hash, attributes, entry, sync state)
/// and its watermark, read from A's store.
type Staged = (
    Option<String>,
    Vec<(String, i64, Option<Vec<u8>>, Option<i64>, i64)>,
);

/// A's store, read-only.
async fn a_store(a: &ServerA) -> sqlx::SqliteConnection {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(a.env.path("data/ucsync.db"))
        .read_only(true);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap()
}

/// What a failed run must leave as it was: A's contacts (through its API, with their entry
/// ids and the sources of their values) and the staging space and watermark of `peer-b`.
async fn state(a: &ServerA) -> (Vec<Value>, Staged) {
    let mut db = a_store(a).await;
    let watermark: Option<String> =
        sqlx::query_scalar("SELECT watermark FROM connectors WHERE name = 'peer-b'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let staged = sqlx::query_as(
        "SELECT s.anchor, s.hash, s.attrs, s.entry_id, s.sync_state FROM staging s
         JOIN connectors c ON c.id = s.connector_id WHERE c.name = 'peer-b' ORDER BY s.anchor",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    (a.contacts().await, (watermark, staged))
}

fn numbers(range: std::ops::RangeInclusive<usize>) -> Vec<usize> {
    range.collect()
}

/// B's connection is cut in the middle of one listing (a delta of three pages, then a full
/// listing of five): A's run fails naming the page it could not read and saying to run again;
/// the watermark stays, and what the pages read before the cut gave is taken (each contact as
/// B gave it): A loses nothing, and the run that reads the listing whole finishes it. With
/// everything passing, the next run converges on B: over all the runs, each of B's changes
/// was counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_cut_off_between_two_pages_leaves_a_as_it_was_and_the_next_run_converges() {
    let b = ServerB::start(&numbers(1..=100)).await;
    let relay = Relay::start(b.port);
    let a = server_a(&b, relay.port, 50, 500);
    let (first, _) = a.sync();
    assert_eq!(first[..3], [100, 0, 0]);
    // On B, 10 leave, 10 are renamed and 120 come: a delta of 140 entries, pages of 50.
    b.sync(&numbers(11..=220), &numbers(11..=20)).await;

    let later_page = format!(
        "https://peer-b.test:{}/api/v1/peer/v1/enterprises/acme-b/changes?cursor=",
        relay.port
    );
    // What the import steps counted, over all the runs: (added, updated, deleted).
    let mut counted = [0; 3];
    let mut count = |step: &Value| {
        let [added, updated, deleted, _, errors] = counters(step);
        assert_eq!(errors, 0, "{step:#}");
        counted = [
            counted[0] + added,
            counted[1] + updated,
            counted[2] + deleted,
        ];
    };
    // A sync-now reports its steps; a run of one profile reports that run.
    for (run, step) in [
        (&["sync-now"][..], Some("delta-import")),
        (&["run", "peer-b", "full-import"], None),
    ] {
        // The size of the listing: a preview reads it all and changes nothing.
        let before = state(&a).await;
        relay.pass();
        let (code, report, _) = a.run(&[run, &["--preview"]].concat());
        assert_eq!(code, Some(0), "{report:#}");
        let whole = relay.sent();
        assert_eq!(state(&a).await, before, "{run:?} --preview changed A");
        // Cut halfway: inside a page after the first, whatever the exact sizes.
        relay.cut_after(whole / 2);
        let (code, report, text) = a.run(run);
        assert_ne!(code, Some(0), "{run:?}: {report:#}");
        assert!(relay.sent() >= whole / 2, "{run:?}: not cut; {report:#}");
        assert!(
            text.contains(&later_page)
                && text.contains("broke off")
                && text.contains("run the import again, and check the peer if it repeats"),
            "{run:?}: {text}"
        );
        // A has B's contacts as they were or as they are now, and lost none that B has.
        let (contacts, (watermark, _)) = state(&a).await;
        let (had, has) = (mails(&before.0), mails(&contacts));
        let b_has = addresses("b.example", &numbers(11..=220));
        assert!(
            has.iter().all(|m| had.contains(m) || b_has.contains(m)),
            "{run:?}: {has:?}"
        );
        assert!(
            had.iter()
                .filter(|m| b_has.contains(m))
                .all(|m| has.contains(m)),
            "{run:?}: {has:?}"
        );
        assert_eq!(watermark, before.1.0, "{run:?} moved the watermark: {text}");
        count(match step {
            Some(profile) => Env::step(&report, "peer-b", profile),
            None => &report["run"],
        });
    }

    // Everything passes: the full import that did not finish is made again, and it takes
    // exactly B's changes.
    relay.pass();
    let (code, report, text) = a.run(&["sync-now"]);
    assert_eq!(code, Some(0), "{report:#}");
    let step = Env::step(&report, "peer-b", "full-import");
    count(step);
    let [added, updated, _, unchanged, _] = counters(step);
    // B holds 210 contacts, each given once by the listing that went through.
    assert_eq!(added + updated + unchanged, 210, "{text}");
    assert_eq!(counted, [120, 10, 10], "{text}");
    assert!(
        text.contains("full-import instead of delta-import: the last full import did not finish"),
        "{text}"
    );
    let contacts = a.contacts().await;
    assert_eq!(mails(&contacts), addresses("b.example", &numbers(11..=220)));
    let renamed = contacts
        .iter()
        .filter(|c| values(c, "sn") == "Renamed")
        .count();
    assert_eq!(renamed, 10);
    let (quiet, text) = a.sync();
    assert_eq!(quiet[..3], [0, 0, 0], "{text}");
}

/// `kill -9` of server A in the middle of a peer listing, B's answer held by the relay after A
/// has committed a batch of it: restarted, A records the run as interrupted, and its next Sync
/// Now goes on from what was committed. The first time (a first full import killed) it lists
/// everything again; the second (a delta killed) it reads the delta again from the watermark.
/// Either way no contact comes twice, no delete is lost, each of B's changes is synced once and
/// the contacts A had keep their entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_in_the_middle_of_a_listing_goes_on_from_what_it_committed() {
    // More than one import batch (5,000 changes) of contacts in each listing.
    const FIRST: usize = 5_600;
    const MORE: usize = 6_000;
    let b = ServerB::start(&numbers(1..=FIRST)).await;
    let relay = Relay::start(b.port);
    let mut a = server_a(&b, relay.port, 500, 500);

    // The first full import, killed.
    let interrupted = kill_mid_listing(&mut a, &b, &relay, 5_000).await;
    assert_eq!(interrupted, 1);
    let (code, report, text) = a.run(&["sync-now"]);
    assert_eq!(code, Some(0), "{report:#}");
    let [added, ..] = counters(Env::step(&report, "peer-b", "delta-sync"));
    assert_eq!(added, FIRST as i64, "{text}");
    let before = a.contacts().await;
    assert_eq!(mails(&before), addresses("b.example", &numbers(1..=FIRST)));

    // On B, 10 leave, 10 are renamed and MORE come; the delta that carries them, killed.
    b.sync(&numbers(11..=FIRST + MORE), &numbers(11..=20)).await;
    let interrupted = kill_mid_listing(&mut a, &b, &relay, FIRST + 4_000).await;
    assert_eq!(interrupted, 2);
    let (code, report, text) = a.run(&["sync-now"]);
    assert_eq!(code, Some(0), "{report:#}");
    let import = Env::step(&report, "peer-b", "delta-import");
    assert_eq!(counters(import)[4], 0, "{text}");
    let [added, updated, deleted, ..] = counters(Env::step(&report, "peer-b", "delta-sync"));
    assert_eq!(
        [added, updated, deleted],
        [MORE as i64, 10, 10],
        "each change synced once: {text}"
    );
    let after = a.contacts().await;
    assert_eq!(
        mails(&after),
        addresses("b.example", &numbers(11..=FIRST + MORE))
    );
    let renamed = after.iter().filter(|c| values(c, "sn") == "Renamed");
    assert_eq!(renamed.count(), 10);
    let ids = |list: &[Value]| -> std::collections::BTreeMap<String, i64> {
        list.iter()
            .map(|c| (values(c, "mail"), c["id"].as_i64().unwrap()))
            .collect()
    };
    let (had, has) = (ids(&before), ids(&after));
    for (mail, id) in &had {
        if let Some(now) = has.get(mail) {
            assert_eq!(now, id, "{mail} has another entry");
        }
    }
    let (quiet, text) = a.sync();
    assert_eq!(quiet[..3], [0, 0, 0], "{text}");
}

/// Starts A's Sync Now with B's answer held at nine tenths of the listing, waits until A has
/// committed at least `staged` staged contacts, kills A (`kill -9`) and starts it again with
/// everything passing; returns how many of A's runs are now `interrupted` Sync Nows.
async fn kill_mid_listing(a: &mut ServerA, b: &ServerB, relay: &Relay, staged: usize) -> usize {
    // The size of the listing: a preview reads it all and changes nothing.
    relay.pass();
    let (code, report, _) = a.run(&["sync-now", "--preview"]);
    assert_eq!(code, Some(0), "{report:#}");
    relay.hold_after(relay.sent() * 9 / 10);
    let mut run = a
        .command(&["sync-now"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while staged_count(a).await < staged {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "A staged {} of {staged} contacts in a minute",
            staged_count(a).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Held: A waits for the rest of a page, and its enterprise takes no other run meanwhile,
    // through its API or from the data directory.
    assert!(relay.sent() >= relay.budget.load(Ordering::SeqCst));
    let second = a.command(&["sync-now"]).output().unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{said}");
    assert!(
        said.contains("409 Conflict: a run of enterprise default is in progress"),
        "{said}"
    );
    let local = a.env.run(&["run", "peer-b", "delta-import"]);
    assert!(!local.status.success());
    let said = String::from_utf8_lossy(&local.stderr);
    assert!(said.contains("a ucsync server holds"), "{said}");
    drop(a.server.take()); // SIGKILL
    assert!(
        !run.wait().unwrap().success(),
        "the run's client saw it end"
    );
    a.start(&b.peer_token, "");
    relay.pass();
    let (code, runs, _) = a.run(&["runs", "--limit", "100"]);
    assert_eq!(code, Some(0), "{runs:#}");
    let runs = runs.as_array().unwrap();
    assert!(runs.iter().all(|r| r["status"] != "running"), "{runs:#?}");
    runs.iter()
        .filter(|r| r["profile"] == "sync-now" && r["status"] == "interrupted")
        .count()
}

/// How many objects the staging space of A's `peer-b` holds, read from A's store.
async fn staged_count(a: &ServerA) -> usize {
    let mut db = a_store(a).await;
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM staging s JOIN connectors c ON c.id = s.connector_id \
         WHERE c.name = 'peer-b'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    count as usize
}

/// With the peer connector out of A's configuration, `ucsync connector delete` names the
/// contacts it would delete, is held by the deletion threshold, changes nothing in a preview,
/// and then deletes B's contacts and nothing else of A's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_peer_connector_deletes_the_contacts_it_brought_and_only_those() {
    let b = ServerB::start(&numbers(1..=5)).await;
    let mut a = server_a(&b, b.port, 2, 3);
    let (first, _) = a.sync();
    assert_eq!(first[..3], [5, 0, 0]);
    assert_eq!(mails(&a.contacts().await).len(), 5);

    // The deletion is local, with A stopped and the connector out of its file.
    assert_eq!(a.server.take().unwrap().stop(), Some(0));
    a.env.write("ucsync.toml", a_config(3, ""));
    let directory = a.env.directory();
    let delete = |more: &[&str], code: i32| {
        let args = [&["connector", "delete", "peer-b"][..], more].concat();
        a.env.json(&args, code)
    };
    // Five contacts are more than the threshold of 3, and more than 4 allowed.
    for more in [&[][..], &["--allow-deletes", "4"]] {
        let held = delete(more, 3);
        assert_eq!(held["status"], "stopped-deletion-threshold", "{held:#}");
        let message = held["message"].as_str().unwrap();
        assert!(
            message.contains("the 5 entries it owns") && message.contains("--allow-deletes 5"),
            "{message}"
        );
        assert_eq!(a.env.directory(), directory, "held, and yet changed");
    }
    let preview = delete(&["--preview", "--allow-deletes", "5"], 0);
    assert_eq!(preview["preview"], true, "{preview:#}");
    let going: Vec<&Value> = preview["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "disconnected")
        .collect();
    assert_eq!(going.len(), 5, "{preview:#}");
    assert_eq!(a.env.directory(), directory, "a preview changes nothing");

    let done = delete(&["--allow-deletes", "5"], 0);
    assert_eq!(done["status"], "success", "{done:#}");
    let message = done["message"].as_str().unwrap();
    assert!(message.contains("5 entries it owned deleted"), "{message}");
    let left = a.env.directory();
    assert!(left.iter().all(|e| e["type"] == "person"), "{left:#?}");
    assert_eq!(mails(&left), addresses("a.example", &[1, 2]));

    // A serves again without it: its run reads no peer, and no contact comes back.
    a.start(&b.peer_token, "");
    let (code, report, text) = a.run(&["sync-now"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(!text.contains("peer-b"), "{text}");
    assert_eq!(a.contacts().await, Vec::<Value>::new());
}

/// B serves, in turn, a certificate with its name only as the CN, an expired one, one of a CA
/// that A's `ca_file` does not hold and one of a CA of the same name made again: each time A's
/// run fails naming the host, what the certificate holds and the fix, and A's contacts stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_a_must_refuse_fail_the_run_saying_what_they_hold_and_the_fix() {
    let mut b = ServerB::start(&[1, 2, 3]).await;
    let a = server_a(&b, b.port, 2, 500);
    let (first, _) = a.sync();
    assert_eq!(first[..3], [3, 0, 0]);
    let before = state(&a).await;

    let stranger = Pki::named(&b.env.path("stranger"), "stranger test CA");
    let again = Pki::new(&b.env.path("again"));
    let ca_file = b.pki.ca();
    let cases = [
        (
            b.pki.issue_as("cn-only", "peer-b.test", None, None),
            vec![
                "the certificate of peer-b.test names only CN=peer-b.test (no subject alternative name)".to_owned(),
                "reissue it with subjectAltName=DNS:peer-b.test".to_owned(),
            ],
        ),
        (
            b.pki.issue_as(
                "expired",
                "peer-b.test",
                Some("DNS:peer-b.test"),
                Some(("20240101000000Z", "20250101000000Z")),
            ),
            vec![
                "the certificate of peer-b.test expired on 2025-01-01: the peer's administrator must renew it".to_owned(),
                "the certificate holds subject alternative names DNS:peer-b.test; CN=peer-b.test; valid from 2024-01-01 to 2025-01-01".to_owned(),
            ],
        ),
        (
            stranger.issue("peer-b.test", "DNS:peer-b.test"),
            vec![
                "the certificate of peer-b.test was signed by a CA this server does not trust".to_owned(),
                format!("the CA in ca_file ({ca_file}) did not sign it"),
                "give the CA that did (CN=stranger test CA) in ca_file".to_owned(),
                "the certificate holds subject alternative names DNS:peer-b.test; CN=peer-b.test".to_owned(),
            ],
        ),
        (
            again.issue("peer-b.test", "DNS:peer-b.test"),
            vec![
                "a CA in ca_file has its issuer's name (CN=ucsync peers test CA) but not the key that signed it".to_owned(),
            ],
        ),
    ];
    for (cert, words) in &cases {
        b.serve_with(cert);
        let (code, report, text) = a.run(&["sync-now"]);
        assert_ne!(code, Some(0), "{} was accepted: {report:#}", cert.0);
        let url = format!("https://peer-b.test:{}/", b.port);
        for w in words.iter().chain([&url]) {
            assert!(text.contains(w.as_str()), "{w:?} is missing from: {text}");
        }
        assert_eq!(state(&a).await, before, "{}: {text}", cert.0);
    }

    // B's own certificate again: A reads on, and nothing changed in between.
    let cert = b.cert.clone();
    b.serve_with(&cert);
    let (quiet, text) = a.sync();
    assert_eq!(quiet, [0, 0, 0, 0, 0], "{text}");
}
