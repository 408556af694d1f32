//! The deletion threshold before a sync changes anything: how many directory entries the sync
//! of a connector would delete, found by deciding, without writing, the only objects that can
//! take an entry away — those linked to one that are deleted in the source or out of scope now.
//! Over the threshold, the step (or the whole sync-now) stops before its first write, so the
//! entries keep their ids and what was set on them by hand, and the objects stay marked for the
//! sync that is allowed to delete them.

use ucsync_model::config::DeletionThreshold;
use ucsync_store::{StagedFilter, StagedObject, SyncState};

use super::{Batch, SyncMode, inbound};
use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx};

const PAGE: i64 = 1_000;

/// How many existing entries the sync of `c` in `mode` would delete.
pub(crate) async fn entries_deleted(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    mode: SyncMode,
) -> Result<u64, EngineError> {
    // Only a projecting connector's objects keep entries; a retired connector is counted by
    // its own step.
    if mode == SyncMode::Retire || !ctx.rules.is_source(c.id) {
        return Ok(0);
    }
    // A full sync applies the scope rule to every linked object; a delta sync to those that
    // changed. Without a scope rule only deletions in the source take objects away, and those
    // are marked.
    let filter = match mode {
        SyncMode::Full if c.scope.is_some() => StagedFilter::Linked,
        _ => StagedFilter::LinkedPendingSync,
    };
    let mut deleted = 0;
    let mut after = 0;
    loop {
        let page = ctx.store.staged_page(c.id, after, PAGE, filter).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let leaving: Vec<StagedObject> = page.into_iter().filter(|s| leaves(c, s)).collect();
        if leaving.is_empty() {
            continue;
        }
        // Decided as the sync decides them, into a batch that is never written.
        let mut batch = Batch::default();
        let mut scratch = Recorder::new(0, true);
        // Linked objects project nothing: no entry id is taken.
        let mut no_ids = 0;
        inbound::decide(ctx, c, leaving, &mut no_ids, &mut batch, &mut scratch).await?;
        let touched = batch.touched.clone();
        inbound::recompute(ctx, c, &mut batch, &mut scratch, &touched).await?;
        deleted += batch
            .entries
            .values()
            .filter(|e| e.deleted && e.old.is_some())
            .count() as u64;
    }
    Ok(deleted)
}

/// Whether a linked object leaves its entry in this sync.
fn leaves(c: &ConnectorCtx, s: &StagedObject) -> bool {
    s.entry_id.is_some()
        && (s.sync_state == SyncState::Deleted || s.attrs.as_ref().is_some_and(|a| !c.in_scope(a)))
}

/// `Some(message)` when the syncs of `connectors`, each in its mode, would delete more entries
/// than the enterprise's threshold allows (with the run's `--allow-deletes`).
pub(crate) async fn threshold_check(
    ctx: &RunCtx<'_>,
    connectors: &[(&ConnectorCtx, SyncMode)],
) -> Result<Option<String>, EngineError> {
    let mut total = 0;
    let mut parts = Vec::new();
    for &(c, mode) in connectors {
        let n = entries_deleted(ctx, c, mode).await?;
        if n > 0 {
            total += n;
            parts.push(format!("{} {n}", c.name));
        }
    }
    let threshold = &ctx.rules.threshold;
    let allow = ctx.options.allow_deletes.unwrap_or(0);
    // A threshold of a number of objects needs no count of the directory (a pass over every
    // entry of the enterprise) unless it is exceeded and the message says of how many.
    let within_count = match threshold {
        DeletionThreshold::Count(n) => total <= (*n).max(allow),
        DeletionThreshold::Percent(_) => false,
    };
    if total == 0 || within_count {
        return Ok(None);
    }
    let entries = ctx.store.count_entries(ctx.rules.id).await?.max(0) as u64;
    if total <= threshold.allowed(entries).max(allow) {
        return Ok(None);
    }
    let msg = format!(
        "stopped before changing the directory: syncing would delete {total} of its {entries} entries ({}), more than the deletion threshold of enterprise {} ({}). Nothing was deleted, in the directory or in any target, and the objects stay marked for the next sync. Check the import and the scope rules; if these deletes are intended, run again with --allow-deletes {total}",
        parts.join(", "),
        ctx.rules.name,
        threshold.describe()
    );
    tracing::error!("{msg}");
    Ok(Some(msg))
}
