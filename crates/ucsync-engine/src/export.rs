//! Export: pending exports reach the external system, object by object or as a whole image,
//! and each outcome is recorded; failures stay pending for the next export. A run whose
//! pending deletes pass the deletion threshold stops before writing anything. A requested stop
//! is honoured between batches of changes; an image is one write and is never cut.
//!
//! A target with the valid-character rule on (`character_rule`, on by default) is never sent a
//! value that breaks it, whatever gave the value (a source that opted out, a hand-set value, an
//! export flow): the object is a per-object error naming the attribute and the position, it
//! stays pending, and the run goes on. The check is made here, where both export styles read
//! the pending exports, on objects already in hand: decoded changes, or an image object's
//! encoded attributes read in place. A refused update of an image keeps the target's current
//! state for that object (its staged state) instead of the new one.

use async_trait::async_trait;
use ucsync_model::{
    Attrs, EncodedAttrs, ExportChange, ExportOp, ExportResult, ExportStyle, ImageChange,
    ImageObject, ImageSource, SinkError, chars,
};
use ucsync_store::{
    ExportResultBatch, ImageRow, ObjectOutcome, OutcomeChunk, PendingExport, StagedFilter, Store,
    StoreError,
};

use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, RunStatus, StepEnd};

const PAGE: i64 = 5_000;
const CHANGES_BATCH: i64 = 8_000;
const EXPORT_RESULTS: &str = "writing export results";

/// `Some(message)` when some connector's pending deletes pass the threshold.
pub(crate) async fn threshold_check<'a>(
    ctx: &RunCtx<'_>,
    connectors: impl Iterator<Item = &'a ConnectorCtx>,
) -> Result<Option<String>, EngineError> {
    let mut over = Vec::new();
    let mut total_deletes = 0;
    for c in connectors {
        let counts = ctx.store.count_staged(c.id, false).await?;
        if counts.pending_deletes == 0 {
            continue;
        }
        let counts = ctx.store.count_staged(c.id, true).await?;
        let pending = counts.pending_deletes as u64;
        total_deletes += pending;
        let allowed = ctx
            .rules
            .threshold
            .allowed(counts.present as u64)
            .max(ctx.options.allow_deletes.unwrap_or(0));
        if pending > allowed {
            over.push(format!(
                "{} has {pending} pending deletes of {} objects",
                c.name, counts.present
            ));
        }
    }
    if over.is_empty() {
        return Ok(None);
    }
    let msg = format!(
        "stopped before exporting anything: {} — more than the deletion threshold of enterprise {} ({}). \
         Check the import and the scope rules; if these deletes are intended, run again with --allow-deletes {total_deletes}",
        over.join("; "),
        ctx.rules.name,
        ctx.rules.threshold.describe()
    );
    tracing::error!("{msg}");
    Ok(Some(msg))
}

/// Why a value may not be sent to connector `c`: the message of a per-object export error.
fn refused_message(c: &ConnectorCtx, invalid: &chars::Invalid) -> String {
    format!(
        "not exported, kept pending: {invalid}; fix the value where it comes from (the source connector's object or a value set by hand on the directory entry), or set character_rule = false on connector {} if it may hold such characters",
        c.name
    )
}

/// The reason connector `c` is not sent this pending add or update, when its valid-character
/// rule is on and a value breaks it.
fn refused(c: &ConnectorCtx, p: &PendingExport) -> Option<String> {
    if !c.character_rule || p.op == ExportOp::Delete {
        return None;
    }
    chars::invalid_in(&p.attrs).map(|invalid| refused_message(c, &invalid))
}

/// A pending export the valid-character rule kept from the target.
struct Refused {
    id: i64,
    anchor: String,
    object_type: String,
    why: String,
}

/// The image of a target, streamed from its staging space; counts and records each pending
/// export as it passes. The next page is read while the connector writes the current one.
struct Image<'a> {
    store: &'a dyn Store,
    shared: std::sync::Arc<dyn Store>,
    /// Objects per page.
    page: i64,
    /// The page after `after`, being read.
    ahead: Option<tokio::task::JoinHandle<Result<Vec<ImageRow>, StoreError>>>,
    connector: &'a ConnectorCtx,
    run_id: i64,
    after: i64,
    done: bool,
    pending: u64,
    counts: ucsync_store::Counters,
    outcomes: Vec<ObjectOutcome>,
    /// `changes` was called: a later `next_batch` starts the image over.
    took_changes: bool,
    /// Pending exports kept from the target by the valid-character rule.
    refused: Vec<Refused>,
}

impl Image<'_> {
    fn read_ahead(&mut self) {
        let (store, connector, after, page) = (
            self.shared.clone(),
            self.connector.id,
            self.after,
            self.page,
        );
        self.ahead = Some(tokio::spawn(async move {
            store.image_page(connector, after, page).await
        }));
    }

    fn note(&mut self, s: &ucsync_store::StagedObject) {
        if let Some(p) = &s.export {
            count(&mut self.counts, p.op, 1);
            self.outcomes
                .push(export_outcome(self.connector, s, p.op, false));
        }
    }

    /// Whether an image row's pending add or update breaks the target's valid-character rule;
    /// records it as refused if so. Encoded attributes that cannot be read are left to the
    /// connector, whose decoding names the damage.
    fn refuses(&mut self, row: &ImageRow) -> bool {
        let (Some(op), Some(attrs)) = (row.op, &row.attrs) else {
            return false;
        };
        if !self.connector.character_rule || op == ExportOp::Delete {
            return false;
        }
        let Ok(Some(invalid)) = chars::invalid_in_encoded(attrs) else {
            return false;
        };
        self.refused.push(Refused {
            id: row.id,
            anchor: row.anchor.clone(),
            object_type: row.object_type.clone(),
            why: refused_message(self.connector, &invalid),
        });
        true
    }

    /// What the target holds now for a refused update (its staged state), written in place of
    /// the new state; `None` when it holds nothing.
    async fn current_state(&self, anchor: &str) -> Result<Option<EncodedAttrs>, SinkError> {
        let staged = self
            .store
            .staged_by_anchors(self.connector.id, &[anchor.to_owned()])
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        Ok(staged
            .into_iter()
            .next()
            .and_then(|s| s.attrs)
            .map(|a: Attrs| EncodedAttrs::from(&a)))
    }
}

impl Drop for Image<'_> {
    fn drop(&mut self) {
        if let Some(ahead) = self.ahead.take() {
            ahead.abort();
        }
    }
}

#[async_trait]
impl ImageSource for Image<'_> {
    fn pending(&self) -> u64 {
        self.pending
    }

    async fn next_batch(&mut self) -> Result<Option<Vec<ImageObject>>, SinkError> {
        if std::mem::take(&mut self.took_changes) {
            if let Some(ahead) = self.ahead.take() {
                ahead.abort();
            }
            self.after = 0;
            self.done = false;
            self.counts = ucsync_store::Counters::default();
            self.outcomes.clear();
            self.refused.clear();
        }
        while !self.done {
            if self.outcomes.len() >= PAGE as usize {
                let outcomes = std::mem::take(&mut self.outcomes);
                self.store
                    .add_outcomes(OutcomeChunk {
                        run_id: self.run_id,
                        outcomes,
                    })
                    .await
                    .map_err(|e| SinkError(e.to_string()))?;
            }
            let page = match self.ahead.take() {
                Some(ahead) => ahead
                    .await
                    .map_err(|e| SinkError(format!("reading the image stopped: {e}")))?,
                None => {
                    self.store
                        .image_page(self.connector.id, self.after, self.page)
                        .await
                }
            }
            .map_err(|e| SinkError(e.to_string()))?;
            let Some(last) = page.last() else {
                self.done = true;
                break;
            };
            self.after = last.id;
            // A short page is the last one.
            if page.len() as i64 == self.page {
                self.read_ahead();
            } else {
                self.done = true;
            }
            let mut objects = Vec::with_capacity(page.len());
            for row in page {
                if self.refuses(&row) {
                    if row.op == Some(ExportOp::Update)
                        && let Some(attrs) = self.current_state(&row.anchor).await?
                    {
                        objects.push(ImageObject {
                            anchor: row.anchor,
                            object_type: row.object_type,
                            attrs,
                        });
                    }
                    continue;
                }
                if let Some(op) = row.op {
                    count(&mut self.counts, op, 1);
                    self.outcomes.push(ObjectOutcome {
                        connector: self.connector.name.clone(),
                        object: row.anchor.clone(),
                        object_type: row.object_type.clone(),
                        action: export_action(op).into(),
                        message: None,
                        changes: Vec::new(),
                    });
                }
                if let Some(attrs) = row.attrs {
                    objects.push(ImageObject {
                        anchor: row.anchor,
                        object_type: row.object_type,
                        attrs,
                    });
                }
            }
            if !objects.is_empty() {
                return Ok(Some(objects));
            }
        }
        Ok(None)
    }

    async fn changes(&mut self) -> Result<Vec<ImageChange>, SinkError> {
        self.took_changes = true;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .staged_page(self.connector.id, after, PAGE, StagedFilter::PendingExport)
                .await
                .map_err(|e| SinkError(e.to_string()))?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for s in page {
                let Some(p) = &s.export else { continue };
                // A refused change is left out: the target keeps what it has.
                if let Some(why) = refused(self.connector, p) {
                    self.refused.push(Refused {
                        id: s.id,
                        anchor: s.anchor,
                        object_type: s.object_type,
                        why,
                    });
                    continue;
                }
                self.note(&s);
                let Some(p) = s.export else { continue };
                out.push(ImageChange {
                    anchor: s.anchor,
                    object_type: s.object_type,
                    attrs: (p.op != ExportOp::Delete).then_some(p.attrs),
                });
            }
        }
        Ok(out)
    }
}

fn export_action(op: ExportOp) -> &'static str {
    match op {
        ExportOp::Add => "export-add",
        ExportOp::Update => "export-update",
        ExportOp::Delete => "export-delete",
    }
}

fn export_outcome(
    c: &ConnectorCtx,
    s: &ucsync_store::StagedObject,
    op: ExportOp,
    preview: bool,
) -> ObjectOutcome {
    let (action, changes) = match (&s.export, op) {
        (Some(p), ExportOp::Update) => (
            "export-update",
            s.attrs.clone().unwrap_or_default().diff(&p.attrs),
        ),
        (Some(p), ExportOp::Add) => (
            "export-add",
            if preview {
                ucsync_model::Attrs::new().diff(&p.attrs)
            } else {
                Vec::new()
            },
        ),
        _ => ("export-delete", Vec::new()),
    };
    // A delete names what goes in the target's own words (an LDAP entry's DN), beside the
    // anchor: the object is gone afterwards, so the outcome line is where it is still named.
    let message = match op {
        ExportOp::Delete => s
            .attrs
            .as_ref()
            .and_then(|a| c.connector.locator(&s.object_type, a)),
        _ => None,
    };
    ObjectOutcome {
        connector: c.name.clone(),
        object: s.anchor.clone(),
        object_type: s.object_type.clone(),
        action: action.into(),
        message,
        changes,
    }
}

fn count(counters: &mut ucsync_store::Counters, op: ExportOp, by: i64) {
    match op {
        ExportOp::Add => counters.added += by,
        ExportOp::Update => counters.updated += by,
        ExportOp::Delete => counters.deleted += by,
    }
}

pub(crate) async fn run(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    rec: &mut Recorder,
    check: bool,
) -> Result<StepEnd, EngineError> {
    let Some(style) = c.connector.capabilities().export else {
        return Err(EngineError::Usage(format!(
            "connector {} ({}) cannot export",
            c.name,
            c.connector.kind()
        )));
    };
    if check && let Some(msg) = threshold_check(ctx, std::iter::once(c)).await? {
        return Ok(StepEnd {
            message: Some(msg),
            stopped: Some(RunStatus::StoppedDeletionThreshold),
            ..StepEnd::default()
        });
    }
    let store = ctx.store;
    let counts = store.count_staged(c.id, false).await?;
    let pending = (counts.pending_adds + counts.pending_updates + counts.pending_deletes) as u64;
    // The export settings of an image changed: the whole target is written again.
    let rewrite = (style == ExportStyle::Image)
        .then(|| ctx.plan.rewrite(c))
        .flatten();
    if pending == 0 && rewrite.is_none() {
        return Ok(StepEnd {
            message: Some("nothing to export".into()),
            ..StepEnd::default()
        });
    }
    let why = |message: String| match rewrite {
        Some(why) => format!("{why}; {message}"),
        None => message,
    };
    ctx.options
        .progress
        .start(&format!("{}: export", c.name), Some(pending));
    if style == ExportStyle::Changes && !ctx.options.preview {
        return export_changes(ctx, c, rec).await;
    }
    if ctx.options.preview {
        // What is pending, read before the export changes it.
        let mut pending_counts = ucsync_store::Counters::default();
        let mut after = 0;
        loop {
            let page = store
                .staged_page(c.id, after, PAGE, StagedFilter::PendingExport)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for s in &page {
                if let Some(p) = &s.export {
                    if let Some(why) = refused(c, p) {
                        rec.error(&c.name, &s.anchor, &s.object_type, why);
                        continue;
                    }
                    count(&mut pending_counts, p.op, 1);
                    rec.outcome(export_outcome(c, s, p.op, ctx.options.preview));
                }
            }
            store.add_outcomes(rec.take()).await?;
        }
        rec.counters.add(&pending_counts);
        return Ok(StepEnd {
            message: Some(why(format!(
                "preview: {pending} pending exports were not sent"
            ))),
            ..StepEnd::default()
        });
    }
    let mut source = Image {
        store,
        shared: ctx.shared.clone(),
        page: ctx.options.export_batch.unwrap_or(PAGE).max(1),
        ahead: None,
        connector: c,
        run_id: rec.run_id,
        after: 0,
        done: false,
        pending,
        counts: ucsync_store::Counters::default(),
        outcomes: Vec::new(),
        took_changes: false,
        refused: Vec::new(),
    };
    let summary = c.connector.export_image(&mut source).await.map_err(|e| {
        EngineError::Connector(format!(
            "export to connector {} failed, nothing was changed: {e}",
            c.name
        ))
    })?;
    let mut counts = std::mem::take(&mut source.counts);
    for o in std::mem::take(&mut source.outcomes) {
        rec.outcome(o);
    }
    let mut rejected = Vec::new();
    let kept_back = std::mem::take(&mut source.refused);
    for r in &kept_back {
        rec.error(&c.name, &r.anchor, &r.object_type, r.why.clone());
        rejected.push((r.id, r.why.clone()));
    }
    // What the connector could not write; an object refused above stays refused once.
    let anchors: Vec<String> = summary
        .rejected
        .iter()
        .map(|(a, _)| a.clone())
        .filter(|a| !kept_back.iter().any(|r| r.anchor == *a))
        .collect();
    for s in store.staged_by_anchors(c.id, &anchors).await? {
        if let Some((_, why)) = summary.rejected.iter().find(|(a, _)| *a == s.anchor) {
            rec.error(
                &c.name,
                &s.anchor,
                &s.object_type,
                format!("not exported: {why}"),
            );
            if let Some(p) = &s.export {
                count(&mut counts, p.op, -1);
            }
            rejected.push((s.id, why.clone()));
        }
    }
    ctx.options.progress.advance(pending);
    store
        .commit_image_export(c.id, &rejected, rec.take())
        .await?;
    rec.counters.add(&counts);
    if c.exports() && !c.export_fingerprint.is_empty() {
        // Written with these settings: the next export patches or skips as usual.
        store
            .record_full_step(
                c.id,
                ucsync_store::FullStep::Export,
                ucsync_store::FullMark::Finished(&c.export_fingerprint),
            )
            .await?;
    }
    Ok(StepEnd {
        message: rewrite.map(str::to_owned),
        ..StepEnd::default()
    })
}

/// Sends pending changes batch by batch; each batch's outcomes and counts are recorded with
/// its results, so a run stopped between batches counts only what it sent.
async fn export_changes(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let store = ctx.store;
    let mut after = 0;
    let mut counted = ucsync_store::Counters::default();
    let mut end = StepEnd::default();
    // The results of one batch are written while the next batch is sent: the pages never
    // share a row.
    let mut writing: Option<tokio::task::JoinHandle<Result<(), ucsync_store::StoreError>>> = None;
    loop {
        if ctx.options.stop.requested() {
            // The batch sent last is still written below; no further batch is sent.
            end = StepEnd::stop_requested();
            break;
        }
        let page = store
            .staged_page(
                c.id,
                after,
                ctx.options.export_batch.unwrap_or(CHANGES_BATCH).max(1),
                StagedFilter::PendingExport,
            )
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let mut batch = ExportResultBatch {
            connector_id: c.id,
            ..ExportResultBatch::default()
        };
        // Changes that break the target's valid-character rule are not sent: each is a
        // per-object error and stays pending.
        let mut sent = Vec::with_capacity(page.len());
        let mut changes = Vec::with_capacity(page.len());
        for s in &page {
            let Some(p) = &s.export else { continue };
            if let Some(why) = refused(c, p) {
                rec.error(&c.name, &s.anchor, &s.object_type, why.clone());
                batch.failed.push((s.id, why));
                continue;
            }
            changes.push(ExportChange {
                anchor: s.anchor.clone(),
                object_type: s.object_type.clone(),
                op: p.op,
                attrs: p.attrs.clone(),
                old: s.attrs.clone(),
            });
            sent.push(s);
        }
        let results = if changes.is_empty() {
            Vec::new()
        } else {
            c.connector.export_changes(&changes).await.map_err(|e| {
                EngineError::Connector(format!("export to connector {} failed: {e}", c.name))
            })?
        };
        for s in &sent {
            if let Some(p) = &s.export {
                count(&mut counted, p.op, 1);
                rec.outcome(export_outcome(c, s, p.op, false));
            }
        }
        for (s, r) in sent.iter().zip(results) {
            match r {
                ExportResult::Done => batch.done.push((s.id, None)),
                ExportResult::DoneWithAnchor(a) => batch.done.push((s.id, Some(a))),
                ExportResult::DoneWithState { anchor, state } => {
                    batch.done.push((s.id, anchor));
                    let encoded = state.encode();
                    let hash = ucsync_model::attrs::object_hash(&s.object_type, &encoded);
                    batch.confirmed.push((s.id, encoded, hash));
                }
                ExportResult::Failed(why) => {
                    if let Some(p) = &s.export {
                        count(&mut counted, p.op, -1);
                    }
                    rec.error(
                        &c.name,
                        &s.anchor,
                        &s.object_type,
                        format!("not exported, kept pending: {why}"),
                    );
                    batch.failed.push((s.id, why));
                }
            }
        }
        ctx.options.progress.advance(page.len() as u64);
        batch.outcomes = OutcomeChunk {
            run_id: rec.run_id,
            outcomes: rec.take().outcomes,
        };
        if let Some(previous) = writing.take() {
            crate::run::written(previous, EXPORT_RESULTS).await?;
        }
        let shared = ctx.shared.clone();
        writing = Some(tokio::spawn(async move {
            shared.apply_export_results(batch).await
        }));
    }
    if let Some(last) = writing.take() {
        crate::run::written(last, EXPORT_RESULTS).await?;
    }
    if end.stopped.is_none() {
        // Every pending export was sent or refused again: an export error not reported again
        // belongs to an export no longer pending.
        store
            .clear_unreported_errors(c.id, ucsync_store::ErrorStep::Export, rec.run_id)
            .await?;
    }
    rec.counters.add(&counted);
    Ok(end)
}
