//! Sync: staged objects marked as changed (delta) or all of them (full) flow into the directory
//! (scope, join, projection, import flows with precedence), then every touched entry flows out
//! (export flows, provisioning, deprovisioning) as pending exports. Nothing is written to an
//! external system here. A requested stop is honoured before a page is read: the batch in
//! flight commits, no further batch starts, and what was not reached is left as it was (an
//! object marked for sync stays marked).

mod ahead;
mod inbound;
mod outward;
mod pipeline;
mod retire;

pub(crate) use ahead::threshold_check;
pub(crate) use retire::retire;

use std::collections::{BTreeSet, VecDeque};

use ucsync_model::EntryAttrs;
use ucsync_store::{ObjectOutcome, StagedFilter, StagedObject, StagedWrite, SyncBatch, SyncState};

use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, RunStatus, StepEnd};

/// Staged objects per sync batch: small enough that a batch's objects and entries stay in the
/// processor's cache between the passes that decide it (10,000 made a 1M sync a fifth slower).
const BATCH: i64 = 1_000;
/// Batches decided and handed to the writing task but not yet known to be committed: with two,
/// the writer has the next batch at hand when it commits one, and the deciding thread goes on
/// while a commit waits for a checkpoint.
const IN_FLIGHT: usize = 2;
/// From how many batches of objects a sync step holds the join keys it adds until its end.
const HOLD_KEYS_FROM_BATCHES: i64 = 4;

fn batch_size(ctx: &RunCtx<'_>) -> i64 {
    ctx.options.sync_batch.unwrap_or(BATCH).max(1)
}

/// Maps and sets of ids and anchors: a batch fills them by the thousand and never exposes
/// them, so a fast hasher does (there is nothing to gain from flooding them).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

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
    /// What the batch read from the store.
    pub reads: pipeline::ReadSet,
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

/// Which staged objects a sync reads, and as what.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncMode {
    /// Those marked for sync.
    Delta,
    /// All of them.
    Full,
    /// All of them, each as deleted in the source: the connector is being deleted, so the
    /// entries it owns go (and are deprovisioned elsewhere) and its objects leave the store.
    Retire,
}

pub(crate) async fn run(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    mode: SyncMode,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let store = ctx.store;
    if !ctx.syncs_checked
        && let Some(over) = threshold_check(ctx, &[(c, mode)]).await?
    {
        return Ok(StepEnd {
            message: Some(over),
            stopped: Some(RunStatus::StoppedDeletionThreshold),
            ..StepEnd::default()
        });
    }
    let full = mode != SyncMode::Delta;
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
    // A large sync holds the join keys it adds and writes them once at the end, in key order.
    let hold = total >= HOLD_KEYS_FROM_BATCHES * batch_size(ctx);
    if hold {
        store.hold_keys(ctx.rules.id).await?;
    }
    let result = batches(ctx, c, mode, rec).await;
    if hold {
        let written = store
            .write_held_keys(ctx.rules.id, &ctx.rules.key_spec())
            .await;
        // A failed step's own error says more than a failure to write its keys after it.
        if result.is_ok() {
            written?;
        }
    }
    result
}

/// The batches of a sync step, each decided and laid out for the store while the one before
/// it is written.
async fn batches(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    mode: SyncMode,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let mut step = Step {
        ids: EntryIds::default(),
        fresh: outward::FreshTargets::find(ctx).await?,
    };
    let mut deferred = false;
    let mut stopped = false;
    for pass in 0..2 {
        if stopped || (pass == 1 && !deferred) {
            break;
        }
        let mut after = 0;
        // Oldest first; the first is being written, the others wait their turn.
        let mut in_flight: VecDeque<pipeline::InFlight> = VecDeque::new();
        loop {
            if ctx.options.stop.requested() {
                // The batch in flight is committed below; no new batch is read.
                stopped = true;
                break;
            }
            let started = std::time::Instant::now();
            let (mark, ids) = (rec.mark(), step.ids);
            let mut page = decide_page(ctx, c, after, mode, pass, &mut step, rec).await?;
            let decided = started.elapsed();
            let again = page
                .as_ref()
                .is_some_and(|p| in_flight.iter().any(|f| f.invalidates(&p.reads)));
            if again {
                while let Some(previous) = in_flight.pop_front() {
                    previous.finish().await?;
                }
                tracing::debug!(connector = %c.name, "sync batch decided again after the writes in flight");
                match page.and_then(|p| p.batch) {
                    Some(stale) => rec.rewind_taken(mark, stale.outcomes),
                    None => rec.rewind(mark),
                }
                step.ids = ids;
                page = decide_page(ctx, c, after, mode, pass, &mut step, rec).await?;
            }
            let Some(page) = page else { break };
            after = page.last_id;
            deferred |= page.deferred;
            if let Some(batch) = page.batch {
                step.fresh.note(&batch);
                let flight =
                    pipeline::InFlight::start(ctx.shared.clone(), batch, in_flight.back_mut());
                in_flight.push_back(flight);
                while in_flight.len() > IN_FLIGHT {
                    if let Some(oldest) = in_flight.pop_front() {
                        oldest.finish().await?;
                    }
                }
                tracing::debug!(
                    connector = %c.name,
                    objects = page.objects,
                    decided_ms = decided.as_millis() as u64,
                    waited_ms = (started.elapsed() - decided).as_millis() as u64,
                    "sync batch"
                );
            }
            if pass == 0 {
                ctx.options.progress.advance(page.read);
            }
        }
        while let Some(last) = in_flight.pop_front() {
            last.finish().await?;
        }
    }
    if stopped {
        return Ok(StepEnd::stop_requested());
    }
    Ok(StepEnd {
        message: rec.dropped.note(),
        ..StepEnd::default()
    })
}

/// What a sync step carries from batch to batch.
struct Step {
    ids: EntryIds,
    fresh: outward::FreshTargets,
}

/// Ids for the entries a step projects, reserved from the store a range at a time: runs of
/// several enterprises project at the same time, and a range is theirs alone.
#[derive(Clone, Copy, Default)]
struct EntryIds {
    /// The id the next projected entry gets.
    next: i64,
    /// The end of the reserved range (not part of it).
    end: i64,
}

/// Entry ids reserved at a time (at least a page's worth).
const ENTRY_IDS: i64 = 10_000;

impl EntryIds {
    /// Makes sure `count` ids are reserved: a page projects at most one entry per object.
    async fn reserve(&mut self, ctx: &RunCtx<'_>, count: i64) -> Result<(), EngineError> {
        if self.end - self.next < count {
            let size = count.max(ENTRY_IDS);
            self.next = ctx.store.reserve_entry_ids(size).await?;
            self.end = self.next + size;
        }
        Ok(())
    }
}

/// One page of staged objects, decided and laid out for the store, not yet written.
struct Page {
    /// What to write; `None` when no object of the page is decided in this pass.
    batch: Option<SyncBatch>,
    /// What deciding it read from the store.
    reads: pipeline::ReadSet,
    last_id: i64,
    /// Objects on the page, and those of them decided in this pass.
    read: u64,
    objects: usize,
    /// Some objects carry references and wait for the second pass.
    deferred: bool,
}

/// Reads the page after `after`, decides it and lays it out for the store; `None` at the end.
/// Laying it out takes the outcomes recorded so far.
async fn decide_page(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    after: i64,
    mode: SyncMode,
    pass: usize,
    step: &mut Step,
    rec: &mut Recorder,
) -> Result<Option<Page>, EngineError> {
    let refs = &ctx.rules.references;
    let size = batch_size(ctx);
    let filter = match mode {
        SyncMode::Delta => StagedFilter::PendingSync,
        SyncMode::Full | SyncMode::Retire => StagedFilter::All,
    };
    let mut page = ctx.store.staged_page(c.id, after, size, filter).await?;
    if mode == SyncMode::Retire {
        for s in &mut page {
            s.sync_state = SyncState::Deleted;
        }
    }
    let Some(last) = page.last() else {
        return Ok(None);
    };
    let last_id = last.id;
    let read = page.len() as u64;
    let mut batch = Batch::default();
    // Usually an outcome for the object and one for what it provisions.
    batch.outcomes.reserve(2 * page.len());
    batch.reads.objects(&page);
    let mut deferred = false;
    let objects: Vec<StagedObject> = page
        .into_iter()
        .filter(|s| {
            let later = mode != SyncMode::Retire && carries_references(c, refs, s);
            deferred |= later;
            later == (pass == 1)
        })
        .collect();
    let count = objects.len();
    if count > 0 {
        step.ids.reserve(ctx, count as i64).await?;
        process(ctx, c, objects, step, &mut batch, rec).await?;
    }
    let reads = std::mem::take(&mut batch.reads);
    Ok(Some(Page {
        batch: (count > 0).then(|| outward::into_store_batch(ctx, batch, rec)),
        reads,
        last_id,
        read,
        objects: count,
        deferred,
    }))
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
    step: &mut Step,
    b: &mut Batch,
    rec: &mut Recorder,
) -> Result<(), EngineError> {
    let t0 = std::time::Instant::now();
    // Every processed object leaves the sync queue unless a decision keeps it there; decide
    // moves the objects it links into the batch, so what this needs is taken first.
    let seeds: Vec<StagedWrite> = objects
        .iter()
        .map(|s| StagedWrite {
            id: s.id,
            entry_id: s.entry_id,
            sync_state: None,
            sync_error: s.sync_error.clone(),
            export: None,
        })
        .collect();
    inbound::decide(ctx, c, objects, &mut step.ids.next, b, rec).await?;
    let t1 = t0.elapsed().as_millis() as u64;
    let touched = b.touched.clone();
    inbound::recompute(ctx, c, b, rec, &touched).await?;
    inbound::referrers(ctx, c, b, rec).await?;
    for e in &b.linked {
        match b.entries.get(e) {
            Some(st) if st.changed() => rec.counters.updated += 1,
            _ => rec.counters.unchanged += 1,
        }
    }
    outward::push(ctx, b, rec, &step.fresh).await?;
    for seed in seeds {
        let w = b.writes.entry(seed.id).or_insert(seed);
        if w.sync_state.is_none() {
            w.sync_state = Some(SyncState::Clean);
        }
    }
    tracing::trace!(
        decide_ms = t1,
        flows_ms = t0.elapsed().as_millis() as u64,
        "sync batch phases"
    );
    Ok(())
}
