//! From staged objects into the directory: scope, join, projection, then each touched entry's
//! attributes recomputed from all its linked objects by precedence. What the number-retention
//! rule keeps is [`retention`]'s.

mod references;
mod retention;

use std::collections::{BTreeMap, BTreeSet};

use ucsync_model::{Attrs, EntryAttrs};
use ucsync_store::{ObjectOutcome, StagedObject, SyncState};

use super::{Batch, EntryState, HashMap};
use crate::EngineError;
use crate::rules::{ConnectorCtx, EnterpriseRules};
use crate::run::{Recorder, RunCtx};

fn outcome(c: &ConnectorCtx, s: &StagedObject, action: &str, message: String) -> ObjectOutcome {
    ObjectOutcome {
        connector: c.name.clone(),
        object: s.anchor.clone(),
        object_type: s.object_type.clone(),
        action: action.into(),
        message: Some(message),
        changes: Vec::new(),
    }
}

enum Decision {
    Join(i64, String),
    Ambiguous(String),
    None,
}

/// Reads entries and all their linked objects into the batch.
async fn load_entries(ctx: &RunCtx<'_>, b: &mut Batch, ids: &[i64]) -> Result<(), EngineError> {
    for e in b.reads.entries_by_ids(ctx.store, ids).await? {
        b.entries.insert(
            e.id,
            EntryState {
                object_type: e.object_type,
                new: e.attrs.clone(),
                old: Some(e.attrs),
                deleted: false,
            },
        );
    }
    for s in b.reads.staged_by_entries(ctx.store, ids).await? {
        if let Some(e) = s.entry_id {
            b.links.entry(e).or_default().push(s);
        }
    }
    Ok(())
}

/// Decides, for each object, what it does to the directory: disconnect, stay linked, join,
/// project, or nothing. An object that joins or projects moves into the batch's links.
pub(super) async fn decide(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    objects: Vec<StagedObject>,
    next_entry_id: &mut i64,
    b: &mut Batch,
    rec: &mut Recorder,
) -> Result<(), EngineError> {
    let rules = ctx.rules;
    // Join keys of the unlinked objects in scope, looked up all at once.
    let mut wanted: Vec<i64> = Vec::new();
    for s in &objects {
        if let (None, Some(attrs), SyncState::Changed | SyncState::Clean) =
            (s.entry_id, &s.attrs, s.sync_state)
            && c.in_scope(attrs)
        {
            for j in &c.join {
                wanted.extend(
                    j.staged
                        .eval(attrs)
                        .iter()
                        .map(|v| rules.key_hash(&j.directory, v)),
                );
            }
        }
    }
    let mut by_key: HashMap<i64, Vec<i64>> = HashMap::default();
    if !wanted.is_empty() {
        for (k, e) in b.reads.entries_by_keys(ctx.store, &wanted).await? {
            by_key.entry(k).or_default().push(e);
        }
    }
    let mut load: BTreeSet<i64> = objects.iter().filter_map(|s| s.entry_id).collect();
    load.extend(by_key.values().flatten().copied());
    let ids: Vec<i64> = load.into_iter().collect();
    load_entries(ctx, b, &ids).await?;

    for owned in objects {
        let s = &owned;
        let gone = s.sync_state == SyncState::Deleted;
        let Some(attrs) = s.attrs.as_ref().filter(|_| !gone) else {
            if gone {
                if let Some(e) = s.entry_id {
                    b.unlink(e, s.id);
                    rec.counters.deleted += 1;
                    b.outcomes.push(outcome(
                        c,
                        s,
                        "disconnected",
                        format!("deleted in the source; was linked to entry {e}"),
                    ));
                }
                b.deletes.insert(s.id);
            }
            // A provisioned object not exported yet has nothing to give the directory.
            continue;
        };
        if !c.in_scope(attrs) {
            if let Some(e) = s.entry_id {
                b.unlink(e, s.id);
                b.write(s).entry_id = None;
                rec.counters.deleted += 1;
                b.outcomes.push(outcome(
                    c,
                    s,
                    "disconnected",
                    format!("out of scope; was linked to entry {e}"),
                ));
            } else {
                if s.sync_error.is_some() {
                    // Out of scope, it is no longer joined: a join error of it is over.
                    b.write(s).sync_error = None;
                }
                rec.counters.unchanged += 1;
            }
            continue;
        }
        if let Some(e) = s.entry_id {
            b.touched.insert(e);
            b.linked.push(e);
            continue;
        }
        match find_join(ctx, c, s, attrs, &by_key, b) {
            Decision::Join(e, how) => {
                let w = b.write(s);
                w.entry_id = Some(e);
                w.sync_error = None;
                rec.counters.updated += 1;
                b.outcomes
                    .push(outcome(c, s, "joined", format!("joined entry {e} ({how})")));
                b.links.entry(e).or_default().push(linked(owned, e));
                b.touched.insert(e);
            }
            Decision::Ambiguous(msg) => {
                let w = b.write(s);
                w.sync_error = Some(msg.clone());
                w.sync_state = Some(SyncState::Changed);
                rec.error(&c.name, &s.anchor, &s.object_type, msg);
            }
            Decision::None => match c.projection.get(&s.object_type) {
                Some(entry_type) => {
                    let e = *next_entry_id;
                    *next_entry_id += 1;
                    // What the connector gives every new entry is the entry's own from now on.
                    let mut initial = EntryAttrs::new();
                    for (name, values) in c.connector.initial_values(&s.object_type).iter() {
                        initial.set(name.clone(), None, values.clone());
                    }
                    b.entries.insert(
                        e,
                        EntryState {
                            object_type: entry_type.clone(),
                            old: None,
                            new: initial,
                            deleted: false,
                        },
                    );
                    let w = b.write(s);
                    w.entry_id = Some(e);
                    w.sync_error = None;
                    rec.counters.added += 1;
                    b.outcomes.push(outcome(
                        c,
                        s,
                        "projected",
                        format!("new {entry_type} entry {e}"),
                    ));
                    b.links.insert(e, vec![linked(owned, e)]);
                    b.touched.insert(e);
                }
                None => {
                    b.write(s).sync_error = None;
                    rec.counters.unchanged += 1;
                }
            },
        }
    }
    Ok(())
}

/// The object as linked to entry `e`.
fn linked(mut s: StagedObject, e: i64) -> StagedObject {
    s.entry_id = Some(e);
    s
}

fn find_join(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    s: &StagedObject,
    attrs: &Attrs,
    by_key: &HashMap<i64, Vec<i64>>,
    b: &Batch,
) -> Decision {
    for (i, j) in c.join.iter().enumerate() {
        let mut found: BTreeMap<i64, String> = BTreeMap::new();
        for v in j.staged.eval(attrs) {
            let key = ctx.rules.key_hash(&j.directory, &v);
            for e in by_key.get(&key).into_iter().flatten() {
                let Some(entry) = b.entries.get(e) else {
                    continue;
                };
                let hit = entry.new.get(&j.directory).iter().any(|x| {
                    if j.ignore_case {
                        x.to_lowercase() == v.to_lowercase()
                    } else {
                        *x == v
                    }
                });
                if hit {
                    found.insert(*e, v.clone());
                }
            }
        }
        match found.len() {
            0 => continue,
            1 => {
                let Some((e, v)) = found.into_iter().next() else {
                    continue;
                };
                // An object the number-retention rule only holds the entry with gives way.
                let taken = b.links.get(&e).and_then(|l| {
                    l.iter().find(|o| {
                        o.connector_id == c.id && o.id != s.id && !retention::is_held(ctx.rules, o)
                    })
                });
                if let Some(other) = taken {
                    return Decision::Ambiguous(format!(
                        "join rule {} matches entry {e} ({} = \"{v}\"), which is already linked to \"{}\" of this connector; make the source values unique or remove one of the objects",
                        i + 1,
                        j.directory,
                        other.anchor
                    ));
                }
                return Decision::Join(e, format!("rule {}: {} = \"{v}\"", i + 1, j.directory));
            }
            _ => {
                let list: Vec<String> = found
                    .iter()
                    .map(|(e, v)| format!("entry {e} ({} = \"{v}\")", j.directory))
                    .collect();
                return Decision::Ambiguous(format!(
                    "ambiguous join: rule {} matches {} entries: {}; nothing was joined — make the join attribute unique or add a more specific rule first",
                    i + 1,
                    found.len(),
                    list.join(", ")
                ));
            }
        }
    }
    Decision::None
}

/// Recomputes every touched entry from its linked objects: each connector's import flows,
/// references translated to entry ids, one source per attribute by precedence, hand-set values
/// kept. An entry no projecting connector links any more is deleted, unless the
/// number-retention rule keeps it ([`retention::settle`]).
pub(super) async fn recompute(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    b: &mut Batch,
    rec: &mut Recorder,
    which: &BTreeSet<i64>,
) -> Result<(), EngineError> {
    let rules = ctx.rules;
    let settled = retention::settle(ctx, c, b, rec, which).await?;
    // Contributions: entry → [(connector id, staged id, flowed attrs)].
    let mut contrib: BTreeMap<i64, Vec<(i64, i64, Attrs)>> = BTreeMap::new();
    let mut ref_anchors: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    for e in which {
        let mut list = Vec::new();
        for s in b.links.get(e).map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(k), Some(attrs)) = (rules.connector(s.connector_id), &s.attrs) else {
                continue;
            };
            if !k.in_scope(attrs) {
                continue;
            }
            let flowed = k.flow_in(attrs);
            for r in &rules.references {
                ref_anchors
                    .entry(k.id)
                    .or_default()
                    .extend(flowed.get(r).iter().cloned());
            }
            list.push((k.id, s.id, flowed));
        }
        contrib.insert(*e, list);
    }
    // References arrive as anchors of the same connector; the directory keeps entry ids.
    let targets = references::Targets::find(ctx, b, &ref_anchors).await?;
    for (e, list) in contrib {
        let Some(state) = b.entries.get_mut(&e) else {
            continue;
        };
        let sources = b.links.get(&e).map(Vec::as_slice).unwrap_or(&[]);
        if settled.doomed.contains(&e) {
            state.deleted = true;
            continue;
        }
        let given = list.iter().map(|(_, _, a)| a.len()).max().unwrap_or(0);
        let label = entry_label(&list, e);
        let mut new = EntryAttrs::with_capacity(given);
        // Hand-set values stay; a new entry's are the initial values of its projection.
        for (name, values) in state.old.as_ref().unwrap_or(&state.new).manual() {
            new.set(name.clone(), None, values.clone());
        }
        for (name, k, staged_id, mut values) in winners(rules, list, &new) {
            if rules.references.contains(name.as_str()) {
                let source = sources.iter().find(|s| s.id == staged_id);
                let mut translated = Vec::with_capacity(values.len());
                let mut unresolved = Vec::new();
                for v in values {
                    let old = state.old.as_ref();
                    match targets.resolve(k, v.clone(), &name, old, source, &mut rec.dropped) {
                        references::Resolved::Entry(target) => translated.push(target.to_string()),
                        references::Resolved::Dropped => {}
                        references::Resolved::Unresolved(who) => {
                            let kept = references::unresolved_attribute(&name);
                            let connector = rules.connector(k).map_or("", |k| k.name.as_str());
                            rec.outcome(ObjectOutcome {
                                connector: c.name.clone(),
                                object: format!("entry:{e}"),
                                object_type: state.object_type.clone(),
                                action: "warning".into(),
                                message: Some(format!("{label} {name} {who} matches no entry of the directory; it is kept in {kept}: add the person to the directory, or change the join rules of connector {connector}")),
                                changes: Vec::new(),
                            });
                            unresolved.push(who);
                        }
                        references::Resolved::Waiting => {
                            if let Some(s) = source
                                && s.connector_id == c.id
                            {
                                b.writes
                                    .entry(s.id)
                                    .or_insert_with(|| ucsync_store::StagedWrite {
                                        id: s.id,
                                        entry_id: s.entry_id,
                                        sync_state: None,
                                        sync_error: None,
                                        export: None,
                                    })
                                    .sync_state = Some(SyncState::Changed);
                            }
                            rec.outcome(ObjectOutcome {
                                connector: c.name.clone(),
                                object: format!("entry:{e}"),
                                object_type: state.object_type.clone(),
                                action: "warning".into(),
                                message: Some(format!("{name} refers to \"{v}\", which is not in the directory yet; it is retried at the next sync")),
                                changes: Vec::new(),
                            });
                        }
                    }
                }
                values = translated;
                if !unresolved.is_empty() {
                    new.set(references::unresolved_attribute(&name), Some(k), unresolved);
                }
            }
            new.set(name, Some(k), values);
        }
        if let Some(old) = &state.old {
            retention::retain_referenced(rules, old, &mut new);
        }
        retention::add_hand_numbers(rules, sources, &mut new);
        state.new = new;
    }
    settled.count(b, rec);
    Ok(())
}

/// How a warning names an entry: by the `name`, `displayName` or `cn` its objects give.
fn entry_label(list: &[(i64, i64, Attrs)], id: i64) -> String {
    let name = ["name", "displayName", "cn"]
        .iter()
        .find_map(|n| list.iter().find_map(|(_, _, a)| a.first(n)));
    match name {
        Some(n) => format!("entry {id} (\"{n}\"):"),
        None => format!("entry {id}:"),
    }
}

/// Which contribution gives each attribute, by precedence, with its values moved out of it:
/// (name, connector id, staged id, values). Attributes set by hand are left out; the
/// administrator's value wins.
fn winners(
    rules: &EnterpriseRules,
    mut list: Vec<(i64, i64, Attrs)>,
    new: &EntryAttrs,
) -> Vec<(String, i64, i64, Vec<String>)> {
    let eligible = |name: &str, k: i64| {
        new.source(name) != Some(None)
            && (!rules.precedence.contains_key(name) || rules.order_for(name).contains(&k))
    };
    if let [(k, staged_id, _)] = list.as_slice() {
        // One contribution (the usual case): its values move as they are.
        let (k, staged_id) = (*k, *staged_id);
        let attrs = list.pop().map(|(_, _, a)| a).unwrap_or_default();
        let mut out = Vec::with_capacity(attrs.len());
        out.extend(
            attrs
                .into_iter()
                .filter(|(name, _)| eligible(name, k))
                .map(|(name, values)| (name, k, staged_id, values)),
        );
        return out;
    }
    let names: BTreeSet<String> = list
        .iter()
        .flat_map(|(_, _, a)| a.names())
        .cloned()
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let order = rules.order_for(&name);
        let rank = |k: i64| order.iter().position(|x| *x == k).unwrap_or(usize::MAX);
        let best = list
            .iter_mut()
            .filter(|(k, _, a)| !a.get(&name).is_empty() && eligible(&name, *k))
            .min_by_key(|(k, _, _)| (rank(*k), *k));
        if let Some((k, staged_id, attrs)) = best {
            let values = attrs.remove(&name).unwrap_or_default();
            out.push((name, *k, *staged_id, values));
        }
    }
    out
}

/// Entries that refer to entries deleted in this batch are recomputed too, so that no
/// reference to a deleted entry stays behind.
pub(super) async fn referrers(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    b: &mut Batch,
    rec: &mut Recorder,
) -> Result<(), EngineError> {
    let rules = ctx.rules;
    if rules.references.is_empty() {
        return Ok(());
    }
    let mut handled: BTreeSet<i64> = BTreeSet::new();
    loop {
        let deleted: Vec<i64> = b
            .entries
            .iter()
            .filter(|(id, st)| st.deleted && st.old.is_some() && !handled.contains(*id))
            .map(|(id, _)| *id)
            .collect();
        if deleted.is_empty() {
            return Ok(());
        }
        handled.extend(&deleted);
        let keys: Vec<i64> = deleted
            .iter()
            .flat_map(|d| {
                rules
                    .references
                    .iter()
                    .map(move |r| rules.reference_key(r, &d.to_string()))
            })
            .collect();
        let ids: Vec<i64> = b
            .reads
            .entries_by_keys(ctx.store, &keys)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| !b.entries.contains_key(e))
            .collect::<BTreeSet<i64>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        load_entries(ctx, b, &ids).await?;
        let which: BTreeSet<i64> = ids.into_iter().collect();
        b.touched.extend(&which);
        recompute(ctx, c, b, rec, &which).await?;
    }
}
