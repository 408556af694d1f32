//! The valid-character rule (`character_rule`): a value holding a character outside 0x9, 0xA,
//! 0xD, 0x20–0xD7FF, 0xE000–0xFFFD, 0x10000–0x10FFFF rejects its object with a per-object
//! error; what is staged stays, and the run goes on.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ucsync_connectors::Connectors;
use ucsync_engine::{Engine, Profile, RunStatus};
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ConnectorFactory, ImportRequest, ImportSink,
    ImportSummary,
};
use ucsync_store::{ObjectOutcome, Store};

use crate::harness::{Hub, has_outcome, step};

/// `hr` projects people; `rule` is written as-is into `[connectors.hr]`.
fn config(rule: &str) -> String {
    format!(
        r#"version = 1
[connectors.hr]
kind = "csv"
{rule}
[connectors.hr.settings]
path = "hr.csv"
key = ["id"]
multi_valued = {{ phones = ";" }}
[connectors.hr.rules]
projection = {{ person = "person" }}
[connectors.hr.rules.import_flows]
uid = "id"
cn = "name"
telephoneNumber = "phones"
"#
    )
}

const HEADER: &str = "id,name,phones\n";

fn errors(outcomes: &[ObjectOutcome]) -> Vec<&ObjectOutcome> {
    outcomes.iter().filter(|o| o.action == "error").collect()
}

#[tokio::test]
async fn an_invalid_character_rejects_its_object_keeps_what_was_staged_and_the_run_goes_on() {
    let hub = Hub::new(
        &config("character_rule = true"),
        &[(
            "hr.csv",
            &format!("{HEADER}1,Ann,+1 1\n2,Bo,+1 2\n3,Cy,+1 3;+1 33\n"),
        )],
    )
    .await;
    hub.sync_ok().await;

    // Ann changes, Bo gets a bell in his name, Cy's second phone a unit separator, Di is new
    // and valid, Ed is new with a bell: only Ann and Di go through.
    hub.write(
        "hr.csv",
        &format!(
            "{HEADER}1,Ann Moved,+1 1\n2,B\u{7}o,+1 2\n3,Cy,+1 3;+1 3\u{1F}3\n4,Di,+1 4\n5,E\u{7}d,+1 5\n"
        ),
    );
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
    let import = step(&report, "hr", Profile::DeltaImport);
    assert_eq!(import.status, RunStatus::CompletedWithErrors);
    let c = &import.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors),
        (1, 1, 0, 3),
        "{c:?}"
    );

    let outcomes = hub.all_outcomes(import).await;
    let errs = errors(&outcomes);
    let message = |object: &str| {
        errs.iter()
            .find(|o| o.object == object)
            .and_then(|o| o.message.clone())
            .unwrap_or_else(|| panic!("no error for {object}: {outcomes:#?}"))
    };
    assert_eq!(
        message("2"),
        "attribute \"name\" has an invalid character U+0007 at position 2 (line 3); \
         fix the value in the source, or set character_rule = false on connector hr"
    );
    assert_eq!(
        message("3"),
        "attribute \"phones\" (value 2 of 2) has an invalid character U+001F at position 5 \
         (line 4); fix the value in the source, or set character_rule = false on connector hr"
    );
    assert!(
        message("5")
            .starts_with("attribute \"name\" has an invalid character U+0007 at position 2"),
        "{}",
        message("5")
    );
    assert_eq!(errs.len(), 3, "{outcomes:#?}");
    assert!(has_outcome(&outcomes, "updated", "1"), "{outcomes:#?}");
    assert!(has_outcome(&outcomes, "added", "4"), "{outcomes:#?}");

    // The rejected objects keep their staged state; the new bad one was never staged.
    let bo = hub.object("hr", "2").await;
    assert_eq!(
        bo.attrs.as_ref().map(|a| a.get("name").to_vec()),
        Some(vec!["Bo".to_owned()])
    );
    let cy = hub.object("hr", "3").await;
    assert_eq!(
        cy.attrs.as_ref().map(|a| a.get("phones").to_vec()),
        Some(vec!["+1 3".to_owned(), "+1 33".to_owned()])
    );
    let anchors: Vec<String> = hub
        .staged("hr")
        .await
        .into_iter()
        .map(|s| s.anchor)
        .collect();
    assert_eq!(anchors, ["1", "2", "3", "4"]);

    // The directory still has Bo and Cy as they were, and the valid changes synced.
    assert_eq!(hub.entry("uid", "2").await.attrs.get("cn"), ["Bo"]);
    assert_eq!(
        hub.entry("uid", "3").await.attrs.get("telephoneNumber"),
        ["+1 3", "+1 33"]
    );
    assert_eq!(hub.entry("uid", "1").await.attrs.get("cn"), ["Ann Moved"]);
    assert_eq!(hub.entry("uid", "4").await.attrs.get("cn"), ["Di"]);
    assert_eq!(hub.entries().await.len(), 4);

    // A full import lists everything too: still nothing deleted, the same errors.
    let full = hub.run("hr", Profile::FullImport).await;
    assert_eq!(full.status, RunStatus::CompletedWithErrors);
    assert_eq!((full.counters.deleted, full.counters.errors), (0, 3));
    assert_eq!(hub.staged("hr").await.len(), 4);

    // Fixed in the source, the objects go through.
    hub.write(
        "hr.csv",
        &format!("{HEADER}1,Ann Moved,+1 1\n2,Bob,+1 2\n3,Cy,+1 3;+1 34\n4,Di,+1 4\n5,Ed,+1 5\n"),
    );
    hub.sync_ok().await;
    assert_eq!(hub.entry("uid", "2").await.attrs.get("cn"), ["Bob"]);
    assert_eq!(
        hub.entry("uid", "3").await.attrs.get("telephoneNumber"),
        ["+1 3", "+1 34"]
    );
    assert_eq!(hub.entry("uid", "5").await.attrs.get("cn"), ["Ed"]);
}

#[tokio::test]
async fn the_rule_is_on_by_default_for_csv_and_character_rule_false_turns_it_off() {
    let text = format!("{HEADER}1,B\u{7}o,+1 2\u{FFFF}\n");
    let hub = Hub::new(&config(""), &[("hr.csv", &text)]).await;
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let outcomes = hub.all_outcomes(&report).await;
    assert_eq!(
        errors(&outcomes)[0].message.as_deref(),
        Some(
            "attribute \"name\" has an invalid character U+0007 at position 2 (line 2); \
             fix the value in the source, or set character_rule = false on connector hr"
        )
    );
    assert!(hub.staged("hr").await.is_empty());

    let hub = Hub::new(&config("character_rule = false"), &[("hr.csv", &text)]).await;
    hub.sync_ok().await;
    let entry = hub.entry("uid", "1").await;
    assert_eq!(entry.attrs.get("cn"), ["B\u{7}o"]);
    assert_eq!(entry.attrs.get("telephoneNumber"), ["+1 2\u{FFFF}"]);
}

#[tokio::test]
async fn valid_characters_at_the_edges_of_the_ranges_pass() {
    let edges = "\u{9}|\u{20}|\u{D7FF}|\u{E000}|\u{FFFD}|\u{10000}|\u{10FFFF}";
    let hub = Hub::new(
        &config("character_rule = true"),
        // Quoted so that the line feed and carriage return stay in the value.
        &[("hr.csv", &format!("{HEADER}1,\"a\nb\rc{edges}\",+1 1\n"))],
    )
    .await;
    hub.sync_ok().await;
    assert_eq!(
        hub.entry("uid", "1").await.attrs.get("cn"),
        [format!("a\nb\rc{edges}")]
    );
}

#[tokio::test]
async fn an_invalid_character_in_the_anchor_is_named_by_the_attribute_it_comes_from() {
    let hub = Hub::new(
        &config("character_rule = true"),
        &[("hr.csv", &format!("{HEADER}1\u{B}2,Ann,+1 1\n3,Cy,+1 3\n"))],
    )
    .await;
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let outcomes = hub.all_outcomes(&report).await;
    let errs = errors(&outcomes);
    assert_eq!(errs.len(), 1, "{outcomes:#?}");
    assert_eq!(errs[0].object, "1\u{B}2");
    let message = errs[0].message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("attribute \"id\" has an invalid character U+000B at position 2"),
        "{message}"
    );
    let anchors: Vec<String> = hub
        .staged("hr")
        .await
        .into_iter()
        .map(|s| s.anchor)
        .collect();
    assert_eq!(anchors, ["3"]);
}

/// A CSV connector whose kind does not check characters by default (a kind may say so).
struct NotCheckingByDefault(Arc<dyn Connector>);

#[async_trait]
impl Connector for NotCheckingByDefault {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn object_types(&self) -> Vec<String> {
        self.0.object_types()
    }
    fn anchor_for(&self, object_type: &str, attrs: &Attrs) -> Result<String, String> {
        self.0.anchor_for(object_type, attrs)
    }
    fn character_rule_default(&self) -> bool {
        false
    }
    async fn check_connection(&self) -> Result<(), ConnectorError> {
        self.0.check_connection().await
    }
    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        self.0.import(request, sink).await
    }
}

/// Replaces the hub's engine with one whose connectors do not check characters by default.
fn not_checking_by_default(hub: &mut Hub, config_text: &str) {
    let config = ucsync_model::config::parse(config_text, &Connectors).unwrap();
    let mut connectors: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::new();
    for (name, c) in &config.connectors {
        let built = Connectors
            .build(name, &c.kind, &c.settings, hub.dir.path())
            .unwrap();
        connectors.insert(name.clone(), Arc::new(NotCheckingByDefault(built)));
    }
    let store: Arc<dyn Store> = hub.store.clone();
    hub.engine = Engine::new(store, config, connectors);
}

#[tokio::test]
async fn a_kind_that_does_not_check_by_default_checks_when_the_key_turns_it_on() {
    let text = format!("{HEADER}1,B\u{7}o,+1 1\n2,Cy,+1 2\n");
    let mut hub = Hub::new(&config(""), &[("hr.csv", &text)]).await;
    not_checking_by_default(&mut hub, &config("character_rule = true"));
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    assert_eq!((report.counters.added, report.counters.errors), (1, 1));
    let outcomes = hub.all_outcomes(&report).await;
    assert!(has_outcome(&outcomes, "error", "1"), "{outcomes:#?}");

    not_checking_by_default(&mut hub, &config(""));
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    assert_eq!(report.counters.added, 1);
    let bo = hub.object("hr", "1").await;
    assert_eq!(
        bo.attrs.as_ref().map(|a| a.get("name").to_vec()),
        Some(vec!["B\u{7}o".to_owned()])
    );
}

#[tokio::test]
async fn a_lone_surrogate_never_reaches_the_rule_the_decoder_rejects_it() {
    let hub = Hub::new(&config("character_rule = true"), &[("hr.csv", HEADER)]).await;
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    // UTF-16 LE with a BOM: a high surrogate with no low one after it, in Ann's name (line 2).
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(utf16(&format!("{HEADER}1,A")));
    bytes.extend([0x00, 0xD8]);
    bytes.extend(utf16("nn,+1 1\n2,Bo,+1 2\n"));
    std::fs::write(hub.path("hr.csv"), bytes).unwrap();
    let report = hub.run("hr", Profile::FullImport).await;
    let outcomes = hub.all_outcomes(&report).await;
    let errs = errors(&outcomes);
    assert_eq!(errs.len(), 1, "{outcomes:#?}");
    let message = errs[0].message.as_deref().unwrap_or_default();
    assert!(message.contains("not valid UTF-16 LE"), "{message}");
    assert!(!message.contains("invalid character"), "{message}");

    // UTF-8: a surrogate encoded as if it were a character (ED A0 80) is not valid UTF-8.
    let mut bytes = format!("{HEADER}1,A").into_bytes();
    bytes.extend([0xED, 0xA0, 0x80]);
    bytes.extend(b"nn,+1 1\n2,Bo,+1 2\n");
    std::fs::write(hub.path("hr.csv"), bytes).unwrap();
    let report = hub.run("hr", Profile::FullImport).await;
    let outcomes = hub.all_outcomes(&report).await;
    let errs = errors(&outcomes);
    assert_eq!(errs.len(), 1, "{outcomes:#?}");
    let message = errs[0].message.as_deref().unwrap_or_default();
    assert!(message.contains("not valid UTF-8"), "{message}");
    let anchors: Vec<String> = hub
        .staged("hr")
        .await
        .into_iter()
        .map(|s| s.anchor)
        .collect();
    assert_eq!(anchors, ["2"]);
}
