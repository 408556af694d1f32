//! The `communities` kind against the fake Connections server of ucsync-testkit
//! ([`FakeConnections`]): the Communities Atom API over real HTTP on 127.0.0.1, one server per
//! test. No Connections server runs here; the fake speaks the documented API (feeds, paging,
//! `since`, Basic authentication, error bodies) and fails on request in the ways a real one
//! does. Import-only.
//!
//! The named objects are communities (`name` is the community's title, and renaming it is the
//! change). Their members are staged as `person` objects too: three people, each in two seed
//! communities, are the peer's companions; a community added later gets only people already
//! in one, so the suite's add, change and delete never add, change or delete a person.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;

use ucsync_testkit::connections::FakeCommunity;
use ucsync_testkit::{FakeConnections, Fault};

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED, words};

/// The administrator the connector reads as (`communities_admin`), and the Basic
/// authorization of `admin:secret` for reading the fake directly.
const ADMIN: &str = "admin";
const PASSWORD: &str = "secret";
const ADMIN_BASIC: &str = "YWRtaW46c2VjcmV0";

/// The people in the communities (no password: they never sign in), by userid.
const PEOPLE: [(&str, &str); 3] = [
    ("anna", "Anna Lang"),
    ("ben", "Ben Ortiz"),
    ("cora", "Cora Wu"),
];

const COMMUNITIES_PATH: &str = "/communities/service/atom/communities/all";

pub struct CommunitiesPeer {
    fake: FakeConnections,
    /// The uuid of each community by the name it was created with.
    uuids: Mutex<HashMap<String, String>>,
}

impl CommunitiesPeer {
    /// The uuid of the community created as `name`, made up on first use.
    fn uuid(&self, name: &str) -> String {
        let mut uuids = self.uuids.lock().unwrap();
        let next = uuids.len() + 1;
        uuids
            .entry(name.to_owned())
            .or_insert_with(|| format!("c0a1e5ce-5eed-4000-8000-{next:012}"))
            .clone()
    }

    /// A community authored (and owned) by `author`, with `member` as a plain member.
    fn community(&self, name: &str, author: &str, member: &str) {
        let uuid = self.uuid(name);
        self.fake
            .add_community(FakeCommunity::new(&uuid, name, author));
        self.fake.add_member(&uuid, member, false);
    }

    fn settings_with(&self, port: u16, password: &str) -> String {
        format!(
            r#"protocol = "http"
host = "127.0.0.1"
port = {port}
user = "{ADMIN}"
password = "{password}"
page_size = 2
max_response_mb = 1
"#
        )
    }

    /// The communities feed as the administrator reads it: one plain HTTP/1.1 GET.
    fn feed(&self) -> String {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.fake.port())).unwrap();
        write!(
            stream,
            "GET {COMMUNITIES_PATH}?ps=500 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {ADMIN_BASIC}\r\nAccept: application/atom+xml\r\nConnection: close\r\n\r\n",
            self.fake.port()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer
    }
}

/// The text of the first `<tag …>…</tag>` in `xml`, unescaped.
fn text_of(xml: &str, tag: &str) -> Option<String> {
    let open = xml.find(&format!("<{tag}"))?;
    let start = open + xml[open..].find('>')? + 1;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

impl Peer for CommunitiesPeer {
    const KIND: &'static str = "communities";

    fn setup(_dir: &Path, _test: &str) -> Self {
        let fake = FakeConnections::start().unwrap();
        fake.add_user(
            ADMIN,
            "Connections Admin",
            "admin@example.com",
            Some(PASSWORD),
            true,
        );
        for (userid, name) in PEOPLE {
            fake.add_user(userid, name, &format!("{userid}@example.com"), None, false);
        }
        let peer = CommunitiesPeer {
            fake,
            uuids: Mutex::new(HashMap::new()),
        };
        // Each person owns one seed community and is a member of another.
        for (i, name) in SEED.iter().enumerate() {
            peer.community(name, PEOPLE[i].0, PEOPLE[(i + 1) % PEOPLE.len()].0);
        }
        peer
    }

    fn settings(&self) -> String {
        self.settings_with(self.fake.port(), PASSWORD)
    }

    fn bad_setting(&self) -> (String, &'static str) {
        let settings = self
            .settings()
            .replace("protocol = \"http\"", "protocol = \"gopher\"");
        (settings, "protocol")
    }

    fn name_attr(&self) -> &'static str {
        "name"
    }

    /// The value `change` changes: the community's name.
    fn phone_attr(&self) -> &'static str {
        "name"
    }

    fn add(&self, name: &str) {
        // People already in a community: no person is added.
        self.community(name, PEOPLE[0].0, PEOPLE[1].0);
    }

    fn change(&self, name: &str) {
        self.fake
            .rename_community(&self.uuid(name), &format!("{name} (renamed)"));
    }

    fn delete(&self, name: &str) {
        self.fake.delete_community(&self.uuid(name));
    }

    fn export_rules(&self) -> Option<String> {
        None
    }

    /// The current name of the community created as `name`, read from the server's feed.
    fn read_phone(&self, name: &str) -> Option<String> {
        let uuid = format!("<snx:communityUuid>{}</snx:communityUuid>", self.uuid(name));
        let feed = self.feed();
        let entry = feed.split("<entry").find(|e| e.contains(&uuid))?;
        text_of(entry, "title")
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::Refused("is one way: it reads the collaboration server and never writes to it")
    }

    fn companions(&self) -> usize {
        PEOPLE.len()
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => Break::Run {
                settings: Some(self.settings_with(self.fake.port(), "wrong")),
                expect: words(&[
                    "refused user \"admin\" (401 Unauthorized",
                    "the user name or password is wrong",
                    "check user and password",
                    "no deletions were inferred",
                ]),
            },
            Failure::UnreachableHost => Break::Run {
                // Nothing listens on port 1.
                settings: Some(self.settings_with(1, PASSWORD)),
                expect: words(&[
                    "cannot reach http://127.0.0.1:1/communities/",
                    "check host, port and protocol",
                    "no deletions were inferred",
                ]),
            },
            Failure::RedirectOrReferral => {
                let location = format!("https://connections.example.com{COMMUNITIES_PATH}");
                self.fake
                    .fault("communities/all", Fault::Redirect(location.clone()));
                Break::Run {
                    settings: None,
                    expect: words(&[
                        format!("to {location} (302 Found)").as_str(),
                        "ucsync never follows redirects",
                        "set protocol = \"https\" and host = \"connections.example.com\" and port = 443",
                        "no deletions were inferred",
                    ]),
                }
            }
            Failure::OversizedValue => {
                // Bravo's members feed answers with 2 MiB; the settings allow 1.
                self.fake
                    .fault(&self.uuid("bravo"), Fault::Oversized(2 << 20));
                Break::Object {
                    object: "community \"bravo\"".into(),
                    expect: words(&[
                        "its members could not be read",
                        "is larger than 1 MiB (max_response_mb)",
                        "raise max_response_mb",
                        "the community is kept as it was staged",
                    ]),
                }
            }
            Failure::MalformedRecord => {
                self.fake.fault(&self.uuid("bravo"), Fault::MalformedXml);
                Break::Object {
                    object: "community \"bravo\"".into(),
                    expect: words(&[
                        "its members could not be read",
                        "is not a readable Atom feed: line 12",
                        "the community is kept as it was staged",
                    ]),
                }
            }
        }
    }
}

crate::conformance!(CommunitiesPeer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
