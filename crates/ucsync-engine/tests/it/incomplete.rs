//! An incomplete listing infers no deletions: once a record could not be read, or the connector
//! said its listing misses something, objects not seen are kept, the run says how many records
//! could not be read and what to fix, and the watermark stays so that the next import reads the
//! source again. Objects read are imported, deletes the source names itself are applied, and an
//! import that fails writes what it read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ucsync_connectors::Connectors;
use ucsync_engine::{Engine, Profile, RunStatus};
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ImportRecord, ImportRequest, ImportSink,
    ImportSummary,
};
use ucsync_store::{CatalogStore, Store};

use crate::harness::Hub;

const CONFIG: &str = r#"version = 1
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
"#;

fn people(ids: &[u32]) -> String {
    let mut s = String::from("id,name\n");
    for i in ids {
        s.push_str(&format!("{i},Person {i}\n"));
    }
    s
}

async fn anchors(hub: &Hub) -> Vec<String> {
    hub.staged("hr")
        .await
        .into_iter()
        .filter(|s| s.attrs.is_some())
        .map(|s| s.anchor)
        .collect()
}

async fn watermark(hub: &Hub) -> Option<String> {
    hub.store
        .connectors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "hr")
        .and_then(|c| c.watermark)
}

#[tokio::test]
async fn an_unreadable_row_keeps_every_object_says_why_and_the_next_run_reads_again() {
    let hub = Hub::new(CONFIG, &[("hr.csv", &people(&[1, 2, 3, 4, 5]))]).await;
    hub.sync_ok().await;
    let clean = watermark(&hub).await;
    assert!(clean.is_some());

    // Person 2 left, person 3 changed, and the row of person 4 lost a comma (line 4).
    hub.write(
        "hr.csv",
        "id,name\n1,Person 1\n3,Person three\n4 Person 4\n5,Person 5\n",
    );
    let report = hub.sync_now().await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let import = crate::harness::step(&report, "hr", Profile::DeltaImport);
    let c = &import.counters;
    assert_eq!(
        (c.added, c.updated, c.deleted, c.errors),
        (0, 1, 0, 1),
        "{c:?}"
    );
    assert_eq!(
        import.message.as_deref(),
        Some(
            "the listing is incomplete: 1 record could not be read (line 4); so no deletions \
             were inferred in this run (2 staged objects not in the listing were kept). To find \
             them, fix line 4 as this run's errors say and run the import again"
        )
    );
    assert_eq!(anchors(&hub).await, ["1", "2", "3", "4", "5"]);
    assert_eq!(
        hub.entry("uid", "3").await.attrs.get("cn"),
        ["Person three"]
    );
    assert_eq!(hub.entries().await.len(), 5);
    // The watermark stays: the file is read again, and the row is still reported.
    assert_eq!(watermark(&hub).await, clean);
    let again = hub.sync_now().await;
    let import = crate::harness::step(&again, "hr", Profile::DeltaImport);
    assert_eq!((import.counters.errors, import.counters.deleted), (1, 0));

    // Fixed, the next delta import finds the deletion.
    hub.write(
        "hr.csv",
        "id,name\n1,Person 1\n3,Person three\n4,Person 4\n5,Person 5\n",
    );
    let fixed = hub.sync_ok().await;
    let import = crate::harness::step(&fixed, "hr", Profile::DeltaImport);
    assert_eq!(import.counters.deleted, 1);
    assert_eq!(anchors(&hub).await, ["1", "3", "4", "5"]);
    assert_eq!(hub.entries().await.len(), 4);
    assert_ne!(watermark(&hub).await, clean);
}

/// What a scripted import does, in order.
#[derive(Clone)]
enum Step {
    Object(&'static str),
    /// A later version of an object given before, with this name (or the same name again).
    Again(&'static str, Option<&'static str>),
    Deleted(&'static str),
    /// The anchors of what comes next, as a page names them ([`ImportSink::expect`]).
    Expect(&'static [&'static str]),
    Unreadable(Option<&'static str>, &'static str),
    Gap(&'static str),
    EndOfListing,
    Fail(&'static str),
}

/// A connector whose next import plays a script; its watermark counts the imports.
#[derive(Default)]
struct Scripted {
    script: Mutex<Vec<Step>>,
    imports: Mutex<u32>,
}

fn take<T: Clone>(m: &Mutex<T>) -> T {
    m.lock().unwrap().clone()
}

#[async_trait]
impl Connector for Scripted {
    fn kind(&self) -> &'static str {
        "csv"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            delta_import: true,
            export: None,
            retains_referenced_numbers: false,
            one_way: false,
        }
    }
    fn object_types(&self) -> Vec<String> {
        vec!["person".to_owned()]
    }
    fn anchor_for(&self, _: &str, _: &Attrs) -> Result<String, String> {
        Err("import only".to_owned())
    }
    async fn check_connection(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn import(
        &self,
        _request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        let n = {
            let mut imports = self.imports.lock().unwrap();
            *imports += 1;
            *imports
        };
        for step in take(&self.script) {
            match step {
                Step::Object(id) => {
                    let mut attrs = Attrs::new();
                    attrs.set_one("id", id);
                    attrs.set_one("name", format!("Person {id} ({n})"));
                    sink.object(ImportRecord {
                        anchor: id.to_owned(),
                        object_type: "person".to_owned(),
                        attrs,
                        locator: Some(format!("record {id}")),
                    })
                    .await?;
                }
                Step::Again(id, name) => {
                    let mut attrs = Attrs::new();
                    attrs.set_one("id", id);
                    attrs.set_one(
                        "name",
                        name.map_or_else(|| format!("Person {id} ({n})"), str::to_owned),
                    );
                    sink.object_again(ImportRecord {
                        anchor: id.to_owned(),
                        object_type: "person".to_owned(),
                        attrs,
                        locator: Some(format!("record {id}")),
                    })
                    .await?;
                }
                Step::Deleted(id) => sink.deleted(id, None).await?,
                Step::Expect(anchors) => sink.expect(anchors).await?,
                Step::Unreadable(anchor, locator) => {
                    sink.error(
                        anchor.map(str::to_owned),
                        locator.to_owned(),
                        "cannot be read".to_owned(),
                    )
                    .await?
                }
                Step::Gap(why) => sink.incomplete(why.to_owned()).await?,
                Step::EndOfListing => {
                    sink.end_of_listing().await?;
                }
                Step::Fail(why) => return Err(ConnectorError::Unavailable(why.to_owned())),
            }
        }
        Ok(ImportSummary {
            watermark: Some(format!("import {n}")),
            ..ImportSummary::default()
        })
    }
}

/// A hub whose `hr` connector is scripted; it stages persons 1–4 first.
async fn scripted() -> (Hub, Arc<Scripted>) {
    let mut hub = Hub::new(CONFIG, &[("hr.csv", "id,name\n")]).await;
    let config = ucsync_model::config::parse(CONFIG, &Connectors).unwrap();
    let connector = Arc::new(Scripted::default());
    let mut connectors: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::new();
    connectors.insert("hr".to_owned(), connector.clone());
    let store: Arc<dyn Store> = hub.store.clone();
    hub.engine = Engine::new(store, config, connectors);
    play(
        &connector,
        &[
            Step::Object("1"),
            Step::Object("2"),
            Step::Object("3"),
            Step::Object("4"),
            Step::EndOfListing,
        ],
    );
    let first = hub.run("hr", Profile::FullImport).await;
    assert_eq!(first.status, RunStatus::Success, "{first:#?}");
    (hub, connector)
}

fn play(c: &Scripted, steps: &[Step]) {
    *c.script.lock().unwrap() = steps.to_vec();
}

#[tokio::test]
async fn a_delete_the_source_names_is_applied_in_an_incomplete_listing() {
    let (hub, c) = scripted().await;
    play(
        &c,
        &[
            Step::Object("1"),
            Step::Deleted("2"),
            Step::Unreadable(None, "record 7"),
            Step::EndOfListing,
        ],
    );
    let report = hub.run("hr", Profile::DeltaImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    let k = &report.counters;
    assert_eq!((k.updated, k.deleted, k.errors), (1, 1, 1), "{k:?}");
    // 2 was deleted by the source; 3 and 4 were not seen and stay.
    assert_eq!(anchors(&hub).await, ["1", "3", "4"]);
    let message = report.message.unwrap_or_default();
    assert!(
        message.starts_with("the listing is incomplete: 1 record could not be read (record 7)"),
        "{message}"
    );
    assert!(
        message.contains("(2 staged objects not in the listing were kept)"),
        "{message}"
    );
    assert_eq!(watermark(&hub).await.as_deref(), Some("import 1"));
}

#[tokio::test]
async fn a_gap_the_connector_names_is_an_error_and_deletes_nothing() {
    let (hub, c) = scripted().await;
    play(
        &c,
        &[
            Step::Object("1"),
            Step::Gap("the part below ou=far was not read; point a connector at it"),
            Step::EndOfListing,
        ],
    );
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors);
    assert_eq!((report.counters.deleted, report.counters.errors), (0, 1));
    assert_eq!(anchors(&hub).await, ["1", "2", "3", "4"]);
    assert_eq!(
        report.message.as_deref(),
        Some(
            "the listing is incomplete: the part below ou=far was not read; point a connector \
             at it; so no deletions were inferred in this run (3 staged objects not in the \
             listing were kept). To find them, close the gap and run the import again"
        )
    );
    let outcomes = hub.all_outcomes(&report).await;
    assert!(
        outcomes.iter().any(|o| o.action == "error"
            && o.message.as_deref()
                == Some("the part below ou=far was not read; point a connector at it")),
        "{outcomes:#?}"
    );
}

#[tokio::test]
async fn an_import_that_fails_writes_what_it_read_and_deletes_nothing() {
    let (hub, c) = scripted().await;
    play(
        &c,
        &[
            Step::Object("1"),
            Step::Object("2"),
            Step::Fail("the server went away"),
        ],
    );
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(
        report.message.as_deref(),
        Some(
            "import from connector hr failed: the server went away; the listing is incomplete, \
             so no deletions were inferred (2 new or changed objects read before it were \
             imported). Run the import again once this is fixed"
        )
    );
    assert_eq!(anchors(&hub).await, ["1", "2", "3", "4"]);
    // What was read is staged, marked for sync; the watermark is the last complete import's.
    let one = hub.object("hr", "1").await;
    assert_eq!(
        one.attrs.as_ref().map(|a| a.get("name").to_vec()),
        Some(vec!["Person 1 (2)".to_owned()])
    );
    assert_eq!(watermark(&hub).await.as_deref(), Some("import 1"));
}

/// A delta of a connector that reads only what changed, in a large staging space, looks up the
/// anchors it is given (the staging space is not read whole), one by one or those a page names
/// together, and in a small one reads the index: either way an add, a change, an unchanged
/// object and a delete are each told apart, and what it does not name stays.
#[tokio::test]
async fn a_delta_of_changes_only_tells_adds_changes_and_deletes_apart() {
    for (look_up_from, expect) in [
        (Some(0), false),
        (Some(0), true),
        (None, false),
        (None, true),
    ] {
        let (hub, c) = scripted().await;
        let mut options = hub.options(false, None);
        options.look_up_from = look_up_from;
        let mut script = vec![
            Step::Object("2"),
            Step::Object("5"),
            Step::Deleted("3"),
            Step::Deleted("9"),
            Step::Unreadable(Some("4"), "record 4"),
        ];
        if expect {
            // Named twice, and 7 never comes.
            script.insert(0, Step::Expect(&["2", "5", "3", "9", "4", "2", "7"]));
        }
        play(&c, &script);
        let report = hub
            .engine
            .run_profile("hr", Profile::DeltaImport, &options)
            .await
            .unwrap();
        let k = &report.counters;
        // 2 changed (its name names the import), 5 is new, 3 goes, 9 was never staged, 4 is kept.
        assert_eq!(
            (k.added, k.updated, k.deleted, k.errors),
            (1, 1, 1, 1),
            "{look_up_from:?} {expect} {report:#?}"
        );
        assert_eq!(anchors(&hub).await, ["1", "2", "4", "5"]);
        // Then a full listing that names only 1 and 5: 2 and 4 go, whichever slots were looked up.
        play(
            &c,
            &[Step::Object("1"), Step::Object("5"), Step::EndOfListing],
        );
        let report = hub
            .engine
            .run_profile("hr", Profile::DeltaImport, &options)
            .await
            .unwrap();
        assert_eq!(report.counters.deleted, 2, "{look_up_from:?} {report:#?}");
        assert_eq!(anchors(&hub).await, ["1", "5"]);
    }
}

/// A feed of changes gives an entry again when it changed while the feed was read: the later
/// version replaces the earlier one, whether that was added in the batch being filled, or
/// staged before; the same version again counts nothing; an object not given before is taken
/// as any object. No key is staged twice, and no error is recorded.
#[tokio::test]
async fn a_later_version_of_an_object_replaces_the_earlier_one() {
    let (hub, c) = scripted().await;
    play(
        &c,
        &[
            Step::Object("5"),
            Step::Again("5", Some("Five later")),
            Step::Object("2"),
            Step::Again("2", Some("Two later")),
            Step::Again("6", None),
            Step::Object("7"),
            Step::Again("7", None),
        ],
    );
    let mut options = hub.options(false, None);
    options.look_up_from = Some(0);
    let report = hub
        .engine
        .run_profile("hr", Profile::DeltaImport, &options)
        .await
        .unwrap();
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    let k = &report.counters;
    assert_eq!(
        (k.added, k.updated, k.unchanged, k.errors),
        (3, 3, 0, 0),
        "{report:#?}"
    );
    assert_eq!(anchors(&hub).await, ["1", "2", "3", "4", "5", "6", "7"]);
    for (anchor, name) in [
        ("5", "Five later"),
        ("2", "Two later"),
        ("7", "Person 7 (2)"),
    ] {
        let staged = hub.object("hr", anchor).await;
        assert_eq!(
            staged.attrs.as_ref().map(|a| a.get("name").to_vec()),
            Some(vec![name.to_owned()]),
            "{anchor}"
        );
    }
}
