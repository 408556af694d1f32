//! A private directory, store and engine per test, with helpers to run profiles and to read the
//! directory, the staging spaces, the run outcomes and the CSV files back.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ucsync_connectors::Connectors;
use ucsync_engine::{Engine, NoProgress, Profile, RunOptions, RunReport, RunStatus, Stop};
use ucsync_store::{
    CatalogStore, DirectoryStore, Entry, ObjectOutcome, RunStore, SqliteStore, StagedFilter,
    StagedObject, StagingStore, Store,
};

/// One CSV row as column → cell.
pub type Row = BTreeMap<String, String>;

pub struct Hub {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub engine: Engine,
}

fn build_engine(store: &Arc<SqliteStore>, config_text: &str, base: &std::path::Path) -> Engine {
    let mut config = ucsync_model::config::parse(config_text, &Connectors)
        .unwrap_or_else(|e| panic!("test configuration rejected: {e}\n{config_text}"));
    // As `ucsync` builds them: checked, and knowing the references the declarations imply.
    config.base_dir = Some(base.display().to_string());
    let connectors = ucsync_model::config::build_all(&config, &Connectors)
        .unwrap_or_else(|e| panic!("building the connectors: {e:?}\n{config_text}"));
    let store: Arc<dyn Store> = store.clone();
    Engine::new(store, config, connectors)
}

impl Hub {
    /// Writes `files` into a fresh directory, opens a store there and builds the engine.
    pub async fn new(config: &str, files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            std::fs::write(dir.path().join(rel), text).unwrap();
        }
        let store = Arc::new(SqliteStore::open(&dir.path().join("data")).await.unwrap());
        let engine = build_engine(&store, config, dir.path());
        Self { dir, store, engine }
    }

    /// Opens the store already in `dir` (its `data` directory) and builds the engine.
    pub async fn open(dir: tempfile::TempDir, config: &str) -> Self {
        let store = Arc::new(SqliteStore::open(&dir.path().join("data")).await.unwrap());
        let engine = build_engine(&store, config, dir.path());
        Self { dir, store, engine }
    }

    /// Closes the store and gives back the directory, e.g. to copy it.
    pub fn close(self) -> tempfile::TempDir {
        self.dir
    }

    /// Replaces the configuration, keeping the store and the files.
    pub fn reconfigure(&mut self, config: &str) {
        self.engine = build_engine(&self.store, config, self.dir.path());
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// The rows of a CSV file, each as column → cell.
    pub fn rows(&self, rel: &str) -> Vec<Row> {
        let table = parse_csv(&self.read(rel));
        let Some((header, body)) = table.split_first() else {
            return Vec::new();
        };
        body.iter()
            .map(|cells| {
                header
                    .iter()
                    .cloned()
                    .zip(
                        cells
                            .iter()
                            .cloned()
                            .chain(std::iter::repeat(String::new())),
                    )
                    .collect()
            })
            .collect()
    }

    /// The one row of a CSV file whose `column` holds `value`.
    pub fn row(&self, rel: &str, column: &str, value: &str) -> Row {
        let rows = self.rows(rel);
        let found: Vec<&Row> = rows
            .iter()
            .filter(|r| r.get(column).map(String::as_str) == Some(value))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one row of {rel} with {column} = {value:?}, file:\n{}",
            self.read(rel)
        );
        found[0].clone()
    }

    pub fn options(&self, preview: bool, allow_deletes: Option<u64>) -> RunOptions {
        RunOptions {
            preview,
            allow_deletes,
            status_dir: self.path("status"),
            progress: Arc::new(NoProgress),
            sync_batch: None,
            look_up_from: None,
            export_batch: None,
            started: None,
            stop: Stop::default(),
            started_by: "local".into(),
        }
    }

    pub async fn sync_now_with(&self, options: &RunOptions) -> RunReport {
        self.engine.sync_now("default", options).await.unwrap()
    }

    /// Sync now on the default enterprise.
    pub async fn sync_now(&self) -> RunReport {
        self.sync_now_with(&self.options(false, None)).await
    }

    /// Sync now that must end in success.
    pub async fn sync_ok(&self) -> RunReport {
        let report = self.sync_now().await;
        assert_eq!(
            report.status,
            RunStatus::Success,
            "sync-now did not succeed: {:?}\n{:#?}",
            report.message,
            self.all_outcomes(&report).await
        );
        report
    }

    pub async fn run(&self, connector: &str, profile: Profile) -> RunReport {
        self.engine
            .run_profile(connector, profile, &self.options(false, None))
            .await
            .unwrap()
    }

    pub async fn enterprise_id(&self) -> i64 {
        self.store.ensure_enterprise("default").await.unwrap()
    }

    /// The store id of a connector, once a run registered it.
    pub async fn registered(&self, name: &str) -> Option<i64> {
        self.store
            .connectors()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.id)
    }

    pub async fn connector_id(&self, name: &str) -> i64 {
        self.registered(name)
            .await
            .unwrap_or_else(|| panic!("connector {name} is not registered"))
    }

    /// Every directory entry of the default enterprise, by id.
    pub async fn entries(&self) -> Vec<Entry> {
        let eid = self.enterprise_id().await;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.entries_page(eid, after, 1000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            out.extend(page);
        }
        out
    }

    /// The one entry whose `attr` holds `value`.
    pub async fn entry(&self, attr: &str, value: &str) -> Entry {
        let entries = self.entries().await;
        let found: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.attrs.get(attr).iter().any(|v| v == value))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one entry with {attr} = {value:?}, directory: {entries:#?}"
        );
        found[0].clone()
    }

    /// Every staged object of a connector, by id.
    pub async fn staged(&self, connector: &str) -> Vec<StagedObject> {
        let Some(id) = self.registered(connector).await else {
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

    /// The staged object of a connector with this anchor.
    pub async fn object(&self, connector: &str, anchor: &str) -> StagedObject {
        let id = self.connector_id(connector).await;
        let mut found = self
            .store
            .staged_by_anchors(id, &[anchor.to_owned()])
            .await
            .unwrap();
        assert_eq!(
            found.len(),
            1,
            "expected one staged object {anchor:?} of {connector}, staging: {:#?}",
            self.staged(connector).await
        );
        found.remove(0)
    }

    /// The staged objects linked to an entry, across connectors.
    pub async fn linked(&self, entry_id: i64) -> Vec<StagedObject> {
        self.store.staged_by_entries(&[entry_id]).await.unwrap()
    }

    /// The outcomes of a run and of all its steps (a preview carries them in the report).
    pub async fn all_outcomes(&self, report: &RunReport) -> Vec<ObjectOutcome> {
        let mut out = report.outcomes.clone();
        if let Some(id) = report.run_id {
            out.extend(self.store.outcomes(id).await.unwrap());
        }
        for s in &report.steps {
            out.extend(Box::pin(self.all_outcomes(s)).await);
        }
        out
    }
}

/// The step of a sync-now report for one connector and profile.
pub fn step<'a>(report: &'a RunReport, connector: &str, profile: Profile) -> &'a RunReport {
    report
        .steps
        .iter()
        .find(|s| s.connector.as_deref() == Some(connector) && s.profile == profile)
        .unwrap_or_else(|| panic!("no step {connector} {profile:?} in {report:#?}"))
}

/// A small CSV reader: quoted fields (with doubled quotes and line breaks), CRLF or LF, an
/// optional UTF-8 BOM.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Sorted copies of values, to compare multi-valued attributes as sets.
pub fn sorted<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

/// Whether some outcome has this action on this object.
pub fn has_outcome(outcomes: &[ObjectOutcome], action: &str, object: &str) -> bool {
    outcomes
        .iter()
        .any(|o| o.action == action && o.object == object)
}
