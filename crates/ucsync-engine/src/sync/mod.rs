//! Sync: staged objects marked as changed (delta) or all of them (full) flow into the directory
//! (scope, join, projection, import flows with precedence), then every touched entry flows out
//! (export flows, provisioning, deprovisioning) as pending exports. Nothing is written to an
//! external system here.

mod inbound;
mod outward;

use std::collections::{BTreeSet, HashMap};

use ucsync_model::EntryAttrs;
use ucsync_store::{ObjectOutcome, StagedFilter, StagedObject, StagedWrite, SyncState};

use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, StepEnd};

const BATCH: i64 = 10_000;

/// A directory entry as one batch sees and changes it.
pub(crate) struct EntryState {
    pub object_type: String,
    pub old: Option<EntryAttrs>,
    pub new: EntryAttrs,
    pub deleted: bool,
}

impl EntryState {
    pub fn changed(&self) -> bool {
        self.deleted || self.old.as_ref() != Some(&self.new)
    }
}

/// Everything one batch reads and decides before it is committed.
#[derive(Default)]
pub(crate) struct Batch {
    pub entries: HashMap<i64, EntryState>,
    /// Staged objects linked to each touched entry, across all connectors.
    pub links: HashMap<i64, Vec<StagedObject>>,
    /// Entries whose attributes must be recomputed and pushed outward.
    pub touched: BTreeSet<i64>,
    pub writes: HashMap<i64, StagedWrite>,
    pub deletes: BTreeSet<i64>,
    pub inserts: Vec<ucsync_store::StagedInsert>,
    pub outcomes: Vec<ObjectOutcome>,
    /// Entries of objects that were already linked: counted as updated or unchanged once
    /// recomputed.
    pub linked: Vec<i64>,
}

impl Batch {
    /// The pending write of a staged object, starting from its current state.
    pub fn write(&mut self, s: &StagedObject) -> &mut StagedWrite {
        self.writes.entry(s.id).or_insert_with(|| StagedWrite {
            id: s.id,
            entry_id: s.entry_id,
            sync_state: None,
            sync_error: s.sync_error.clone(),
            export: None,
        })
    }

    pub fn unlink(&mut self, entry_id: i64, staged_id: i64) {
        if let Some(list) = self.links.get_mut(&entry_id) {
            list.retain(|s| s.id != staged_id);
        }
        self.touched.insert(entry_id);
    }
}

/// Objects whose import flows give reference attributes wait until the others are synced, so
/// that the entries they point at exist.
fn carries_references(c: &ConnectorCtx, refs: &BTreeSet<String>, s: &StagedObject) -> bool {
    let Some(attrs) = &s.attrs else { return false };
    c.import_flows
        .iter()
        .filter(|(target, _)| refs.contains(target))
        .any(|(_, e)| e.attributes().iter().any(|a| attrs.contains(a)))
}

pub(crate) async fn run(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    full: bool,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let store = ctx.store;
    let filter = if full {
        StagedFilter::All
    } else {
        StagedFilter::PendingSync
    };
    let counts = store.count_staged(c.id, full).await?;
    let total = if full {
        counts.total
    } else {
        counts.pending_sync
    };
    ctx.options
        .progress
        .start(&format!("{}: sync", c.name), Some(total as u64));
    rebuild_keys_if_needed(ctx).await?;
    let mut next_entry_id = store.next_entry_id().await?;
    let refs = &ctx.rules.references;
    let mut deferred = false;
    for pass in 0..2 {
        if pass == 1 && !deferred {
            break;
        }
        let mut after = 0;
        loop {
            let page = store.staged_page(c.id, after, BATCH, filter).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let n = page.len() as u64;
            let objects: Vec<StagedObject> = page
                .into_iter()
                .filter(|s| {
                    let later = carries_references(c, refs, s);
                    deferred |= later;
                    later == (pass == 1)
                })
                .collect();
            if !objects.is_empty() {
                let started = std::time::Instant::now();
                let count = objects.len();
                process(ctx, c, objects, &mut next_entry_id, rec).await?;
                tracing::debug!(connector = %c.name, objects = count, ms = started.elapsed().as_millis() as u64, "sync batch");
            }
            if pass == 0 {
                ctx.options.progress.advance(n);
            }
        }
    }
    Ok(StepEnd::default())
}

/// After the join rules or references changed, the keys of every entry are indexed anew, so
/// that a new join rule finds entries that existed before it.
async fn rebuild_keys_if_needed(ctx: &RunCtx<'_>) -> Result<(), EngineError> {
    let rules = ctx.rules;
    let spec = rules.key_spec();
    if ctx.store.key_spec(rules.id).await?.as_deref() == Some(spec.as_str()) {
        return Ok(());
    }
    tracing::info!(enterprise = %rules.name, %spec, "join keys are rebuilt for new rules");
    ctx.store.clear_keys(rules.id).await?;
    let mut after = 0;
    loop {
        let page = ctx.store.entries_page(rules.id, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        let keys: Vec<(i64, i64)> = page
            .iter()
            .flat_map(|e| {
                rules
                    .entry_keys(&e.attrs)
                    .into_iter()
                    .map(move |k| (k, e.id))
            })
            .collect();
        ctx.store.add_keys(rules.id, &keys, None).await?;
    }
    ctx.store.add_keys(rules.id, &[], Some(&spec)).await?;
    Ok(())
}

async fn process(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    objects: Vec<StagedObject>,
    next_entry_id: &mut i64,
    rec: &mut Recorder,
) -> Result<(), EngineError> {
    let t0 = std::time::Instant::now();
    let mut b = Batch::default();
    inbound::decide(ctx, c, &objects, next_entry_id, &mut b, rec).await?;
    let t1 = t0.elapsed().as_millis() as u64;
    let touched = b.touched.clone();
    inbound::recompute(ctx, c, &mut b, rec, &touched).await?;
    inbound::referrers(ctx, c, &mut b, rec).await?;
    for e in &b.linked {
        match b.entries.get(e) {
            Some(st) if st.changed() => rec.counters.updated += 1,
            _ => rec.counters.unchanged += 1,
        }
    }
    outward::push(ctx, &mut b, rec).await?;
    for s in &objects {
        // Every processed object leaves the sync queue unless a decision kept it there.
        let w = b.write(s);
        if w.sync_state.is_none() {
            w.sync_state = Some(SyncState::Clean);
        }
    }
    let t2 = t0.elapsed().as_millis() as u64;
    let batch = outward::into_store_batch(ctx, b, rec);
    let t3 = t0.elapsed().as_millis() as u64;
    ctx.store.apply_sync_batch(batch).await?;
    tracing::trace!(
        decide_ms = t1,
        flows_ms = t2,
        batch_ms = t3,
        total_ms = t0.elapsed().as_millis() as u64,
        "sync batch phases"
    );
    Ok(())
}
