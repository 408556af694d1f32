//! Deleting a connector (a synchronizer): the entries it owns — those it links and no other
//! projecting connector does — are deleted, and only those; its other links are undone. First
//! it counts them, and the enterprise's deletion threshold applies to that count.

use std::collections::BTreeSet;

use ucsync_store::StagedFilter;

use super::{SyncMode, run};
use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, RunStatus, StepEnd};

const PAGE: i64 = 10_000;

/// How many entries deleting connector `c` deletes.
pub(crate) async fn owned_entries(ctx: &RunCtx<'_>, c: &ConnectorCtx) -> Result<u64, EngineError> {
    let rules = ctx.rules;
    if !rules.is_source(c.id) {
        return Ok(0);
    }
    let mut owned = 0;
    let mut after = 0;
    loop {
        let page = ctx
            .store
            .staged_page(c.id, after, PAGE, StagedFilter::All)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let ids: Vec<i64> = page
            .iter()
            .filter_map(|s| s.entry_id)
            .collect::<BTreeSet<i64>>()
            .into_iter()
            .collect();
        let kept: BTreeSet<i64> = ctx
            .store
            .links_by_entries(&ids)
            .await?
            .into_iter()
            .filter(|l| l.connector_id != c.id && rules.is_source(l.connector_id))
            .filter_map(|l| l.entry_id)
            .collect();
        owned += ids.iter().filter(|e| !kept.contains(e)).count() as u64;
    }
    Ok(owned)
}

/// The step that deletes connector `c`'s entries and staging space.
pub(crate) async fn retire(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let owned = owned_entries(ctx, c).await?;
    let total = ctx.store.count_entries(ctx.rules.id).await?.max(0) as u64;
    let threshold = &ctx.rules.threshold;
    // `--allow-deletes N` allows N deletes in this run, as for a sync or an export: not N
    // more than the threshold allows.
    let allowed = threshold
        .allowed(total)
        .max(ctx.options.allow_deletes.unwrap_or(0));
    if owned > allowed {
        return Ok(StepEnd {
            message: Some(format!(
                "deleting connector {} would delete the {owned} entries it owns, more than the deletion threshold of enterprise {} ({}); nothing was changed. Look at them with --preview, then run again with --allow-deletes {owned} to delete them",
                c.name,
                ctx.rules.name,
                threshold.describe()
            )),
            stopped: Some(RunStatus::StoppedDeletionThreshold),
            ..StepEnd::default()
        });
    }
    let mut end = run(ctx, c, SyncMode::Retire, rec).await?;
    if end.stopped.is_some() {
        return Ok(end);
    }
    if !ctx.options.preview {
        ctx.store.remove_connector(&c.name).await?;
    }
    end.message = Some(format!(
        "connector {}: {owned} entr{} it owned deleted, its staging space removed; deletes for other connectors are exported by their next export",
        c.name,
        if owned == 1 { "y" } else { "ies" }
    ));
    Ok(end)
}
