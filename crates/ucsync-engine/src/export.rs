//! Export: pending exports reach the external system, object by object or as a whole image,
//! and each outcome is recorded; failures stay pending for the next export. A run whose
//! pending deletes pass the deletion threshold stops before writing anything.

use async_trait::async_trait;
use ucsync_model::{
    ExportChange, ExportOp, ExportResult, ExportStyle, ImageObject, ImageSource, SinkError,
};
use ucsync_store::{ExportResultBatch, ObjectOutcome, OutcomeChunk, StagedFilter, Store};

use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, StepEnd};

const PAGE: i64 = 5_000;
const CHANGES_BATCH: i64 = 500;

/// `Some(message)` when some connector's pending deletes pass the threshold.
pub(crate) async fn threshold_check<'a>(
    ctx: &RunCtx<'_>,
    connectors: impl Iterator<Item = &'a ConnectorCtx>,
) -> Result<Option<String>, EngineError> {
    let mut over = Vec::new();
    let mut total_deletes = 0;
    for c in connectors {
        let counts = ctx.store.count_staged(c.id).await?;
        if counts.pending_deletes == 0 {
            continue;
        }
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

struct Image<'a> {
    store: &'a dyn Store,
    connector_id: i64,
    after: i64,
    done: bool,
}

#[async_trait]
impl ImageSource for Image<'_> {
    async fn next_batch(&mut self) -> Result<Option<Vec<ImageObject>>, SinkError> {
        while !self.done {
            let page = self
                .store
                .staged_page(self.connector_id, self.after, PAGE, StagedFilter::All)
                .await
                .map_err(|e| SinkError(e.to_string()))?;
            let Some(last) = page.last() else {
                self.done = true;
                break;
            };
            self.after = last.id;
            let objects: Vec<ImageObject> = page
                .iter()
                .filter_map(|s| {
                    s.target_state().map(|attrs| ImageObject {
                        anchor: s.anchor.clone(),
                        object_type: s.object_type.clone(),
                        attrs: attrs.clone(),
                    })
                })
                .collect();
            if !objects.is_empty() {
                return Ok(Some(objects));
            }
        }
        Ok(None)
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
    ObjectOutcome {
        connector: c.name.clone(),
        object: s.anchor.clone(),
        object_type: s.object_type.clone(),
        action: action.into(),
        message: None,
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
            stopped: true,
            ..StepEnd::default()
        });
    }
    let store = ctx.store;
    let counts = store.count_staged(c.id).await?;
    let pending = (counts.pending_adds + counts.pending_updates + counts.pending_deletes) as u64;
    if pending == 0 {
        return Ok(StepEnd {
            message: Some("nothing to export".into()),
            ..StepEnd::default()
        });
    }
    ctx.options
        .progress
        .start(&format!("{}: export", c.name), Some(pending));
    // Outcomes of what is pending, read before the export changes it; counted once written.
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
                count(&mut pending_counts, p.op, 1);
                rec.outcome(export_outcome(c, s, p.op, ctx.options.preview));
            }
        }
        if style == ExportStyle::Image || ctx.options.preview {
            store.add_outcomes(rec.take()).await?;
        }
    }
    if ctx.options.preview {
        rec.counters.add(&pending_counts);
        return Ok(StepEnd {
            message: Some(format!("preview: {pending} pending exports were not sent")),
            ..StepEnd::default()
        });
    }
    match style {
        ExportStyle::Image => {
            let mut source = Image {
                store,
                connector_id: c.id,
                after: 0,
                done: false,
            };
            let summary = c.connector.export_image(&mut source).await.map_err(|e| {
                EngineError::Connector(format!(
                    "export to connector {} failed, nothing was changed: {e}",
                    c.name
                ))
            })?;
            let anchors: Vec<String> = summary.rejected.iter().map(|(a, _)| a.clone()).collect();
            let mut rejected = Vec::new();
            for s in store.staged_by_anchors(c.id, &anchors).await? {
                if let Some((_, why)) = summary.rejected.iter().find(|(a, _)| *a == s.anchor) {
                    rec.error(
                        &c.name,
                        &s.anchor,
                        &s.object_type,
                        format!("not exported: {why}"),
                    );
                    if let Some(p) = &s.export {
                        count(&mut pending_counts, p.op, -1);
                    }
                    rejected.push((s.id, why.clone()));
                }
            }
            ctx.options.progress.advance(pending);
            store
                .commit_image_export(c.id, &rejected, rec.take())
                .await?;
            rec.counters.add(&pending_counts);
        }
        ExportStyle::Changes => export_changes(ctx, c, rec, pending_counts).await?,
    }
    Ok(StepEnd::default())
}

async fn export_changes(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    rec: &mut Recorder,
    mut counted: ucsync_store::Counters,
) -> Result<(), EngineError> {
    let store = ctx.store;
    let mut after = 0;
    loop {
        let page = store
            .staged_page(c.id, after, CHANGES_BATCH, StagedFilter::PendingExport)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let changes: Vec<ExportChange> = page
            .iter()
            .filter_map(|s| {
                s.export.as_ref().map(|p| ExportChange {
                    anchor: s.anchor.clone(),
                    object_type: s.object_type.clone(),
                    op: p.op,
                    attrs: p.attrs.clone(),
                    old: s.attrs.clone(),
                })
            })
            .collect();
        let results = c.connector.export_changes(&changes).await.map_err(|e| {
            EngineError::Connector(format!("export to connector {} failed: {e}", c.name))
        })?;
        let mut batch = ExportResultBatch {
            connector_id: c.id,
            ..ExportResultBatch::default()
        };
        for (s, r) in page.iter().filter(|s| s.export.is_some()).zip(results) {
            match r {
                ExportResult::Done => batch.done.push((s.id, None)),
                ExportResult::DoneWithAnchor(a) => batch.done.push((s.id, Some(a))),
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
        store.apply_export_results(batch).await?;
    }
    rec.counters.add(&counted);
    Ok(())
}
