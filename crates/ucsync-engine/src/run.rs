//! Runs: one profile on one connector, or sync-now over an enterprise. Records every run and
//! its outcomes, decides its status, and wraps a preview in a transaction that is rolled back.

use std::collections::BTreeMap;
use std::str::FromStr;

use ucsync_store::{Counters, FullMark, NewRun, ObjectOutcome, OutcomeChunk, RunEnd, Store};

use crate::fingerprint::{self, Plan};
use crate::rules::{ConnectorCtx, EnterpriseRules};
use crate::stop::STOPPED;
use crate::{Engine, EngineError, RunOptions, export, import, sync};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    FullImport,
    DeltaImport,
    FullSync,
    DeltaSync,
    Export,
    SyncNow,
    /// Deletes a connector: the entries it owns, its links and its staging space (not a profile
    /// one runs by name: `ucsync connector delete`).
    DeleteConnector,
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::FullImport,
        Profile::DeltaImport,
        Profile::FullSync,
        Profile::DeltaSync,
        Profile::Export,
        Profile::SyncNow,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Profile::FullImport => "full-import",
            Profile::DeltaImport => "delta-import",
            Profile::FullSync => "full-sync",
            Profile::DeltaSync => "delta-sync",
            Profile::Export => "export",
            Profile::SyncNow => "sync-now",
            Profile::DeleteConnector => "delete-connector",
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown run profile \"{s}\"; use one of: {}",
                    Profile::ALL.map(|p| p.as_str()).join(", ")
                )
            })
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    Success,
    CompletedWithErrors,
    /// Stopped at a batch boundary because a stop was requested ([`crate::Stop`]): what was
    /// committed is consistent and the next run continues from it.
    Stopped,
    StoppedDeletionThreshold,
    Failed,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::CompletedWithErrors => "completed-with-errors",
            RunStatus::Stopped => "stopped",
            RunStatus::StoppedDeletionThreshold => "stopped-deletion-threshold",
            RunStatus::Failed => "failed",
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunReport {
    /// The recorded run; `None` for a preview, which records nothing.
    pub run_id: Option<i64>,
    pub enterprise: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    pub profile: Profile,
    pub preview: bool,
    pub status: RunStatus,
    pub counters: Counters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_file: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<RunReport>,
    /// Per-object outcomes; filled for a preview (a recorded run keeps them in the store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<ObjectOutcome>,
}

/// Counters and outcomes of one step, flushed with each batch.
pub(crate) struct Recorder {
    pub run_id: i64,
    pub counters: Counters,
    outcomes: Vec<ObjectOutcome>,
    pub preview: bool,
    /// References a sync dropped because their object left the directory for good.
    pub dropped: DroppedReferences,
}

/// References to objects that are deleted or out of scope, dropped from the entries that
/// held them and counted once in the sync's note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DroppedReferences {
    /// To objects deleted in the source (or gone from the connector's view).
    pub deleted: u64,
    /// To objects the connector stages but that are not in the directory: out of its scope,
    /// or joined and projected by no rule.
    pub out_of_scope: u64,
}

impl DroppedReferences {
    /// The sync's note, when anything was dropped.
    pub fn note(&self) -> Option<String> {
        let total = self.deleted + self.out_of_scope;
        if total == 0 {
            return None;
        }
        let mut why = Vec::new();
        if self.deleted > 0 {
            why.push(format!("{} to objects deleted in the source", self.deleted));
        }
        if self.out_of_scope > 0 {
            why.push(format!(
                "{} to objects out of scope (not in the directory)",
                self.out_of_scope
            ));
        }
        Some(format!(
            "{total} reference value{} dropped: {}",
            if total == 1 { " was" } else { "s were" },
            why.join(", ")
        ))
    }
}

/// Where a [`Recorder`] stood, to go back to when a batch is decided again.
pub(crate) struct Mark {
    counters: Counters,
    outcomes: usize,
    dropped: DroppedReferences,
}

impl Recorder {
    pub fn new(run_id: i64, preview: bool) -> Self {
        Self {
            run_id,
            counters: Counters::default(),
            outcomes: Vec::new(),
            preview,
            dropped: DroppedReferences::default(),
        }
    }

    pub fn outcome(&mut self, outcome: ObjectOutcome) {
        self.outcomes.push(outcome);
    }

    /// Appends outcomes decided elsewhere (a sync batch's), in order.
    pub fn append(&mut self, outcomes: &mut Vec<ObjectOutcome>) {
        self.outcomes.append(outcomes);
    }

    pub fn error(&mut self, connector: &str, object: &str, object_type: &str, message: String) {
        self.counters.errors += 1;
        tracing::warn!(connector, object, "{message}");
        self.outcomes.push(ObjectOutcome {
            connector: connector.to_owned(),
            object: object.to_owned(),
            object_type: object_type.to_owned(),
            action: "error".into(),
            message: Some(message),
            changes: Vec::new(),
        });
    }

    /// Where the recorder stands, to go back to when a batch is decided again.
    pub fn mark(&self) -> Mark {
        Mark {
            counters: self.counters.clone(),
            outcomes: self.outcomes.len(),
            dropped: self.dropped,
        }
    }

    pub fn rewind(&mut self, mark: Mark) {
        self.counters = mark.counters;
        self.outcomes.truncate(mark.outcomes);
        self.dropped = mark.dropped;
    }

    /// As [`Recorder::rewind`], when what was recorded since `mark` has been taken since
    /// (`taken`): what was recorded before the mark is recorded again, the rest is gone.
    pub fn rewind_taken(&mut self, mark: Mark, mut taken: OutcomeChunk) {
        taken.outcomes.truncate(mark.outcomes);
        self.outcomes = taken.outcomes;
        self.counters = mark.counters;
        self.dropped = mark.dropped;
    }

    pub fn take(&mut self) -> OutcomeChunk {
        // The next chunk is about as large: its room is taken at once, not grown into.
        let room = self.outcomes.len();
        OutcomeChunk {
            run_id: self.run_id,
            outcomes: std::mem::replace(&mut self.outcomes, Vec::with_capacity(room)),
        }
    }
}

/// Waits for a batch written to the store on another task.
pub(crate) async fn written(
    task: tokio::task::JoinHandle<Result<(), ucsync_store::StoreError>>,
    doing: &'static str,
) -> Result<(), ucsync_store::StoreError> {
    match task.await {
        Ok(result) => result,
        Err(e) => Err(ucsync_store::StoreError::Sql {
            doing,
            message: format!("the writing task stopped: {e}"),
        }),
    }
}

/// How a step ended when it did not fail.
#[derive(Default)]
pub(crate) struct StepEnd {
    pub message: Option<String>,
    pub status_file: Option<String>,
    /// The step stopped before its end: [`RunStatus::Stopped`] (a stop was requested) or
    /// [`RunStatus::StoppedDeletionThreshold`].
    pub stopped: Option<RunStatus>,
    /// An import's listing was incomplete: a full import did not cover everything.
    pub incomplete: bool,
}

impl StepEnd {
    /// The step honoured a requested stop at a batch boundary.
    pub fn stop_requested() -> Self {
        Self {
            stopped: Some(RunStatus::Stopped),
            ..Self::default()
        }
    }
}

/// What a step stopped on request says; a full import or sync is run again by the next run of
/// the connector, even a delta one, to cover what it did not reach.
fn stopped_message(profile: Profile) -> String {
    match profile {
        Profile::FullImport | Profile::FullSync => format!(
            "{STOPPED}; the next run of this connector does the {} again to cover what it did not reach",
            profile.as_str()
        ),
        _ => STOPPED.to_owned(),
    }
}

pub(crate) fn now() -> String {
    stamp(jiff::Timestamp::now())
}

/// A time as runs record it (RFC 3339 to the millisecond), so that such times compare as text.
pub(crate) fn stamp(t: jiff::Timestamp) -> String {
    t.round(jiff::Unit::Millisecond)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

pub(crate) struct RunCtx<'a> {
    pub store: &'a dyn Store,
    /// The same store, for work handed to other tasks.
    pub shared: std::sync::Arc<dyn Store>,
    pub rules: &'a EnterpriseRules,
    /// Which delta steps run as full ones, and why.
    pub plan: &'a Plan,
    pub options: &'a RunOptions,
    /// The deletion threshold was checked for the syncs of the whole run (a sync-now) before
    /// the first of them: its sync steps do not count again.
    pub syncs_checked: bool,
}

pub(crate) async fn execute(
    engine: &Engine,
    enterprise: &str,
    connector: Option<&str>,
    profile: Profile,
    options: &RunOptions,
) -> Result<RunReport, EngineError> {
    if !options.preview {
        return execute_on(
            engine.store.clone(),
            engine,
            enterprise,
            connector,
            profile,
            options,
        )
        .await;
    }
    // A preview runs in a session of its own: it sees the committed state and its own writes,
    // nobody sees its writes, and it commits nothing (not even its run records).
    let session = engine.store.begin_preview().await?;
    let result = match execute_on(
        session.clone(),
        engine,
        enterprise,
        connector,
        profile,
        options,
    )
    .await
    {
        Ok(mut report) => collect_preview(session.as_ref(), &mut report)
            .await
            .map(|_| report),
        Err(e) => Err(e),
    };
    let ended = session.end_preview().await;
    let report = result?;
    ended?;
    Ok(report)
}

async fn execute_on(
    store: std::sync::Arc<dyn Store>,
    engine: &Engine,
    enterprise: &str,
    connector: Option<&str>,
    profile: Profile,
    options: &RunOptions,
) -> Result<RunReport, EngineError> {
    if connector.is_none() && engine.config.sync_order(enterprise).is_empty() {
        return Err(no_connectors(&engine.config, enterprise));
    }
    let mut ids = BTreeMap::new();
    for (name, c) in &engine.config.connectors {
        let eid = store.ensure_enterprise(&c.enterprise).await?;
        ids.insert(
            name.clone(),
            store.ensure_connector(name, eid, &c.kind).await?.id,
        );
    }
    let eid = store.ensure_enterprise(enterprise).await?;
    if !options.preview {
        crate::history::remove_old_runs(store.as_ref(), engine, enterprise).await;
    }
    let mut rules =
        EnterpriseRules::compile(&engine.config, enterprise, eid, &ids, &engine.connectors)?;
    if profile == Profile::DeleteConnector {
        rules.retiring = connector.and_then(|name| ids.get(name).copied());
    }
    let plan = Plan::read(store.as_ref(), &rules.connectors).await?;
    let ctx = RunCtx {
        store: store.as_ref(),
        shared: store.clone(),
        rules: &rules,
        plan: &plan,
        options,
        syncs_checked: false,
    };
    match connector {
        None => sync_now(&ctx).await,
        Some(name) => {
            let c = rules.by_name(name).ok_or_else(|| {
                EngineError::Config(format!(
                    "connector {name} is not in the sync order of enterprise {enterprise}"
                ))
            })?;
            step(&ctx, c, profile, None).await
        }
    }
}

/// Why a sync-now of an enterprise without connectors has nothing to run, and which
/// enterprises have some.
fn no_connectors(config: &ucsync_model::config::Config, enterprise: &str) -> EngineError {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in config.connectors.values() {
        *counts.entry(c.enterprise.as_str()).or_default() += 1;
    }
    EngineError::Config(if counts.is_empty() {
        format!(
            "enterprise {enterprise} has no connectors, and neither has any other: there is nothing to synchronize; add a [connectors.NAME] table to the configuration"
        )
    } else {
        let with: Vec<String> = counts
            .iter()
            .map(|(e, n)| format!("{e} ({n} connector{})", if *n == 1 { "" } else { "s" }))
            .collect();
        format!(
            "enterprise {enterprise} has no connectors, so sync-now has nothing to run; the enterprises that have some are: {}. Run sync-now for one of them (--enterprise NAME), or set enterprise = \"{enterprise}\" on the connectors meant for it",
            with.join(", ")
        )
    })
}

/// A preview's outcomes live only in its transaction: read them before it is rolled back.
async fn collect_preview(store: &dyn Store, report: &mut RunReport) -> Result<(), EngineError> {
    if let Some(id) = report.run_id.take() {
        report.outcomes = store.outcomes(id).await?;
    }
    for s in &mut report.steps {
        Box::pin(collect_preview(store, s)).await?;
    }
    report.status_file = None;
    Ok(())
}

pub(crate) async fn step(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    asked: Profile,
    parent_id: Option<i64>,
) -> Result<RunReport, EngineError> {
    // A delta step runs as the full one when what it depends on changed, or a full one did not
    // finish.
    let (profile, why) = ctx.plan.profile(c, asked);
    if let Some(why) = &why {
        tracing::info!(connector = %c.name, "{why}");
    }
    let full = fingerprint::full_step(c, profile);
    if let Some((full, _)) = full {
        // Before the run is recorded: a full step that is recorded and does not finish
        // (stopped, failed, killed) is done again by the next run of the connector.
        ctx.store
            .record_full_step(c.id, full, FullMark::Started)
            .await?;
    }
    let run_id = ctx
        .store
        .create_run(NewRun {
            parent_id,
            enterprise: ctx.rules.name.clone(),
            connector: Some(c.name.clone()),
            profile: profile.as_str().into(),
            started_at: now(),
            started_by: ctx.options.started_by.clone(),
        })
        .await?;
    tracing::info!(
        run = run_id,
        connector = %c.name,
        profile = profile.as_str(),
        started_by = %ctx.options.started_by,
        "run started"
    );
    if parent_id.is_none() && !ctx.options.preview {
        audit_start(ctx, run_id, &format!("connector {}", c.name), profile).await;
    }
    if let (None, Some(started), false) = (parent_id, &ctx.options.started, ctx.options.preview) {
        started(run_id);
    }
    let mut rec = Recorder::new(run_id, ctx.options.preview);
    let result = if ctx.options.stop.requested() {
        Ok(StepEnd::stop_requested())
    } else {
        full_step(ctx, c, profile, &mut rec).await
    };
    ctx.options.progress.finish();
    let (status, mut end) = match result {
        Ok(mut end) => match end.stopped {
            Some(status) => {
                if status == RunStatus::Stopped && end.message.is_none() {
                    end.message = Some(stopped_message(profile));
                }
                (status, end)
            }
            None if rec.counters.errors > 0 => (RunStatus::CompletedWithErrors, end),
            None => (RunStatus::Success, end),
        },
        Err(e @ EngineError::Store(_)) => {
            // The store failed: record the end if it still can, and stop what runs this step.
            tracing::error!(run = run_id, connector = %c.name, "run failed: {e}");
            let _ = ctx.store.add_outcomes(rec.take()).await;
            let _ = ctx
                .store
                .finish_run(
                    run_id,
                    RunEnd {
                        status: RunStatus::Failed.as_str().into(),
                        ended_at: now(),
                        counters: rec.counters.clone(),
                        message: Some(e.to_string()),
                        status_file: None,
                    },
                )
                .await;
            return Err(e);
        }
        Err(e) => {
            tracing::error!(run = run_id, connector = %c.name, "run failed: {e}");
            (
                RunStatus::Failed,
                StepEnd {
                    message: Some(e.to_string()),
                    ..StepEnd::default()
                },
            )
        }
    };
    if let Some(why) = why {
        // Why it ran as a full step comes first.
        end.message = Some(match end.message.take() {
            Some(m) => format!("{why}; {m}"),
            None => why,
        });
    }
    let chunk = rec.take();
    ctx.store.add_outcomes(chunk).await?;
    ctx.store
        .finish_run(
            run_id,
            RunEnd {
                status: status.as_str().into(),
                ended_at: now(),
                counters: rec.counters.clone(),
                message: end.message.clone(),
                status_file: end.status_file.clone(),
            },
        )
        .await?;
    let k = &rec.counters;
    tracing::info!(
        run = run_id, connector = %c.name, profile = profile.as_str(), status = status.as_str(),
        added = k.added, updated = k.updated, deleted = k.deleted, unchanged = k.unchanged, errors = k.errors,
        "run finished"
    );
    Ok(RunReport {
        run_id: Some(run_id),
        enterprise: ctx.rules.name.clone(),
        connector: Some(c.name.clone()),
        profile,
        preview: ctx.options.preview,
        status,
        counters: rec.counters,
        message: end.message,
        status_file: end.status_file,
        steps: Vec::new(),
        outcomes: Vec::new(),
    })
}

/// Runs a step; a full import or sync (marked unfinished before it was recorded) that ends
/// neither stopped nor failed nor with an incomplete listing records what it ran with, which
/// ends the mark.
async fn full_step(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    profile: Profile,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let Some((step, print)) = fingerprint::full_step(c, profile) else {
        return run_step(ctx, c, profile, rec).await;
    };
    let end = run_step(ctx, c, profile, rec).await?;
    if end.stopped.is_none() && !end.incomplete {
        ctx.store
            .record_full_step(c.id, step, FullMark::Finished(print))
            .await?;
        if step == ucsync_store::FullStep::Sync {
            // Every object of the connector was synced again: the sync errors its earlier
            // runs reported and this one did not are over.
            ctx.store
                .clear_unreported_errors(c.id, ucsync_store::ErrorStep::Sync, rec.run_id)
                .await?;
        }
    }
    Ok(end)
}

async fn run_step(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    profile: Profile,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    match profile {
        Profile::FullImport => import::run(ctx, c, ucsync_model::ImportMode::Full, rec).await,
        Profile::DeltaImport => import::run(ctx, c, ucsync_model::ImportMode::Delta, rec).await,
        Profile::FullSync => sync::run(ctx, c, sync::SyncMode::Full, rec).await,
        Profile::DeltaSync => sync::run(ctx, c, sync::SyncMode::Delta, rec).await,
        Profile::DeleteConnector => sync::retire(ctx, c, rec).await,
        Profile::Export => export::run(ctx, c, rec, true).await,
        Profile::SyncNow => Err(EngineError::Usage("sync-now is not a step".into())),
    }
}

/// Records in the audit who started run `run_id` (a run, not a preview or a step). The run
/// goes on when the audit cannot take it: that is logged as an error.
async fn audit_start(ctx: &RunCtx<'_>, run_id: i64, object: &str, profile: Profile) {
    let entry = ucsync_store::NewAudit {
        administrator: ctx.options.started_by.clone(),
        action: "run-started".into(),
        object: format!("run {run_id}"),
        detail: Some(format!("{} of {object}", profile.as_str())),
    };
    if let Err(e) = ctx.store.add_audit(entry).await {
        tracing::error!(
            run = run_id,
            "cannot record who started the run in the audit: {e}"
        );
    }
}

async fn sync_now(ctx: &RunCtx<'_>) -> Result<RunReport, EngineError> {
    let parent = ctx
        .store
        .create_run(NewRun {
            parent_id: None,
            enterprise: ctx.rules.name.clone(),
            connector: None,
            profile: Profile::SyncNow.as_str().into(),
            started_at: now(),
            started_by: ctx.options.started_by.clone(),
        })
        .await?;
    if !ctx.options.preview {
        let object = format!("enterprise {}", ctx.rules.name);
        audit_start(ctx, parent, &object, Profile::SyncNow).await;
    }
    if let (Some(started), false) = (&ctx.options.started, ctx.options.preview) {
        started(parent);
    }
    let mut steps = Vec::new();
    let (cut_short, mut message) = match sync_now_steps(ctx, parent, &mut steps).await {
        Ok(end) => end,
        Err(e) => {
            // A step failed on the store: the sync-now ends failed too, if the store still
            // takes it.
            let mut counters = Counters::default();
            for s in &steps {
                counters.add(&s.counters);
            }
            let _ = ctx
                .store
                .finish_run(
                    parent,
                    RunEnd {
                        status: RunStatus::Failed.as_str().into(),
                        ended_at: now(),
                        counters,
                        message: Some(e.to_string()),
                        status_file: None,
                    },
                )
                .await;
            return Err(e);
        }
    };
    let mut counters = Counters::default();
    for s in &steps {
        counters.add(&s.counters);
    }
    let mut status = steps
        .iter()
        .map(|s| s.status)
        .max()
        .unwrap_or(RunStatus::Success);
    if message.is_some() {
        status = status.max(RunStatus::StoppedDeletionThreshold);
    }
    if cut_short {
        status = status.max(RunStatus::Stopped);
    }
    if message.is_none() && status > RunStatus::Success {
        let mut parts: Vec<String> = Vec::new();
        if cut_short || steps.iter().any(|s| s.status == RunStatus::Stopped) {
            parts.push(STOPPED.to_owned());
        }
        parts.extend(
            steps
                .iter()
                .filter(|s| s.status > RunStatus::Success)
                .map(|s| {
                    format!(
                        "{} {}: {}",
                        s.connector.as_deref().unwrap_or(""),
                        s.profile.as_str(),
                        s.status.as_str()
                    )
                }),
        );
        message = Some(parts.join("; "));
    }
    ctx.store
        .finish_run(
            parent,
            RunEnd {
                status: status.as_str().into(),
                ended_at: now(),
                counters: counters.clone(),
                message: message.clone(),
                status_file: None,
            },
        )
        .await?;
    Ok(RunReport {
        run_id: Some(parent),
        enterprise: ctx.rules.name.clone(),
        connector: None,
        profile: Profile::SyncNow,
        preview: ctx.options.preview,
        status,
        counters,
        message,
        status_file: None,
        steps,
        outcomes: Vec::new(),
    })
}

/// The steps of a sync-now, each pushed to `steps` as it ends: whether a requested stop cut
/// them short, and why they stopped before exporting, if they did.
async fn sync_now_steps(
    ctx: &RunCtx<'_>,
    parent: i64,
    steps: &mut Vec<RunReport>,
) -> Result<(bool, Option<String>), EngineError> {
    let stop = &ctx.options.stop;
    // A requested stop lets the running step end at its batch boundary; no further step starts.
    for c in &ctx.rules.connectors {
        if stop.requested() {
            return Ok((true, None));
        }
        steps.push(step(ctx, c, Profile::DeltaImport, Some(parent)).await?);
    }
    // Before the first sync changes anything, the deletes all of them would make.
    // Each sync in the mode it runs in: full where the rules changed or a full one did not finish.
    let connectors: Vec<(&ConnectorCtx, sync::SyncMode)> = ctx
        .rules
        .connectors
        .iter()
        .map(|c| match ctx.plan.profile(c, Profile::DeltaSync).0 {
            Profile::FullSync => (c, sync::SyncMode::Full),
            _ => (c, sync::SyncMode::Delta),
        })
        .collect();
    if let Some(over) = sync::threshold_check(ctx, &connectors).await? {
        return Ok((false, Some(over)));
    }
    let checked = RunCtx {
        store: ctx.store,
        shared: ctx.shared.clone(),
        rules: ctx.rules,
        plan: ctx.plan,
        options: ctx.options,
        syncs_checked: true,
    };
    for c in &ctx.rules.connectors {
        if stop.requested() {
            return Ok((true, None));
        }
        steps.push(step(&checked, c, Profile::DeltaSync, Some(parent)).await?);
    }
    if stop.requested() {
        return Ok((true, None));
    }
    if let Some(over) = export::threshold_check(ctx, ctx.rules.connectors.iter()).await? {
        return Ok((false, Some(over)));
    }
    for c in ctx
        .rules
        .connectors
        .iter()
        .filter(|c| c.connector.capabilities().export.is_some())
    {
        if stop.requested() {
            return Ok((true, None));
        }
        steps.push(step(ctx, c, Profile::Export, Some(parent)).await?);
    }
    Ok((false, None))
}
