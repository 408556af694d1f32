//! The number-retention rule of PBX node synchronizers, for the connectors whose
//! capabilities declare `retains_referenced_numbers`. An account carries data of its own
//! (hand-added numbers, dynamic statuses: [`ucsync_model::account`]); this module decides what
//! that data keeps when such a connector gives less:
//!
//! - a value the connector gave and gives no more stays while the data refers to it
//!   ([`retain_referenced`]);
//! - an entry the connector no longer gives at all (its object deleted in the source or out of
//!   scope) is kept while it has any such data ([`settle`]). The object stays linked to it as a
//!   *held* link, which gives the entry no values and no life of its own but keeps it the
//!   connector's: the next sync after its data changes looks at it again (and deletes it once
//!   the last of that data is gone), the connector's object for it when the source gives it
//!   again is linked to it again, and deleting the connector deletes it;
//! - the account's hand-added numbers are among the numbers the connector gives
//!   ([`add_hand_numbers`]).
//!
//! It knows no connector kind, and changes nothing that [`super::decide`] decided other than
//! the objects it keeps linked.

use std::collections::BTreeSet;

use ucsync_model::{EntryAttrs, account};
use ucsync_store::{ObjectOutcome, StagedObject, SyncState};

use crate::EngineError;
use crate::rules::{ConnectorCtx, EnterpriseRules};
use crate::run::{Recorder, RunCtx};
use crate::sync::{Batch, HashMap};

fn retains(rules: &EnterpriseRules, connector_id: i64) -> bool {
    rules
        .connector(connector_id)
        .is_some_and(|c| c.connector.capabilities().retains_referenced_numbers)
}

/// Whether a linked object is one the rule holds: an object of a retaining connector that the
/// source no longer has (and that has nothing to export), or that is out of its connector's
/// scope. It gives its entry nothing.
pub(super) fn is_held(rules: &EnterpriseRules, s: &StagedObject) -> bool {
    let Some(k) = rules.connector(s.connector_id) else {
        return false;
    };
    if !k.connector.capabilities().retains_referenced_numbers {
        return false;
    }
    match &s.attrs {
        Some(attrs) => !k.in_scope(attrs),
        None => s.export.is_none(),
    }
}

/// Whether a linked object keeps its entry alive: an object of a projecting connector, unless
/// the rule merely holds it.
fn gives_life(rules: &EnterpriseRules, s: &StagedObject) -> bool {
    rules.is_source(s.connector_id) && !is_held(rules, s)
}

/// What the rule decided for the entries of one recompute.
#[derive(Default)]
pub(super) struct Settled {
    /// Entries that no linked object keeps alive and no data of their own keeps: deleted.
    pub doomed: BTreeSet<i64>,
    /// Entries kept whose object this batch processed: counted once recomputed.
    kept: Vec<i64>,
}

impl Settled {
    /// Counts each kept entry as updated or unchanged (its object was counted as deleted when it
    /// was disconnected; it was not).
    pub fn count(&self, b: &Batch, rec: &mut Recorder) {
        for e in &self.kept {
            match b.entries.get(e) {
                Some(st) if st.changed() => rec.counters.updated += 1,
                _ => rec.counters.unchanged += 1,
            }
        }
    }
}

/// Decides which entries of `which` are deleted, and keeps those that their own data holds:
/// an entry that no linked object keeps alive any more stays while it has hand-added numbers
/// or dynamic statuses and a retaining connector (other than one being deleted) linked it. The
/// objects that linked it stay linked; the run says so per object (`kept`). An entry linked
/// again by the same connector drops the objects that only held it.
pub(super) async fn settle(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    b: &mut Batch,
    rec: &mut Recorder,
    which: &BTreeSet<i64>,
) -> Result<Settled, EngineError> {
    let rules = ctx.rules;
    let mut settled = Settled::default();
    let mut lonely = Vec::new();
    for e in which {
        let Some(state) = b.entries.get(e) else {
            continue;
        };
        let links = b.links.get(e).map(Vec::as_slice).unwrap_or(&[]);
        if !links.iter().any(|s| gives_life(rules, s)) {
            if account::has_own_data(state.old.as_ref().unwrap_or(&state.new)) {
                lonely.push(*e);
            } else {
                settled.doomed.insert(*e);
            }
            continue;
        }
        if !links.iter().any(|s| is_held(rules, s)) {
            continue;
        }
        // Linked again by the same connector: the objects that held it are done.
        let again = |k: i64| {
            links
                .iter()
                .any(|l| l.connector_id == k && gives_life(rules, l))
        };
        let done: Vec<StagedObject> = links
            .iter()
            .filter(|s| is_held(rules, s) && again(s.connector_id))
            .cloned()
            .collect();
        for s in done {
            release(b, *e, &s);
        }
    }
    if !lonely.is_empty() {
        let mut committed: HashMap<i64, Vec<StagedObject>> = HashMap::default();
        for s in b.reads.staged_by_entries(ctx.store, &lonely).await? {
            if let Some(e) = s.entry_id {
                committed.entry(e).or_default().push(s);
            }
        }
        for e in lonely {
            let objects = committed.remove(&e).unwrap_or_default();
            if !hold(ctx, c, b, rec, e, objects, &mut settled) {
                settled.doomed.insert(e);
            }
        }
    }
    // A deleted entry takes the objects that only held it along.
    for e in &settled.doomed {
        let held: Vec<StagedObject> = b
            .links
            .get(e)
            .into_iter()
            .flatten()
            .filter(|s| is_held(rules, s))
            .cloned()
            .collect();
        for s in held {
            release(b, *e, &s);
        }
    }
    Ok(settled)
}

/// Keeps entry `e`, which has data of its own, when an object of a retaining connector holds
/// it: one still linked in the batch, or one of `committed` (its links as stored) that this
/// batch disconnected, which is linked again. False when nothing holds it.
fn hold(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    b: &mut Batch,
    rec: &mut Recorder,
    e: i64,
    committed: Vec<StagedObject>,
    settled: &mut Settled,
) -> bool {
    let rules = ctx.rules;
    let holds = |k: i64| retains(rules, k) && rules.is_source(k) && rules.retiring != Some(k);
    let linked: Vec<i64> = b
        .links
        .get(&e)
        .into_iter()
        .flatten()
        .map(|s| s.id)
        .collect();
    let still = b
        .links
        .get(&e)
        .into_iter()
        .flatten()
        .any(|s| holds(s.connector_id) && is_held(rules, s));
    let again: Vec<StagedObject> = committed
        .iter()
        .filter(|s| holds(s.connector_id) && !linked.contains(&s.id))
        .cloned()
        .collect();
    let Some(state) = b.entries.get(&e) else {
        return false;
    };
    let own = state.old.clone().unwrap_or_else(|| state.new.clone());
    let object_type = state.object_type.clone();
    if !still && again.is_empty() {
        if let Some(r) = rules.retiring.and_then(|r| rules.connector(r))
            && let Some(s) = committed.iter().find(|s| s.connector_id == r.id)
        {
            b.outcomes.push(ObjectOutcome {
                connector: r.name.clone(),
                object: format!("entry:{e}"),
                object_type,
                action: "warning".into(),
                message: Some(format!(
                    "entry {e} (\"{}\") is deleted with its own data ({}): deleting synchronizer {} deletes the accounts it owns",
                    s.anchor,
                    account::describe_own_data(&own),
                    r.name
                )),
                changes: Vec::new(),
            });
        }
        return false;
    }
    let mut counted = false;
    for s in again {
        b.deletes.remove(&s.id);
        b.write(&s).entry_id = Some(e);
        let why = if s.attrs.is_none() {
            "deleted in the source"
        } else {
            "out of scope"
        };
        let name = rules
            .connector(s.connector_id)
            .map(|k| k.name.clone())
            .unwrap_or_else(|| c.name.clone());
        let message = format!(
            "{why}; entry {e} is kept: its own data refers to it ({}). Its values from {name} go, except the numbers that data refers to; it is deleted at the first sync after the last of that data is removed",
            account::describe_own_data(&own)
        );
        // Not disconnected after all: the outcome and the count decide gave say so.
        match b
            .outcomes
            .iter_mut()
            .rev()
            .find(|o| o.action == "disconnected" && o.connector == name && o.object == s.anchor)
        {
            Some(o) => {
                o.action = "kept".into();
                o.message = Some(message);
                rec.counters.deleted -= 1;
                counted = true;
            }
            None => b.outcomes.push(ObjectOutcome {
                connector: name,
                object: s.anchor.clone(),
                object_type: s.object_type.clone(),
                action: "kept".into(),
                message: Some(message),
                changes: Vec::new(),
            }),
        }
        let mut s = s;
        s.entry_id = Some(e);
        s.sync_state = SyncState::Clean;
        b.links.entry(e).or_default().push(s);
    }
    if counted {
        settled.kept.push(e);
    }
    true
}

/// Takes a held object off entry `e`: one gone from the source leaves the staging space, one
/// out of scope stays there unlinked.
fn release(b: &mut Batch, e: i64, s: &StagedObject) {
    b.unlink(e, s.id);
    if s.attrs.is_none() {
        b.deletes.insert(s.id);
    } else {
        b.write(s).entry_id = None;
    }
}

/// The number-retention rule: a value that a retaining connector (a PBX node) gave the entry
/// and gives no more stays while the entry's hand-added numbers or dynamic statuses refer to it.
/// It goes at the first sync after its last reference is removed.
pub(super) fn retain_referenced(rules: &EnterpriseRules, old: &EntryAttrs, new: &mut EntryAttrs) {
    let refs = account::referenced_numbers(new);
    if refs.is_empty() {
        return;
    }
    for (name, source, values) in old.iter() {
        let Some(k) = *source else { continue };
        if !retains(rules, k) {
            continue;
        }
        let now = new.get(name);
        let kept: Vec<String> = values
            .iter()
            .filter(|v| refs.contains(*v) && !now.contains(v))
            .cloned()
            .collect();
        if kept.is_empty() {
            continue;
        }
        match new.source(name) {
            None => new.set(name.clone(), Some(k), kept),
            Some(Some(current)) if current == k => {
                let mut values = now.to_vec();
                values.extend(kept);
                new.set(name.clone(), Some(k), values);
            }
            // Set by hand or given by another connector now: that value wins.
            Some(_) => {}
        }
    }
}

/// A retaining connector's account lists its hand-added numbers among its numbers: they are
/// appended to [`account::NUMBERS`] when that connector gives it (or, on an entry it only holds,
/// when its import flows give that attribute), so that export flows listing the numbers list
/// them too. Numbers set by hand or given by another connector are left as they are.
pub(super) fn add_hand_numbers(
    rules: &EnterpriseRules,
    links: &[StagedObject],
    new: &mut EntryAttrs,
) {
    if account::hand_added_numbers(new).is_empty() {
        return;
    }
    let gives_numbers = |k: i64| {
        rules.connector(k).is_some_and(|c| {
            c.connector.capabilities().retains_referenced_numbers
                && c.import_flows
                    .iter()
                    .any(|(name, _)| name == account::NUMBERS)
        })
    };
    let k = match new.source(account::NUMBERS) {
        Some(Some(k)) if retains(rules, k) => k,
        Some(_) => return,
        None => match links
            .iter()
            .map(|s| s.connector_id)
            .find(|k| gives_numbers(*k))
        {
            Some(k) => k,
            None => return,
        },
    };
    let mut values = new.get(account::NUMBERS).to_vec();
    let missing: Vec<String> = account::hand_added_numbers(new)
        .iter()
        .filter(|n| !values.contains(n))
        .cloned()
        .collect();
    if missing.is_empty() {
        return;
    }
    values.extend(missing);
    new.set(account::NUMBERS, Some(k), values);
}
