//! A run asked to stop ends at a batch boundary: the batches it committed are whole, nothing
//! after them is applied (no watermark, no deletions of an unfinished listing, no further
//! batch or step), and the next run ends exactly where an uninterrupted run ends, which each
//! test checks against a copy of the same hub that ran without a stop.

use std::sync::{Arc, Mutex};

use ucsync_engine::{Profile, Progress, RunOptions, RunReport, RunStatus, Stop};
use ucsync_store::{CatalogStore, RunStore, StagingStore};

use crate::harness::{Hub, step};

const CONFIG: &str = r#"version = 1
[enterprises.default]
sync_order = ["hr", "phones", "badges"]
deletion_threshold = 100

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

[connectors.phones]
kind = "csv"
[connectors.phones.settings]
path = "phones.csv"
object_type = "contact"
key = ["uid"]
header = ["uid", "cn"]
[connectors.phones.rules]
join = [{ staged = "uid", directory = "uid" }]
provisioning = [{ from = "person", object_type = "contact" }]
[connectors.phones.rules.export_flows]
uid = "uid"
cn = "cn"

[connectors.badges]
kind = "csv"
[connectors.badges.settings]
path = "badges.csv"
object_type = "badge"
key = ["uid"]
header = ["uid", "cn"]
[connectors.badges.rules]
join = [{ staged = "uid", directory = "uid" }]
provisioning = [{ from = "person", object_type = "badge" }]
[connectors.badges.rules.export_flows]
uid = "uid"
cn = "cn"
"#;

/// When a [`StopWhen`] asks for the stop.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// As the step starts, before it reads anything.
    Start,
    /// At the step's first progress, i.e. once its first batch is handed to the store.
    FirstBatch,
}

/// Asks for a stop at one moment of one step (by its progress label, e.g. "hr: import"), as a
/// server's signal handler would while the run goes on.
pub struct StopWhen {
    stop: Stop,
    label: &'static str,
    moment: Moment,
    current: Mutex<String>,
}

impl Progress for StopWhen {
    fn start(&self, label: &str, _total: Option<u64>) {
        *self.current.lock().unwrap() = label.to_owned();
        if label == self.label && self.moment == Moment::Start {
            self.stop.request();
        }
    }

    fn advance(&self, _n: u64) {
        if *self.current.lock().unwrap() == self.label && self.moment == Moment::FirstBatch {
            self.stop.request();
        }
    }

    fn finish(&self) {}
}

/// Options whose stop is requested at `moment` of the step labelled `label`.
pub fn stopping(hub: &Hub, label: &'static str, moment: Moment) -> RunOptions {
    let stop = Stop::new();
    let mut options = hub.options(false, None);
    options.progress = Arc::new(StopWhen {
        stop: stop.clone(),
        label,
        moment,
        current: Mutex::new(String::new()),
    });
    options.stop = stop;
    options
}

/// A run that stopped on request, with the status the store recorded for it.
pub async fn assert_stopped(hub: &Hub, report: &RunReport) {
    assert_eq!(report.status, RunStatus::Stopped, "{report:#?}");
    let message = report.message.as_deref().unwrap_or("");
    assert!(
        message.contains("stopped at a batch boundary")
            && message.contains("the next run continues from the last committed batch"),
        "{message}"
    );
    let id = report.run_id.expect("a recorded run");
    let record = hub.store.run(id).await.unwrap().expect("the run record");
    assert_eq!(record.status, "stopped", "{record:?}");
    assert_eq!(record.message.as_deref(), report.message.as_deref());
}

/// The directory and the staging spaces, without store ids.
pub async fn snapshot(hub: &Hub, connectors: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = hub
        .entries()
        .await
        .into_iter()
        .map(|e| format!("entry {} {:?}", e.object_type, e.attrs))
        .collect();
    for c in connectors {
        out.extend(hub.staged(c).await.into_iter().map(|s| {
            format!(
                "{c} {} {} {:?} linked={} {:?} {:?} {:?} {:?}",
                s.anchor,
                s.object_type,
                s.attrs,
                s.entry_id.is_some(),
                s.sync_state,
                s.export,
                s.sync_error,
                s.export_error
            )
        }));
    }
    out.sort();
    out
}

/// The stopped hub ended where the uninterrupted one did: directory, staging, written files.
async fn assert_converged(stopped: &Hub, straight: &Hub, files: &[&str]) {
    let connectors = ["hr", "phones", "badges"];
    let (a, b) = (
        snapshot(stopped, &connectors).await,
        snapshot(straight, &connectors).await,
    );
    assert_eq!(a.len(), b.len(), "directory and staging sizes differ");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "the stopped hub differs from the uninterrupted one");
    }
    for f in files {
        assert!(
            stopped.bytes(f) == straight.bytes(f),
            "{f} differs:\n{}\n---- uninterrupted ----\n{}",
            stopped.read(f),
            straight.read(f)
        );
    }
}

/// hr.csv rows (no header) named `{name} {id}`.
fn rows(ids: impl Iterator<Item = usize>, name: &str) -> String {
    ids.map(|i| format!("{i},{name} {i}\n")).collect()
}

fn people(ids: impl Iterator<Item = usize>, name: &str) -> String {
    format!("id,name\n{}", rows(ids, name))
}

/// Two identical hubs: one to stop, one to run without a stop.
async fn twins(hr: &str) -> (Hub, Hub) {
    let files = [
        ("hr.csv", hr),
        ("phones.csv", "uid,cn\n"),
        ("badges.csv", "uid,cn\n"),
    ];
    (
        Hub::new(CONFIG, &files).await,
        Hub::new(CONFIG, &files).await,
    )
}

async fn watermark(hub: &Hub, connector: &str) -> Option<String> {
    hub.store
        .connectors()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == connector)
        .and_then(|c| c.watermark)
}

async fn counts(hub: &Hub, connector: &str) -> ucsync_store::StagedCounts {
    let id = hub.connector_id(connector).await;
    hub.store.count_staged(id, true).await.unwrap()
}

const PEOPLE: usize = 6_000;

/// Both hubs hold `PEOPLE` people, synced and exported; then hr.csv renames every one of them
/// but ids 100..110, which are gone.
async fn renamed_after_a_first_sync() -> (Hub, Hub) {
    let (stopped, straight) = twins(&people(0..PEOPLE, "Person")).await;
    stopped.sync_ok().await;
    straight.sync_ok().await;
    let renamed = people((0..PEOPLE).filter(|i| !(100..110).contains(i)), "Renamed");
    stopped.write("hr.csv", &renamed);
    straight.write("hr.csv", &renamed);
    (stopped, straight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_stopped_after_its_first_batch_keeps_the_watermark_and_deletes_nothing() {
    let (stopped, straight) = renamed_after_a_first_sync().await;
    let before = watermark(&stopped, "hr").await;
    assert!(before.is_some());

    let options = stopping(&stopped, "hr: import", Moment::FirstBatch);
    let report = stopped
        .engine
        .run_profile("hr", Profile::FullImport, &options)
        .await
        .unwrap();
    assert_stopped(&stopped, &report).await;
    assert!(
        report
            .message
            .as_deref()
            .unwrap_or("")
            .contains("the next run of this connector does the full-import again"),
        "{report:#?}"
    );
    // One batch of 5,000 changes was committed, nothing after it.
    assert_eq!(report.counters.updated, 5_000, "{:?}", report.counters);
    assert_eq!(report.counters.deleted, 0, "{:?}", report.counters);
    assert_eq!(
        watermark(&stopped, "hr").await,
        before,
        "the watermark moved"
    );
    let staged = stopped.staged("hr").await;
    assert_eq!(staged.len(), PEOPLE);
    let renamed = staged
        .iter()
        .filter(|s| {
            s.attrs
                .as_ref()
                .is_some_and(|a| a.get("name")[0].starts_with("Renamed"))
        })
        .count();
    assert_eq!(renamed, 5_000);
    // The listing was not complete: what it did not reach is no deletion.
    for id in 100..110 {
        let gone = stopped.object("hr", &id.to_string()).await;
        assert_eq!(
            gone.attrs.as_ref().map(|a| a.get("name").to_vec()),
            Some(vec![format!("Person {id}")]),
            "{gone:?}"
        );
    }
    assert_eq!(counts(&stopped, "hr").await.pending_sync, 5_000);
    let outcomes = stopped
        .store
        .outcomes(report.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 5_000);
    assert!(outcomes.iter().all(|o| o.action == "updated"));

    let full = straight.run("hr", Profile::FullImport).await;
    assert_eq!(full.status, RunStatus::Success, "{full:#?}");
    assert_eq!((full.counters.updated, full.counters.deleted), (5_990, 10));

    // The next sync-now finishes the full import: it reads the file again, whole.
    let next = stopped.sync_ok().await;
    let import = step(&next, "hr", Profile::FullImport);
    assert!(
        import
            .message
            .as_deref()
            .unwrap_or("")
            .contains("full-import instead of delta-import: the last full import did not finish"),
        "{import:#?}"
    );
    assert_eq!(
        (import.counters.updated, import.counters.deleted),
        (990, 10)
    );
    straight.sync_ok().await;
    assert_converged(&stopped, &straight, &["phones.csv", "badges.csv"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_is_honoured_while_unchanged_records_are_read() {
    let (stopped, straight) = twins(&people(0..PEOPLE, "Person")).await;
    stopped.sync_ok().await;
    straight.sync_ok().await;
    // Only the last rows change: the first 5,000 records read need no write at all.
    let changed = people(0..5_500, "Person") + &rows(5_500..PEOPLE - 1, "Renamed");
    stopped.write("hr.csv", &changed);
    straight.write("hr.csv", &changed);
    let before = watermark(&stopped, "hr").await;

    let options = stopping(&stopped, "hr: import", Moment::Start);
    let report = stopped
        .engine
        .run_profile("hr", Profile::DeltaImport, &options)
        .await
        .unwrap();
    assert_stopped(&stopped, &report).await;
    let k = &report.counters;
    assert_eq!((k.unchanged, k.updated, k.deleted), (5_000, 0, 0), "{k:?}");
    assert_eq!(
        watermark(&stopped, "hr").await,
        before,
        "the watermark moved"
    );
    assert_eq!(counts(&stopped, "hr").await.pending_sync, 0);
    assert_eq!(counts(&stopped, "hr").await.present, PEOPLE as i64);

    let next = stopped.sync_ok().await;
    let import = step(&next, "hr", Profile::DeltaImport);
    assert_eq!((import.counters.updated, import.counters.deleted), (499, 1));
    straight.sync_ok().await;
    assert_converged(&stopped, &straight, &["phones.csv", "badges.csv"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_stopped_after_its_first_batch_commits_that_batch_and_starts_no_other() {
    let (stopped, straight) = twins(&people(0..40, "Person")).await;
    for hub in [&stopped, &straight] {
        let import = hub.run("hr", Profile::FullImport).await;
        assert_eq!(import.status, RunStatus::Success);
    }
    let mut options = stopping(&stopped, "hr: sync", Moment::FirstBatch);
    options.sync_batch = Some(10);
    let report = stopped
        .engine
        .run_profile("hr", Profile::DeltaSync, &options)
        .await
        .unwrap();
    assert_stopped(&stopped, &report).await;
    // The batch in flight when the stop came was committed whole; the next was never read.
    assert_eq!(report.counters.added, 10, "{:?}", report.counters);
    assert_eq!(stopped.entries().await.len(), 10);
    assert_eq!(counts(&stopped, "hr").await.pending_sync, 30);
    assert_eq!(counts(&stopped, "phones").await.pending_adds, 10);
    assert_eq!(counts(&stopped, "badges").await.pending_adds, 10);

    let mut options = stopped.options(false, None);
    options.sync_batch = Some(10);
    let next = stopped.sync_now_with(&options).await;
    assert_eq!(next.status, RunStatus::Success, "{next:#?}");
    let sync = step(&next, "hr", Profile::DeltaSync);
    assert_eq!(sync.counters.added, 30, "{:?}", sync.counters);
    let done = straight.sync_now_with(&options).await;
    assert_eq!(done.status, RunStatus::Success, "{done:#?}");
    assert_converged(&stopped, &straight, &["phones.csv", "badges.csv"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_now_stopped_during_an_image_export_writes_it_whole_and_starts_no_other_step() {
    let (stopped, straight) = twins(&people(0..30, "Person")).await;
    let options = stopping(&stopped, "phones: export", Moment::Start);
    let report = stopped.sync_now_with(&options).await;
    assert_stopped(&stopped, &report).await;
    // The image is one write: begun before the stop, it is written whole.
    let last = report.steps.last().expect("steps");
    assert_eq!(
        (last.connector.as_deref(), last.profile, last.status),
        (Some("phones"), Profile::Export, RunStatus::Success),
        "{report:#?}"
    );
    assert_eq!(last.counters.added, 30);
    assert_eq!(stopped.rows("phones.csv").len(), 30);
    assert!(
        !report
            .steps
            .iter()
            .any(|s| s.connector.as_deref() == Some("badges") && s.profile == Profile::Export),
        "{report:#?}"
    );
    assert_eq!(stopped.rows("badges.csv").len(), 0);
    assert_eq!(counts(&stopped, "badges").await.pending_adds, 30);
    let children = stopped
        .store
        .child_runs(report.run_id.unwrap())
        .await
        .unwrap();
    assert_eq!(children.len(), report.steps.len());

    stopped.sync_ok().await;
    straight.sync_ok().await;
    assert_converged(&stopped, &straight, &["phones.csv", "badges.csv"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_now_stopped_during_a_step_starts_no_further_step() {
    // (the step during which the stop comes, the steps run, how the last one ended): a small
    // import is one batch and ends; a sync stops before its first batch.
    let cases = [
        ("hr: import", 1, RunStatus::Success),
        ("badges: import", 3, RunStatus::Success),
        ("hr: sync", 4, RunStatus::Stopped),
    ];
    for (label, ran, last) in cases {
        let (stopped, straight) = twins(&people(0..30, "Person")).await;
        let report = stopped
            .sync_now_with(&stopping(&stopped, label, Moment::Start))
            .await;
        assert_stopped(&stopped, &report).await;
        let statuses: Vec<RunStatus> = report.steps.iter().map(|s| s.status).collect();
        assert_eq!(statuses.len(), ran, "{label}: {report:#?}");
        assert_eq!(statuses.last(), Some(&last), "{label}: {report:#?}");
        assert!(
            statuses[..ran - 1].iter().all(|s| *s == RunStatus::Success),
            "{label}: {statuses:?}"
        );
        assert_eq!(stopped.rows("phones.csv").len(), 0, "{label}");

        stopped.sync_ok().await;
        straight.sync_ok().await;
        assert_converged(&stopped, &straight, &["phones.csv", "badges.csv"]).await;
    }
}

#[tokio::test]
async fn a_run_asked_to_stop_before_it_starts_changes_nothing() {
    let hub = Hub::new(
        CONFIG,
        &[
            ("hr.csv", &people(0..5, "Person")),
            ("phones.csv", "uid,cn\n"),
            ("badges.csv", "uid,cn\n"),
        ],
    )
    .await;
    let options = hub.options(false, None);
    options.stop.request();
    let import = hub
        .engine
        .run_profile("hr", Profile::FullImport, &options)
        .await
        .unwrap();
    assert_stopped(&hub, &import).await;
    let k = &import.counters;
    assert_eq!((k.added, k.updated, k.deleted, k.unchanged), (0, 0, 0, 0));
    assert!(hub.staged("hr").await.is_empty());
    assert_eq!(watermark(&hub, "hr").await, None);

    let report = hub.sync_now_with(&options).await;
    assert_stopped(&hub, &report).await;
    assert!(report.steps.is_empty(), "{report:#?}");
    assert!(hub.staged("hr").await.is_empty());
}
