//! The `ldap` kind against a real slapd (ucsync-testkit), shared by the tests of this binary
//! while any runs; each test works in an `ou` of its own, anchors are entryUUIDs and delta
//! imports use content synchronization (syncprov).

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

use ucsync_testkit::{Slapd, SlapdOptions};

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED, words};

/// The server the running tests share; started again when a test finds none running.
fn shared() -> Arc<Slapd> {
    static SHARED: Mutex<Weak<Slapd>> = Mutex::new(Weak::new());
    let mut weak = SHARED.lock().unwrap();
    if let Some(slapd) = weak.upgrade() {
        return slapd;
    }
    let slapd = Arc::new(Slapd::start(SlapdOptions::default()));
    *weak = Arc::downgrade(&slapd);
    slapd
}

pub struct SlapdPeer {
    slapd: Arc<Slapd>,
    ou: String,
}

impl SlapdPeer {
    fn dn(&self, name: &str) -> String {
        format!("uid={name},{}", self.ou)
    }

    fn entry(&self, name: &str, phone: &str) -> String {
        format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {} Name\nsn: Name\ntelephoneNumber: {phone}\n\n",
            self.dn(name),
            name.to_uppercase()
        )
    }

    fn settings_with(&self, url: &str, password: &str) -> String {
        format!(
            r#"url = "{url}"
bind_dn = "{dn}"
password = "{password}"
base_dn = "{ou}"
page_size = 2
[[connectors.peer.settings.object_types]]
name = "person"
base = "{ou}"
object_classes = ["inetOrgPerson"]
attributes = ["uid", "cn", "sn", "telephoneNumber"]
rdn = "uid"
"#,
            dn = self.slapd.root_dn(),
            ou = self.ou,
        )
    }

    fn replace(&self, name: &str, attr: &str, line: &str) {
        self.slapd.ldapmodify(&format!(
            "dn: {}\nchangetype: modify\nreplace: {attr}\n{line}\n",
            self.dn(name)
        ));
    }
}

impl Peer for SlapdPeer {
    const KIND: &'static str = "ldap";

    fn setup(_dir: &Path, test: &str) -> Self {
        let slapd = shared();
        let ou = slapd.add_ou(test);
        let peer = SlapdPeer { slapd, ou };
        let ldif: String = SEED
            .iter()
            .enumerate()
            .map(|(i, name)| peer.entry(name, &format!("+1 555 010{i}")))
            .collect();
        peer.slapd.ldapadd(&ldif);
        peer
    }

    fn settings(&self) -> String {
        self.settings_with(&self.slapd.uri(), self.slapd.root_pw())
    }

    fn bad_setting(&self) -> (String, &'static str) {
        let settings = self
            .settings()
            .replace("page_size = 2", "page_size = \"many\"");
        (settings, "page_size")
    }

    fn name_attr(&self) -> &'static str {
        "uid"
    }

    fn phone_attr(&self) -> &'static str {
        "telephoneNumber"
    }

    fn add(&self, name: &str) {
        self.slapd.ldapadd(&self.entry(name, "+1 555 0109"));
    }

    fn change(&self, name: &str) {
        self.replace(name, "telephoneNumber", "telephoneNumber: +1 555 0199");
    }

    fn delete(&self, name: &str) {
        self.slapd.ldapdelete(&self.dn(name));
    }

    fn export_rules(&self) -> Option<String> {
        Some(
            r#"provisioning = [{ from = "person", object_type = "person" }]
[connectors.peer.rules.export_flows]
uid = "uid"
cn = "cn"
sn = "cn"
telephoneNumber = "phone"
"#
            .to_owned(),
        )
    }

    fn read_phone(&self, name: &str) -> Option<String> {
        self.slapd
            .get(&self.dn(name), &["telephoneNumber"])
            .and_then(|e| e.first("telephoneNumber").map(str::to_owned))
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::AssignedByPeer
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => Break::Run {
                settings: Some(self.settings_with(&self.slapd.uri(), "wrong")),
                expect: words(&[
                    "refused the credentials",
                    "invalidCredentials",
                    "check bind_dn and the password",
                    "no deletions",
                ]),
            },
            Failure::UnreachableHost => Break::Run {
                settings: Some(self.settings_with("ldap://127.0.0.1:1", self.slapd.root_pw())),
                expect: words(&[
                    "cannot reach ldap://127.0.0.1:1",
                    "check the host and port in url",
                    "no deletions",
                ]),
            },
            Failure::RedirectOrReferral => {
                self.slapd.ldapadd(&format!(
                    "dn: ou=elsewhere,{ou}\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\nref: ldap://other.example.com/ou=elsewhere,{ou}\n",
                    ou = self.ou
                ));
                Break::Run {
                    settings: None,
                    expect: words(&[
                        "returned a referral to ldap://other.example.com/",
                        "exclude_dns",
                        "no deletions were inferred",
                    ]),
                }
            }
            Failure::OversizedValue => {
                let len = 1 << 20;
                self.replace("bravo", "cn", &format!("cn: {}", "x".repeat(len)));
                Break::Whole {
                    name: "bravo".into(),
                    attr: "cn".into(),
                    len,
                }
            }
            Failure::MalformedRecord => {
                // A control character the hub's valid-character rule refuses.
                self.replace("bravo", "cn", "cn:: QlJBVk8BTmFtZQ==");
                Break::Object {
                    object: "bravo".into(),
                    expect: words(&[
                        "invalid character U+0001",
                        "uid=bravo,",
                        "fix the value in the source",
                    ]),
                }
            }
        }
    }
}

crate::conformance!(SlapdPeer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
