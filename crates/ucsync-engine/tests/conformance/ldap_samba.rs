//! The `ldap` kind in `mode = "active-directory"` against a real Samba AD DC (ucsync-testkit),
//! shared by the tests of this binary while any runs; each test works in an OU of its own,
//! anchors are objectGUIDs and delta imports read from the `uSNChanged` watermark.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use ucsync_testkit::SambaDc;

use crate::suite::{AnchorFor, Break, Failure, Peer, SEED, words};

/// The DC the running tests share; started again when a test finds none running.
fn shared() -> Arc<SambaDc> {
    static SHARED: Mutex<Weak<SambaDc>> = Mutex::new(Weak::new());
    let mut weak = SHARED.lock().unwrap();
    if let Some(dc) = weak.upgrade() {
        return dc;
    }
    let dc = Arc::new(SambaDc::start());
    *weak = Arc::downgrade(&dc);
    dc
}

pub struct SambaPeer {
    dc: Arc<SambaDc>,
    ou: String,
    /// Prefixes sAMAccountName, which is unique in the whole domain: objects are named by `cn`.
    tag: String,
}

impl SambaPeer {
    fn dn(&self, name: &str) -> String {
        format!("CN={name},{}", self.ou)
    }

    fn entry(&self, name: &str, phone: &str) -> String {
        format!(
            "dn: {}\nobjectClass: user\ncn: {name}\nsAMAccountName: {tag}{name}\ntelephoneNumber: {phone}\n\n",
            self.dn(name),
            tag = self.tag,
        )
    }

    fn settings_with(&self, url: &str, password: &str, base: &str) -> String {
        format!(
            r#"url = "{url}"
mode = "active-directory"
bind_dn = "{dn}"
password = "{password}"
base_dn = "{base}"
page_size = 2
[[connectors.peer.settings.object_types]]
name = "person"
object_classes = ["user"]
filter = "(!(objectClass=computer))"
attributes = ["sAMAccountName", "cn", "telephoneNumber", "description"]
rdn = "cn"
"#,
            dn = self.dc.admin_dn(),
        )
    }

    fn replace(&self, name: &str, attr: &str, line: &str) {
        self.dc.ldapmodify(&format!(
            "dn: {}\nchangetype: modify\nreplace: {attr}\n{line}\n",
            self.dn(name)
        ));
    }
}

impl Peer for SambaPeer {
    const KIND: &'static str = "ldap";

    fn setup(_dir: &Path, test: &str) -> Self {
        let dc = shared();
        let ou = dc.add_ou(test);
        static TESTS: AtomicU32 = AtomicU32::new(0);
        let tag = format!("t{}", TESTS.fetch_add(1, Ordering::Relaxed));
        let peer = SambaPeer { dc, ou, tag };
        let ldif: String = SEED
            .iter()
            .enumerate()
            .map(|(i, name)| peer.entry(name, &format!("+1 555 010{i}")))
            .collect();
        peer.dc.ldapadd(&ldif);
        peer
    }

    fn settings(&self) -> String {
        self.settings_with(&self.dc.uri(), self.dc.admin_pw(), &self.ou)
    }

    fn bad_setting(&self) -> (String, &'static str) {
        let settings = self
            .settings()
            .replace("mode = \"active-directory\"", "mode = \"novell\"");
        (settings, "mode")
    }

    fn name_attr(&self) -> &'static str {
        "cn"
    }

    fn phone_attr(&self) -> &'static str {
        "telephoneNumber"
    }

    fn add(&self, name: &str) {
        self.dc.ldapadd(&self.entry(name, "+1 555 0109"));
    }

    fn change(&self, name: &str) {
        self.replace(name, "telephoneNumber", "telephoneNumber: +1 555 0199");
    }

    fn delete(&self, name: &str) {
        self.dc.ldapdelete(&self.dn(name));
    }

    fn export_rules(&self) -> Option<String> {
        Some(format!(
            r#"provisioning = [{{ from = "person", object_type = "person" }}]
[connectors.peer.rules.export_flows]
cn = "uid"
sAMAccountName = '"{tag}${{uid}}"'
telephoneNumber = "phone"
"#,
            tag = self.tag
        ))
    }

    fn read_phone(&self, name: &str) -> Option<String> {
        self.dc
            .get(&self.dn(name), &["telephoneNumber"])
            .and_then(|e| e.first("telephoneNumber").map(str::to_owned))
    }

    fn anchor_for(&self) -> AnchorFor {
        AnchorFor::AssignedByPeer
    }

    fn break_for(&self, failure: Failure) -> Break {
        match failure {
            Failure::BadCredentials => Break::Run {
                settings: Some(self.settings_with(&self.dc.uri(), "wrong", &self.ou)),
                expect: words(&[
                    "refused the credentials",
                    "invalidCredentials",
                    "check bind_dn and the password",
                    "no deletions",
                ]),
            },
            Failure::UnreachableHost => Break::Run {
                settings: Some(self.settings_with(
                    "ldap://127.0.0.1:1",
                    self.dc.admin_pw(),
                    &self.ou,
                )),
                expect: words(&[
                    "cannot reach ldap://127.0.0.1:1",
                    "check the host and port in url",
                    "no deletions",
                ]),
            },
            Failure::RedirectOrReferral => Break::NotApplicable(
                "this DC holds one domain and no cross-references: it answers a base outside its \
                 naming contexts with noSuchObject, never a referral (ldap's referral handling \
                 is checked against slapd)",
            ),
            Failure::OversizedValue => {
                // The longest description AD holds (its rangeUpper is 1024).
                let len = 1024;
                self.replace(
                    "bravo",
                    "description",
                    &format!("description: {}", "x".repeat(len)),
                );
                Break::Whole {
                    name: "bravo".into(),
                    attr: "description".into(),
                    len,
                }
            }
            Failure::MalformedRecord => {
                // A control character the hub's valid-character rule refuses.
                self.replace(
                    "bravo",
                    "telephoneNumber",
                    "telephoneNumber:: KzEgNTU1ASAwMTAx",
                );
                Break::Object {
                    object: "bravo".into(),
                    expect: words(&[
                        "invalid character U+0001",
                        "CN=bravo,",
                        "fix the value in the source",
                    ]),
                }
            }
        }
    }
}

crate::conformance!(SambaPeer: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10);
