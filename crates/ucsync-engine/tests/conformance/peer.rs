//! The `peer` kind against its real peer, another ucsync server: `ucsync-server`'s router
//! (with the peer sync feed of `docs/PEER.md`) served in process over HTTPS on 127.0.0.1, one
//! server per test, over a SQLite store whose enterprise `peer-ent` an engine of its own fills
//! from a CSV file of people. Import-only.
//!
//! The named objects are the peer's people (`givenName` is the name; each has a phone
//! number). Adding, changing or deleting one edits the CSV file and runs the peer's Sync Now,
//! as the peer's administrator would; the connector then reads the change from the feed.
//!
//! The sync functions of [`Peer`] drive the server's async parts on the test's own runtime
//! ([`wait`]): the suite's tests run multi-threaded, so the server keeps serving meanwhile.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ucsync_engine::{Engine, NoProgress, RunOptions, RunStatus, Stop};
use ucsync_store::{AdminStore, CatalogStore, DirectoryStore, Entry, SqliteStore, Store};
use ucsync_testkit::tls::TlsFiles;

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED, words};

/// The peer's enterprise, as `[enterprises.default] id` names it there.
const ENTERPRISE_ID: &str = "peer-ent";
/// The feed the connector reads.
const FEED: &str = "/api/v1/peer/v1/enterprises/peer-ent/changes";
const HEADER: &str = "id,givenName,sn,displayName,mail,phone";

/// The peer server's configuration: one enterprise, its people from `people.csv`.
const PEER_CONFIG: &str = r#"version = 1

[enterprises.default]
id = "peer-ent"

[connectors.people]
kind = "csv"
[connectors.people.settings]
path = "people.csv"
key = ["id"]
[connectors.people.rules]
projection = { person = "person" }
[connectors.people.rules.import_flows]
uid = "id"
givenName = "givenName"
sn = "sn"
displayName = "displayName"
mail = "mail"
telephoneNumber = "phone"
"#;

/// Runs `f` to its end from sync code inside the test's (multi-threaded) runtime.
fn wait<F: Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

fn row(name: &str, phone: &str) -> String {
    row_named(name, &format!("{name} Peer"), phone)
}

fn row_named(name: &str, display_name: &str, phone: &str) -> String {
    format!("{name},{name},Peer,{display_name},{name}@peer.example,{phone}")
}

/// A ucsync server offering enterprise `peer-ent` to peers, private to one test; it stops
/// serving when dropped.
pub struct PeerServer {
    /// The server's directory: its configuration's base, `people.csv`, the store in `data`.
    dir: PathBuf,
    tls: TlsFiles,
    store: Arc<SqliteStore>,
    engine: Arc<Engine>,
    port: u16,
    /// The token of the administrator `hub` (role `peer`, bound to `peer-ent`).
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl PeerServer {
    fn csv(&self) -> PathBuf {
        self.dir.join("people.csv")
    }

    fn rows(&self) -> Vec<String> {
        std::fs::read_to_string(self.csv())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Writes the people file and runs the peer's Sync Now (import and sync into its
    /// directory), which must succeed.
    fn write(&self, rows: &[String]) {
        let mut text = rows.join("\n");
        text.push('\n');
        std::fs::write(self.csv(), text).unwrap();
        let options = RunOptions {
            preview: false,
            allow_deletes: None,
            status_dir: self.dir.join("data/status"),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            look_up_from: None,
            export_batch: None,
            started: None,
            stop: Stop::default(),
            started_by: "local".into(),
        };
        let report = wait(self.engine.sync_now("default", &options)).unwrap();
        assert_eq!(
            report.status,
            RunStatus::Success,
            "the peer server's Sync Now: {:?}",
            report.message
        );
    }

    /// Replaces (or removes) the row of the person named `name`.
    fn edit(&self, name: &str, to: Option<String>) {
        let start = format!("{name},");
        let mut rows = self.rows();
        let i = rows.iter().position(|r| r.starts_with(&start)).unwrap();
        match to {
            Some(r) => rows[i] = r,
            None => {
                rows.remove(i);
            }
        }
        self.write(&rows);
    }

    /// The entries of the peer server's directory, read in its store.
    fn entries(&self) -> Vec<Entry> {
        wait(async {
            let enterprise = self.store.ensure_enterprise("default").await.unwrap();
            self.store.entries_page(enterprise, 0, 1000).await.unwrap()
        })
    }

    fn settings_with(&self, port: u16, token: &str) -> String {
        format!(
            r#"description = "Peer server"
host = "localhost"
port = {port}
ca_file = "{}"
token = "{token}"
peer_enterprise_id = "{ENTERPRISE_ID}"
page_size = 2
"#,
            self.tls.ca_cert.display()
        )
    }

    /// An HTTPS responder with the server's certificate that answers every request with a
    /// redirect to the same path on the peer server: the peer's old address, after it moved.
    /// Its port.
    fn redirector(&self) -> u16 {
        let acceptor =
            ucsync_server::tls::acceptor(&self.tls.server_cert, &self.tls.server_key, None)
                .unwrap();
        let to = self.port;
        wait(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut head = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match tls.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&head);
                        let target = head.split(' ').nth(1).unwrap_or("/");
                        let answer = format!(
                            "HTTP/1.1 302 Found\r\nLocation: https://localhost:{to}{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let _ = tls.write_all(answer.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    });
                }
            });
            port
        })
    }
}

impl Peer for PeerServer {
    const KIND: &'static str = "peer";

    fn setup(dir: &Path, _test: &str) -> Self {
        let dir = dir.join("peer-server");
        let tls = ucsync_testkit::tls::generate(&dir.join("tls")).unwrap();
        let (store, engine, port, token, stop) = wait(async {
            let store = Arc::new(SqliteStore::open(&dir.join("data")).await.unwrap());
            let mut config =
                ucsync_model::config::parse(PEER_CONFIG, &ucsync_connectors::Connectors).unwrap();
            config.base_dir = Some(dir.display().to_string());
            let connectors =
                ucsync_model::config::build_all(&config, &ucsync_connectors::Connectors).unwrap();
            let shared: Arc<dyn Store> = store.clone();
            let engine = Arc::new(Engine::new(shared, config, connectors));
            // The administrator this hub reads as, with the peer role bound to the enterprise.
            let password = ucsync_server::auth::new_token().unwrap();
            let hash = ucsync_server::auth::hash_password(&password).unwrap();
            let admin = store
                .put_admin("hub", "peer", Some(ENTERPRISE_ID), &hash)
                .await
                .unwrap();
            let token = ucsync_server::auth::new_token().unwrap();
            store
                .add_token(admin, &ucsync_server::auth::token_hash(&token), "hub")
                .await
                .unwrap();
            let state = ucsync_server::AppState::new(
                engine.clone(),
                Arc::new(ucsync_connectors::Connectors),
                dir.join("data/status"),
                Arc::new(ucsync_server::SystemClock),
            );
            let acceptor =
                ucsync_server::tls::acceptor(&tls.server_cert, &tls.server_key, None).unwrap();
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = tcp.local_addr().unwrap().port();
            let listener = ucsync_server::tls::TlsListener::new(tcp, acceptor).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(ucsync_server::serve(listener, state, async move {
                let _ = stopped.await;
            }));
            (store, engine, port, token, stop)
        });
        let peer = PeerServer {
            dir,
            tls,
            store,
            engine,
            port,
            token,
            stop: Some(stop),
        };
        let mut rows = vec![HEADER.to_owned()];
        for (i, name) in SEED.iter().enumerate() {
            rows.push(row(name, &format!("+1 555 010{i}")));
        }
        peer.write(&rows);
        peer
    }

    fn settings(&self) -> String {
        self.settings_with(self.port, &self.token)
    }

    fn bad_setting(&self) -> (String, &'static str) {
        let settings = self.settings().replace(
            &format!("peer_enterprise_id = \"{ENTERPRISE_ID}\""),
            "peer_enterprise_id = \"peer|ent\"",
        );
        (settings, "peer_enterprise_id")
    }

    fn name_attr(&self) -> &'static str {
        "givenName"
    }

    fn phone_attr(&self) -> &'static str {
        "telephoneNumber"
    }

    fn add(&self, name: &str) {
        let mut rows = self.rows();
        rows.push(row(name, "+1 555 0109"));
        self.write(&rows);
    }

    fn change(&self, name: &str) {
        self.edit(name, Some(row(name, "+1 555 0199")));
    }

    fn delete(&self, name: &str) {
        self.edit(name, None);
    }

    fn export_rules(&self) -> Option<String> {
        None
    }

    /// The phone number of the person named `name` in the peer server's directory.
    fn read_phone(&self, name: &str) -> Option<String> {
        self.entries()
            .into_iter()
            .find(|e| e.attrs.get("givenName").iter().any(|v| v == name))
            .and_then(|e| e.attrs.get("telephoneNumber").first().cloned())
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::Refused("is one way: it reads the peer's contacts and never writes to the peer")
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => Break::Run {
                settings: Some(self.settings_with(self.port, "not-the-token")),
                expect: words(&[
                    "localhost refused the peer token set in token (401 Unauthorized",
                    "the token is not valid",
                    "ask the peer's administrator for a new peer token",
                    "no deletions were inferred",
                ]),
            },
            Failure::UnreachableHost => Break::Run {
                // Nothing listens on port 1.
                settings: Some(self.settings_with(1, &self.token)),
                expect: words(&[
                    "cannot reach https://localhost:1/api/v1/peer/v1/enterprises/peer-ent/changes",
                    "nothing listens at host localhost, port 1",
                    "no deletions were inferred",
                ]),
            },
            Failure::RedirectOrReferral => {
                // The redirect points at the peer server itself: following it would read the
                // feed, so the run fails only if it is not followed.
                let old = self.redirector();
                let query = "?limit=2";
                Break::Run {
                    settings: Some(self.settings_with(old, &self.token)),
                    expect: words(&[
                        format!(
                            "the peer redirects https://localhost:{old}{FEED}{query} to https://localhost:{}{FEED}{query} (302 Found)",
                            self.port
                        )
                        .as_str(),
                        "ucsync never follows redirects",
                        "set host and port to the peer's ucsync server itself",
                        "no deletions were inferred",
                    ]),
                }
            }
            Failure::OversizedValue => {
                // A display name of 100 kB (50,000 characters of two bytes each, so a cut at
                // a byte count shows): the peer server holds it and offers it whole, and the
                // connector stages it whole.
                let name = "Ö".repeat(50_000);
                self.edit("bravo", Some(row_named("bravo", &name, "+1 555 0101")));
                assert_eq!(
                    self.entries()
                        .iter()
                        .filter(|e| e.attrs.get("displayName").first() == Some(&name))
                        .count(),
                    1,
                    "the peer server holds bravo's display name whole"
                );
                Break::Whole {
                    name: "bravo".into(),
                    attr: "displayName".into(),
                    len: 50_000,
                }
            }
            Failure::MalformedRecord => Break::NotApplicable(
                "a ucsync server builds every entry of its feed from its directory (the entry's id, its type, each offered attribute as a list of strings) and cannot send a malformed one; the connector's error for an entry without an id or with a value that is not a list is checked against scripted pages (ucsync-connectors, peer::tests::import)",
            ),
        }
    }
}

crate::conformance!(PeerServer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
