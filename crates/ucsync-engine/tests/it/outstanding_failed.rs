//! A failing import leaves the outstanding errors as its committed batches say, never half of
//! a batch: what it rejected before it failed is recorded with the batch that staged the rest,
//! and, its listing being cut short, no error of an object it did not reach is taken for over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ucsync_connectors::Connectors;
use ucsync_engine::{Engine, Profile, RunStatus};
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ConnectorFactory, ImportRecord, ImportRequest,
    ImportSink, ImportSummary,
};
use ucsync_store::{ErrorStore, Store};

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

/// What the next import lists: (id, name) records, then the end of the listing or a failure.
#[derive(Default)]
struct Script {
    records: Vec<(&'static str, &'static str)>,
    fail: bool,
}

/// The csv connector, except that its import lists what the script says.
struct Scripted {
    inner: Arc<dyn Connector>,
    script: Arc<Mutex<Script>>,
}

#[async_trait]
impl Connector for Scripted {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn object_types(&self) -> Vec<String> {
        self.inner.object_types()
    }
    fn anchor_for(&self, object_type: &str, attrs: &Attrs) -> Result<String, String> {
        self.inner.anchor_for(object_type, attrs)
    }
    async fn check_connection(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    async fn import(
        &self,
        _request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        let (records, fail) = {
            let s = self.script.lock().unwrap();
            (s.records.clone(), s.fail)
        };
        for (line, (id, name)) in records.into_iter().enumerate() {
            let mut attrs = Attrs::new();
            attrs.set_one("id", id);
            attrs.set_one("name", name);
            sink.object(ImportRecord {
                anchor: id.to_owned(),
                object_type: "person".into(),
                attrs,
                locator: Some(format!("line {}", line + 2)),
            })
            .await
            .map_err(|e| ConnectorError::Unavailable(e.0))?;
        }
        if fail {
            return Err(ConnectorError::Unavailable(
                "the connection dropped mid-listing".into(),
            ));
        }
        sink.end_of_listing()
            .await
            .map_err(|e| ConnectorError::Unavailable(e.0))?;
        Ok(ImportSummary::default())
    }
}

async fn outstanding(hub: &Hub) -> BTreeSet<String> {
    hub.store
        .outstanding_errors(Some("hr"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.object)
        .collect()
}

#[tokio::test]
async fn a_failing_import_keeps_what_it_did_not_reach_and_records_what_it_rejected() {
    let mut hub = Hub::new(CONFIG, &[("hr.csv", "id,name\n")]).await;
    let script = Arc::new(Mutex::new(Script::default()));
    let config = ucsync_model::config::parse(CONFIG, &Connectors).unwrap();
    let mut connectors: BTreeMap<String, Arc<dyn Connector>> = BTreeMap::new();
    for (name, c) in &config.connectors {
        let inner = Connectors
            .build(name, &c.kind, &c.settings, hub.dir.path())
            .unwrap();
        connectors.insert(
            name.clone(),
            Arc::new(Scripted {
                inner,
                script: script.clone(),
            }),
        );
    }
    let store: Arc<dyn Store> = hub.store.clone();
    hub.engine = Engine::new(store, config, connectors);

    *script.lock().unwrap() = Script {
        records: vec![("1", "Ann"), ("2", "B\u{7}o")],
        fail: false,
    };
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::CompletedWithErrors, "{report:#?}");
    assert_eq!(outstanding(&hub).await, BTreeSet::from(["2".to_owned()]));

    // Fails after rejecting 3 and before reaching 2: 3 is recorded with the batch written
    // before the failure, 2 stays (the listing never ended).
    *script.lock().unwrap() = Script {
        records: vec![("1", "Ann"), ("3", "C\u{7}y")],
        fail: true,
    };
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:#?}");
    assert_eq!(
        outstanding(&hub).await,
        BTreeSet::from(["2".to_owned(), "3".to_owned()])
    );

    // A complete listing with 2 fixed and 3 gone: nothing outstanding.
    *script.lock().unwrap() = Script {
        records: vec![("1", "Ann"), ("2", "Bo")],
        fail: false,
    };
    let report = hub.run("hr", Profile::FullImport).await;
    assert_eq!(report.status, RunStatus::Success, "{report:#?}");
    assert_eq!(outstanding(&hub).await, BTreeSet::new());
}
