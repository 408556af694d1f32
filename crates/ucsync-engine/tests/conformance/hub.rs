//! A private directory, store and engine per test: the configuration a suite test runs, the
//! profiles it runs, and what it reads back (staged objects, outcomes, messages).

use std::collections::BTreeMap;
use std::sync::Arc;

use ucsync_connectors::Connectors;
use ucsync_engine::{Engine, NoProgress, Profile, RunOptions, RunReport, Stop};
use ucsync_model::{Attrs, Connector};
use ucsync_store::{
    CatalogStore, ObjectOutcome, RunStore, SqliteStore, StagedFilter, StagedObject, StagingStore,
    Store,
};

/// The connector under test is always named `peer`; the CSV source of the export checks `hr`.
pub const PEER: &str = "peer";

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub engine: Engine,
    pub connectors: BTreeMap<String, Arc<dyn Connector>>,
}

fn build(
    config_text: &str,
    base: &std::path::Path,
) -> (
    ucsync_model::config::Config,
    BTreeMap<String, Arc<dyn Connector>>,
) {
    let mut config = ucsync_model::config::parse(config_text, &Connectors)
        .unwrap_or_else(|e| panic!("test configuration rejected: {e}\n{config_text}"));
    config.base_dir = Some(base.display().to_string());
    let connectors = ucsync_model::config::build_all(&config, &Connectors)
        .unwrap_or_else(|e| panic!("building the connectors: {e:?}\n{config_text}"));
    (config, connectors)
}

impl Hub {
    /// A store in `dir` (its `data` directory) and the engine of `config`.
    pub async fn open(dir: tempfile::TempDir, config: &str) -> Self {
        let store = Arc::new(SqliteStore::open(&dir.path().join("data")).await.unwrap());
        let (parsed, connectors) = build(config, dir.path());
        let shared: Arc<dyn Store> = store.clone();
        let engine = Engine::new(shared, parsed, connectors.clone());
        Self {
            dir,
            store,
            engine,
            connectors,
        }
    }

    /// Replaces the configuration, keeping the store and the files.
    pub fn reconfigure(&mut self, config: &str) {
        let (parsed, connectors) = build(config, self.dir.path());
        let shared: Arc<dyn Store> = self.store.clone();
        self.engine = Engine::new(shared, parsed, connectors.clone());
        self.connectors = connectors;
    }

    fn options(&self) -> RunOptions {
        RunOptions {
            preview: false,
            allow_deletes: None,
            status_dir: self.dir.path().join("status"),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            look_up_from: None,
            export_batch: None,
            started: None,
            stop: Stop::default(),
            started_by: "local".into(),
        }
    }

    pub async fn run(&self, connector: &str, profile: Profile) -> RunReport {
        self.engine
            .run_profile(connector, profile, &self.options())
            .await
            .unwrap()
    }

    pub async fn sync_now(&self) -> RunReport {
        self.engine
            .sync_now("default", &self.options())
            .await
            .unwrap()
    }

    pub fn connector(&self, name: &str) -> &Arc<dyn Connector> {
        &self.connectors[name]
    }

    /// Every staged object of a connector, by id.
    pub async fn staged(&self, connector: &str) -> Vec<StagedObject> {
        let Some(id) = self
            .store
            .connectors()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name == connector)
            .map(|c| c.id)
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .staged_page(id, after, 1000, StagedFilter::All)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            out.extend(page);
        }
        out
    }

    /// What a connector has staged, as anchor → (staged id, attributes as the peer has them).
    pub async fn image(&self, connector: &str) -> BTreeMap<String, (i64, Option<Attrs>)> {
        self.staged(connector)
            .await
            .into_iter()
            .map(|s| (s.anchor, (s.id, s.attrs)))
            .collect()
    }

    /// The outcomes of a run and of all its steps.
    pub async fn outcomes(&self, report: &RunReport) -> Vec<ObjectOutcome> {
        let mut out = report.outcomes.clone();
        if let Some(id) = report.run_id {
            out.extend(self.store.outcomes(id).await.unwrap());
        }
        for s in &report.steps {
            out.extend(Box::pin(self.outcomes(s)).await);
        }
        out
    }
}
