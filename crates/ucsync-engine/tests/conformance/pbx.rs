//! The `pbx` kind against the fake of a PBX node: a file in the vendor's documented export
//! format (`docs/PBX.md`), one row per number, written and edited as the node would export it.
//! No PBX runs here; the connector only ever reads such a file. Import-only.

use std::path::{Path, PathBuf};

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED};

const HEADER: &str = "Number,First Name,Last Name,Department,Device Type";

pub struct PbxPeer {
    path: PathBuf,
}

fn row(number: &str, name: &str) -> String {
    format!("{number},{name},Person,,5330e IP")
}

impl PbxPeer {
    fn rows(&self) -> Vec<String> {
        std::fs::read_to_string(&self.path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write(&self, rows: &[String]) {
        let mut text = rows.join("\n");
        text.push('\n');
        std::fs::write(&self.path, text).unwrap();
    }

    /// Replaces (or removes) the row of the account named `name`.
    fn edit(&self, name: &str, to: Option<String>) {
        let cell = format!(",{name},");
        let mut rows = self.rows();
        let i = rows.iter().position(|r| r.contains(&cell)).unwrap();
        match to {
            Some(r) => rows[i] = r,
            None => {
                rows.remove(i);
            }
        }
        self.write(&rows);
    }
}

impl Peer for PbxPeer {
    const KIND: &'static str = "pbx";

    fn setup(dir: &Path, _test: &str) -> Self {
        let peer = PbxPeer {
            path: dir.join("node.csv"),
        };
        let mut rows = vec![HEADER.to_owned()];
        for (i, name) in SEED.iter().enumerate() {
            rows.push(row(&format!("100{i}"), name));
        }
        peer.write(&rows);
        peer
    }

    fn settings(&self) -> String {
        "path = \"node.csv\"\nflavor = \"mivoice-office-250\"\n".to_owned()
    }

    fn bad_setting(&self) -> (String, &'static str) {
        (
            "path = \"node.csv\"\nflavor = \"mivoice-office-999\"\n".to_owned(),
            "flavor",
        )
    }

    fn name_attr(&self) -> &'static str {
        "givenName"
    }

    fn phone_attr(&self) -> &'static str {
        "telephoneNumber"
    }

    fn add(&self, name: &str) {
        let mut rows = self.rows();
        rows.push(row("1009", name));
        self.write(&rows);
    }

    fn change(&self, name: &str) {
        self.edit(name, Some(row("2099", name)));
    }

    fn delete(&self, name: &str) {
        self.edit(name, None);
    }

    fn export_rules(&self) -> Option<String> {
        None
    }

    fn read_phone(&self, name: &str) -> Option<String> {
        let cell = format!(",{name},");
        self.rows()
            .into_iter()
            .find(|r| r.contains(&cell))
            .and_then(|r| r.split(',').next().map(str::to_owned))
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::Refused("import-only")
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => Break::NotApplicable(
                "the node's export file is read with the hub's own rights: no credentials",
            ),
            Failure::RedirectOrReferral => {
                Break::NotApplicable("an export file path is not redirected and holds no referrals")
            }
            Failure::UnreachableHost => Break::Run {
                settings: Some(
                    "path = \"gone/node.csv\"\nflavor = \"mivoice-office-250\"\n".to_owned(),
                ),
                expect: [
                    "gone/node.csv",
                    "does not exist",
                    "fix path",
                    "no deletions",
                ]
                .map(String::from)
                .to_vec(),
            },
            Failure::OversizedValue => {
                // A number longer than the 32 characters a node exports.
                self.edit("bravo", Some(row(&"1".repeat(40), "bravo")));
                Break::Object {
                    object: "bravo".into(),
                    expect: ["line 3", "is not a phone number", "give 1 to 32 digits"]
                        .map(String::from)
                        .to_vec(),
                }
            }
            Failure::MalformedRecord => {
                self.edit("bravo", Some(format!("{},extra", row("1001", "bravo"))));
                Break::Object {
                    object: "bravo".into(),
                    expect: [
                        "line 3",
                        "has 6 fields",
                        "fix the line on the PBX and export again",
                    ]
                    .map(String::from)
                    .to_vec(),
                }
            }
        }
    }
}

crate::conformance!(PbxPeer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
