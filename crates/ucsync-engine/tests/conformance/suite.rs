//! The requirements of `docs/CONNECTORS.md`, one function each, written against [`Peer`]: what
//! a kind's real external system must offer the suite. Each function builds a private hub (a
//! real SQLite store in a temporary directory), drives the engine's profiles and reads back the
//! counters, outcomes, messages and staged objects.
//!
//! This module knows no kind: a kind's module implements [`Peer`] and expands every
//! requirement into a test with [`crate::conformance!`].

use std::path::Path;

use ucsync_engine::{Profile, RunReport, RunStatus};
use ucsync_store::ObjectOutcome;

use crate::hub::{Hub, PEER};

/// The objects every test starts with, by name.
pub const SEED: [&str; 3] = ["alpha", "bravo", "charlie"];

/// The failure classes of C6–C10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    BadCredentials,
    UnreachableHost,
    RedirectOrReferral,
    OversizedValue,
    MalformedRecord,
}

/// Where a failure must show, and the words the message must hold (what is wrong and what to
/// do).
pub enum Break {
    /// The class cannot happen to this kind; the reason says why (a file has no password).
    NotApplicable(&'static str),
    /// The run reports it (failed, or completed with errors), in its message.
    Run {
        settings: Option<String>,
        expect: Vec<String>,
    },
    /// One object's outcome reports it: an `error` outcome whose object or message holds
    /// `object`, and whose message holds `expect`.
    Object { object: String, expect: Vec<String> },
    /// The peer took the value and the import must stage it whole: object `name`'s attribute
    /// `attr` holds `len` characters.
    Whole {
        name: String,
        attr: String,
        len: usize,
    },
}

/// The words a message must hold.
pub fn words(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

/// How `anchor_for` relates to the anchors an import sees (C4).
pub enum AnchorFor {
    /// Computed from the attributes: for every imported object, `anchor_for(its attributes)`
    /// is its anchor.
    FromAttributes,
    /// The peer assigns anchors (entryUUID, objectGUID): `anchor_for` names where the object
    /// goes, the export reports the anchor it was given, and the next import sees that one.
    AssignedByPeer,
    /// Import-only: `anchor_for` refuses, saying this.
    Refused(&'static str),
}

/// A kind's real external system, as the suite needs it. Objects are named (`alpha`, …); each
/// has one changeable value (its phone number).
pub trait Peer: Sized {
    /// The kind under test, as `kind = "…"` names it.
    const KIND: &'static str;
    /// A fresh, private peer for one test: files under `dir`, or a container of its own on a
    /// shared server. Holds the seed objects.
    fn setup(dir: &Path, test: &str) -> Self;
    /// The `[connectors.peer.settings]` table, as TOML.
    fn settings(&self) -> String;
    /// Settings with one wrong value, and the key (below `settings`) that must be named.
    fn bad_setting(&self) -> (String, &'static str);
    /// The staged attribute holding an object's name.
    fn name_attr(&self) -> &'static str;
    /// The staged attribute holding an object's phone number (the value `change` changes).
    fn phone_attr(&self) -> &'static str;
    fn add(&self, name: &str);
    fn change(&self, name: &str);
    fn delete(&self, name: &str);
    /// The `[connectors.peer.rules]` table provisioning directory persons (attributes `uid`,
    /// `cn`, `phone`) into the peer; `None` for an import-only kind.
    fn export_rules(&self) -> Option<String>;
    /// The phone number object `name` has in the peer, read there (not through ucsync).
    fn read_phone(&self, name: &str) -> Option<String>;
    fn anchor_for(&self) -> AnchorFor;
    /// Objects the peer stages besides the named ones (the people in communities), which
    /// `add`, `change` and `delete` leave as they are: the imports count them with the seed
    /// objects. None by default.
    fn companions(&self) -> usize {
        0
    }
    /// Breaks the peer (or gives settings that do) for one failure class.
    fn break_for(&self, failure: Failure) -> Break;
}

/// Expands requirements of the suite into one `#[tokio::test]` each for a [`Peer`]:
/// `conformance!(CsvPeer: c1, c2, …)`. A kind lists every requirement it passes; one it does
/// not pass yet is left out with a `// not yet: …` comment naming the defect.
#[macro_export]
macro_rules! conformance {
    ($peer:ty: $($req:ident),+ $(,)?) => {
        $($crate::conformance!(@req $peer, $req);)+
    };
    (@req $peer:ty, c1) => {
        $crate::conformance!(@one $peer, c1_settings_problems_are_named_by_key_path, c1);
    };
    (@req $peer:ty, c2) => {
        $crate::conformance!(@one $peer, c2_second_full_import_is_all_unchanged, c2);
    };
    (@req $peer:ty, c3) => {
        $crate::conformance!(@one $peer, c3_delta_reports_exactly_one_add_change_delete, c3);
    };
    (@req $peer:ty, c4) => {
        $crate::conformance!(@one $peer, c4_anchor_for_gives_the_anchor_import_sees, c4);
    };
    (@req $peer:ty, c5) => {
        $crate::conformance!(@one $peer, c5_export_then_reimport_changes_nothing, c5);
    };
    (@req $peer:ty, c6) => {
        $crate::conformance!(@fail $peer, c6_bad_credentials_are_reported_and_nothing_lost, BadCredentials);
    };
    (@req $peer:ty, c7) => {
        $crate::conformance!(@fail $peer, c7_unreachable_host_is_reported_and_nothing_lost, UnreachableHost);
    };
    (@req $peer:ty, c8) => {
        $crate::conformance!(@fail $peer, c8_redirect_or_referral_is_reported_and_nothing_lost, RedirectOrReferral);
    };
    (@req $peer:ty, c9) => {
        $crate::conformance!(@fail $peer, c9_oversized_value_is_whole_or_reported, OversizedValue);
    };
    (@req $peer:ty, c10) => {
        $crate::conformance!(@fail $peer, c10_malformed_record_is_reported_and_nothing_lost, MalformedRecord);
    };
    (@one $peer:ty, $name:ident, $req:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::suite::$req::<$peer>(stringify!($name)).await;
        }
    };
    (@fail $peer:ty, $name:ident, $class:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::suite::failure::<$peer>(stringify!($name), $crate::suite::Failure::$class)
                .await;
        }
    };
}

fn config<P: Peer>(settings: &str, rules: Option<&str>) -> String {
    let mut text = String::from("version = 1\n");
    if rules.is_some() {
        text.push_str(
            r#"[enterprises.default]
sync_order = ["hr", "peer"]

[connectors.hr]
kind = "csv"
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
[connectors.hr.rules]
projection = { person = "person" }
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"
phone = "phone"

"#,
        );
    }
    text.push_str(&format!(
        "[connectors.peer]\nkind = \"{}\"\n[connectors.peer.settings]\n{settings}\n",
        P::KIND
    ));
    if let Some(rules) = rules {
        text.push_str(&format!("[connectors.peer.rules]\n{rules}\n"));
    }
    text
}

/// A peer holding the seed objects and a hub importing from it.
async fn start<P: Peer>(test: &str) -> (P, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let peer = P::setup(dir.path(), test);
    let hub = Hub::open(dir, &config::<P>(&peer.settings(), None)).await;
    (peer, hub)
}

/// A full import that must succeed with the seed objects (and their companions) added.
async fn seed_import<P: Peer>(peer: &P, hub: &Hub) {
    let report = hub.run(PEER, Profile::FullImport).await;
    ok(hub, &report).await;
    assert_eq!(
        report.counters.added,
        (SEED.len() + peer.companions()) as i64,
        "the first full import adds the seed objects: {:?}",
        report.counters
    );
}

async fn ok(hub: &Hub, report: &RunReport) {
    assert_eq!(
        report.status,
        RunStatus::Success,
        "the run did not succeed: {:?}\n{:#?}",
        report.message,
        hub.outcomes(report).await
    );
}

/// The anchor of the staged object named `name`.
async fn anchor_of<P: Peer>(peer: &P, hub: &Hub, name: &str) -> String {
    let staged = hub.staged(PEER).await;
    let found: Vec<&String> = staged
        .iter()
        .filter(|s| {
            s.attrs
                .as_ref()
                .is_some_and(|a| a.get(peer.name_attr()).iter().any(|v| v == name))
        })
        .map(|s| &s.anchor)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one staged object named {name}: {staged:#?}"
    );
    found[0].clone()
}

fn changes(outcomes: &[ObjectOutcome]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = outcomes
        .iter()
        .filter(|o| ["added", "updated", "deleted", "error"].contains(&o.action.as_str()))
        .map(|o| (o.action.clone(), o.object.clone()))
        .collect();
    out.sort();
    out
}

/// C1: a settings problem is named by its key path.
pub async fn c1<P: Peer>(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let peer = P::setup(dir.path(), test);
    let (settings, key) = peer.bad_setting();
    let text = config::<P>(&settings, None);
    let problem = match ucsync_model::config::parse(&text, &ucsync_connectors::Connectors) {
        Err(e) => e.to_string(),
        Ok(mut config) => {
            config.base_dir = Some(dir.path().display().to_string());
            match ucsync_model::config::build_all(&config, &ucsync_connectors::Connectors) {
                Err(problems) => format!("{problems:?}"),
                Ok(_) => panic!("settings with a wrong {key} were taken:\n{text}"),
            }
        }
    };
    let path = format!("connectors.peer.settings.{key}");
    assert!(
        problem.contains(&path),
        "\"{problem}\" does not name {path}"
    );
}

/// C2: a second full import of an unchanged peer is all unchanged.
pub async fn c2<P: Peer>(test: &str) {
    let (peer, hub) = start::<P>(test).await;
    seed_import(&peer, &hub).await;
    let before = hub.image(PEER).await;
    let again = hub.run(PEER, Profile::FullImport).await;
    ok(&hub, &again).await;
    let c = &again.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors, c.unchanged),
        (0, 0, 0, 0, (SEED.len() + peer.companions()) as i64),
        "{c:?}"
    );
    assert_eq!(hub.image(PEER).await, before);
}

/// C3: a delta import after one add, one change and one delete reports exactly those.
pub async fn c3<P: Peer>(test: &str) {
    let (peer, hub) = start::<P>(test).await;
    seed_import(&peer, &hub).await;
    let bravo = anchor_of(&peer, &hub, "bravo").await;
    let charlie = anchor_of(&peer, &hub, "charlie").await;
    peer.add("delta");
    peer.change("bravo");
    peer.delete("charlie");
    let report = hub.run(PEER, Profile::DeltaImport).await;
    ok(&hub, &report).await;
    let c = &report.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors),
        (1, 1, 1, 0),
        "{c:?}"
    );
    let delta = anchor_of(&peer, &hub, "delta").await;
    let mut want = vec![
        ("added".to_owned(), delta),
        ("updated".to_owned(), bravo.clone()),
        ("deleted".to_owned(), charlie.clone()),
    ];
    want.sort();
    assert_eq!(changes(&hub.outcomes(&report).await), want);
    let image = hub.image(PEER).await;
    assert!(!image.contains_key(&charlie), "charlie is still staged");
    // The change is staged as the peer holds it.
    let staged = image[&bravo]
        .1
        .as_ref()
        .map(|a| a.get(peer.phone_attr()).to_vec());
    assert_eq!(
        staged.unwrap_or_default().first(),
        peer.read_phone("bravo").as_ref()
    );
    assert_eq!(image.len(), SEED.len() + peer.companions());
}

/// A hub whose `hr` source provisions two persons into the peer, synchronized once.
async fn exported<P: Peer>(test: &str, rules: &str) -> (P, Hub) {
    let dir = tempfile::tempdir().unwrap();
    let peer = P::setup(dir.path(), test);
    std::fs::write(
        dir.path().join("hr.csv"),
        "id,name,phone\nexp1,Export One,+1 555 0101\nexp2,Export Two,+1 555 0102\n",
    )
    .unwrap();
    let hub = Hub::open(dir, &config::<P>(&peer.settings(), Some(rules))).await;
    let report = hub.sync_now().await;
    ok(&hub, &report).await;
    assert_eq!(peer.read_phone("exp1").as_deref(), Some("+1 555 0101"));
    assert_eq!(peer.read_phone("exp2").as_deref(), Some("+1 555 0102"));
    (peer, hub)
}

/// C4: `anchor_for` gives the anchor the import sees.
pub async fn c4<P: Peer>(test: &str) {
    let (peer, hub) = start::<P>(test).await;
    seed_import(&peer, &hub).await;
    let connector = hub.connector(PEER).clone();
    let staged = hub.staged(PEER).await;
    match peer.anchor_for() {
        AnchorFor::Refused(says) => {
            assert!(connector.capabilities().export.is_none());
            for s in &staged {
                let answer = connector.anchor_for(&s.object_type, s.attrs.as_ref().unwrap());
                let Err(message) = answer else {
                    panic!("an import-only kind gave an anchor: {answer:?}");
                };
                assert!(
                    message.contains(says),
                    "\"{message}\" does not say \"{says}\""
                );
            }
            return;
        }
        AnchorFor::FromAttributes => {
            for s in &staged {
                assert_eq!(
                    connector.anchor_for(&s.object_type, s.attrs.as_ref().unwrap()),
                    Ok(s.anchor.clone()),
                    "{s:#?}"
                );
            }
        }
        AnchorFor::AssignedByPeer => {}
    }
    // Provisioned objects: staged under the anchor anchor_for or the export gave, which the
    // next import sees (nothing added, nothing deleted, the same staged objects).
    let rules = peer
        .export_rules()
        .expect("an exporting kind has export rules");
    drop(hub);
    let (_peer, hub) = exported::<P>(&format!("{test}_export"), &rules).await;
    let before = hub.image(PEER).await;
    let again = hub.run(PEER, Profile::FullImport).await;
    ok(&hub, &again).await;
    let c = &again.counters;
    assert_eq!((c.added, c.deleted, c.errors), (0, 0, 0), "{c:?}");
    let after = hub.image(PEER).await;
    let ids = |m: &std::collections::BTreeMap<String, (i64, _)>| {
        m.iter()
            .map(|(k, (id, _))| (k.clone(), *id))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&after), ids(&before));
}

/// C5: export, then a re-import changes nothing (and a second export sends nothing).
pub async fn c5<P: Peer>(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let probe = P::setup(dir.path(), test);
    let Some(rules) = probe.export_rules() else {
        // Import-only, as declared: the kind says so in its capabilities.
        let (_peer, hub) = start::<P>(&format!("{test}_import_only")).await;
        assert!(hub.connector(PEER).capabilities().export.is_none());
        return;
    };
    drop(probe);
    let (peer, hub) = exported::<P>(&format!("{test}_export"), &rules).await;
    reimport_changes_nothing(&hub).await;
    // A changed value is exported, and reads back as exported.
    std::fs::write(
        hub.dir.path().join("hr.csv"),
        "id,name,phone\nexp1,Export One,+1 555 0199\nexp2,Export Two,+1 555 0102\n",
    )
    .unwrap();
    let report = hub.sync_now().await;
    ok(&hub, &report).await;
    assert_eq!(peer.read_phone("exp1").as_deref(), Some("+1 555 0199"));
    reimport_changes_nothing(&hub).await;
}

/// A full import that changes nothing, then an export that sends nothing.
async fn reimport_changes_nothing(hub: &Hub) {
    let report = hub.run(PEER, Profile::FullImport).await;
    ok(hub, &report).await;
    let c = &report.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors),
        (0, 0, 0, 0),
        "{c:?}"
    );
    let export = hub.run(PEER, Profile::Export).await;
    ok(hub, &export).await;
    let c = &export.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors),
        (0, 0, 0, 0),
        "{c:?}"
    );
}

/// C6–C10: a failure is reported where it happened, in words naming what and what to do, and
/// nothing staged is lost.
pub async fn failure<P: Peer>(test: &str, class: Failure) {
    let (peer, mut hub) = start::<P>(test).await;
    seed_import(&peer, &hub).await;
    let before = hub.image(PEER).await;
    let broken = peer.break_for(class);
    let report = match &broken {
        Break::NotApplicable(reason) => {
            assert!(
                !reason.is_empty(),
                "{class:?} is declared not applicable without a reason"
            );
            return;
        }
        Break::Run {
            settings: Some(settings),
            ..
        } => {
            hub.reconfigure(&config::<P>(settings, None));
            hub.run(PEER, Profile::FullImport).await
        }
        _ => hub.run(PEER, Profile::FullImport).await,
    };
    let outcomes = hub.outcomes(&report).await;
    let says = |text: &str, expect: &[String]| {
        for part in expect {
            assert!(
                text.contains(part.as_str()),
                "\"{text}\" does not say \"{part}\""
            );
        }
    };
    let mut after = hub.image(PEER).await;
    match &broken {
        Break::NotApplicable(_) => unreachable!(),
        Break::Run { expect, .. } => {
            assert_ne!(report.status, RunStatus::Success, "{report:#?}");
            let message = report.message.clone().unwrap_or_default();
            eprintln!("{test}: run message: {message}");
            says(&message, expect);
        }
        Break::Object { object, expect } => {
            assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
            let errors: Vec<&ObjectOutcome> =
                outcomes.iter().filter(|o| o.action == "error").collect();
            let named: Vec<&&ObjectOutcome> = errors
                .iter()
                .filter(|o| {
                    o.object.contains(object.as_str())
                        || o.message.as_deref().unwrap_or("").contains(object.as_str())
                })
                .collect();
            assert_eq!(named.len(), 1, "one error naming {object}: {outcomes:#?}");
            let message = named[0].message.clone().unwrap_or_default();
            eprintln!("{test}: object error: {} {message}", named[0].object);
            says(&message, expect);
        }
        Break::Whole { name, attr, len } => {
            ok(&hub, &report).await;
            let anchor = anchor_of(&peer, &hub, name).await;
            let value = after[&anchor].1.as_ref().map(|a| a.get(attr).to_vec());
            let value = value.unwrap_or_default();
            assert_eq!(value.len(), 1, "{attr} of {name}");
            assert_eq!(value[0].chars().count(), *len, "{attr} of {name} is cut");
            after.insert(anchor.clone(), before[&anchor].clone());
        }
    }
    assert_eq!(report.counters.deleted, 0, "{:?}", report.counters);
    assert!(
        after == before,
        "the staged objects changed: {before:#?}\n{after:#?}"
    );
}
