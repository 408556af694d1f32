//! The `csv` kind against a real file in the test's directory: `peer.csv`, keyed by `id`.

use std::path::{Path, PathBuf};

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED};

pub struct CsvPeer {
    path: PathBuf,
}

fn row(name: &str, phone: &str) -> String {
    format!("{name},{} Name,{phone}\n", name.to_uppercase())
}

impl CsvPeer {
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

    fn edit(&self, name: &str, to: Option<String>) {
        let prefix = format!("{name},");
        let mut rows = self.rows();
        let i = rows.iter().position(|r| r.starts_with(&prefix)).unwrap();
        match to {
            Some(r) => rows[i] = r,
            None => {
                rows.remove(i);
            }
        }
        self.write(&rows);
    }
}

impl Peer for CsvPeer {
    const KIND: &'static str = "csv";

    fn setup(dir: &Path, _test: &str) -> Self {
        let path = dir.join("peer.csv");
        let mut text = String::from("id,name,phone\n");
        for (i, name) in SEED.iter().enumerate() {
            text.push_str(&row(name, &format!("+1 555 010{i}")));
        }
        std::fs::write(&path, text).unwrap();
        CsvPeer { path }
    }

    fn settings(&self) -> String {
        "path = \"peer.csv\"\nkey = [\"id\"]\n".to_owned()
    }

    fn bad_setting(&self) -> (String, &'static str) {
        (
            "path = \"peer.csv\"\nkey = [\"id\"]\ndelimiter = \";;\"\n".to_owned(),
            "delimiter",
        )
    }

    fn name_attr(&self) -> &'static str {
        "id"
    }

    fn phone_attr(&self) -> &'static str {
        "phone"
    }

    fn add(&self, name: &str) {
        let mut rows = self.rows();
        rows.push(row(name, "+1 555 0109").trim_end().to_owned());
        self.write(&rows);
    }

    fn change(&self, name: &str) {
        self.edit(name, Some(row(name, "+1 555 0199").trim_end().to_owned()));
    }

    fn delete(&self, name: &str) {
        self.edit(name, None);
    }

    fn export_rules(&self) -> Option<String> {
        Some(
            r#"provisioning = [{ from = "person", object_type = "person" }]
[connectors.peer.rules.export_flows]
id = "uid"
name = "cn"
phone = "phone"
"#
            .to_owned(),
        )
    }

    fn read_phone(&self, name: &str) -> Option<String> {
        let prefix = format!("{name},");
        self.rows()
            .into_iter()
            .find(|r| r.starts_with(&prefix))
            .and_then(|r| r.rsplit(',').next().map(str::to_owned))
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::FromAttributes
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => {
                Break::NotApplicable("a file is read with the hub's own rights: no credentials")
            }
            Failure::RedirectOrReferral => {
                Break::NotApplicable("a file path is not redirected and holds no referrals")
            }
            Failure::UnreachableHost => Break::Run {
                settings: Some("path = \"gone/peer.csv\"\nkey = [\"id\"]\n".to_owned()),
                expect: [
                    "gone/peer.csv",
                    "does not exist",
                    "fix path",
                    "no deletions",
                ]
                .map(String::from)
                .to_vec(),
            },
            Failure::OversizedValue => {
                let len = 1 << 20;
                self.edit(
                    "bravo",
                    Some(format!("bravo,{},+1 555 0101", "x".repeat(len))),
                );
                Break::Whole {
                    name: "bravo".into(),
                    attr: "name".into(),
                    len,
                }
            }
            Failure::MalformedRecord => {
                self.edit(
                    "bravo",
                    Some("bravo,BRAVO Name,+1 555 0101,extra".to_owned()),
                );
                Break::Object {
                    object: "bravo".into(),
                    expect: ["line 3", "has 4 fields", "fix it and import again"]
                        .map(String::from)
                        .to_vec(),
                }
            }
        }
    }
}

crate::conformance!(CsvPeer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
