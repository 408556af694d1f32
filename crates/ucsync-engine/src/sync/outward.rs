//! From the directory outward: for every touched entry and every connector that exports,
//! export flows on linked objects, provisioning where a target has none, deprovisioning where
//! the entry is gone. The result is pending exports in the staging spaces.

use std::collections::{BTreeMap, BTreeSet};

use ucsync_model::attrs::{hash_bytes, object_hash};
use ucsync_model::config::DeprovisionAction;
use ucsync_model::expr::Lookup;
use ucsync_model::{Attrs, EntryAttrs, ExportOp};
use ucsync_store::{EntryWrite, ObjectOutcome, StagedInsert, StagedObject, SyncBatch};

use super::{Batch, HashMap, HashSet};
use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx};

/// Targets whose staging space was empty when the sync step began, with the anchors this
/// step's batches have provisioned there since. An anchor of such a target that no batch has
/// provisioned cannot be in the store, so provisioning does not look it up: on a first sync
/// into an empty target that saves a store look-up per object. Only runs of the enterprise
/// change its targets' staging spaces, and one runs at a time.
#[derive(Default)]
pub(crate) struct FreshTargets {
    /// Hashes of the anchors provisioned: a collision only costs a look-up.
    provisioned: HashMap<i64, HashSet<i64>>,
}

impl FreshTargets {
    pub async fn find(ctx: &RunCtx<'_>) -> Result<Self, EngineError> {
        let mut fresh = FreshTargets::default();
        for t in ctx.rules.connectors.iter().filter(|t| t.exports()) {
            if ctx.store.staging_is_empty(t.id).await? {
                fresh.provisioned.insert(t.id, HashSet::default());
            }
        }
        Ok(fresh)
    }

    fn surely_absent(&self, target: i64, anchor: &str) -> bool {
        self.provisioned
            .get(&target)
            .is_some_and(|taken| !taken.contains(&hash_bytes(anchor.as_bytes())))
    }

    /// Records the objects a batch provisions, once it goes to the store.
    pub fn note(&mut self, batch: &SyncBatch) {
        for s in &batch.staged_inserts {
            if let Some(taken) = self.provisioned.get_mut(&s.connector_id) {
                taken.insert(hash_bytes(s.anchor.as_bytes()));
            }
        }
    }
}

/// An entry as one target connector sees it: references are that connector's anchors.
struct TargetView<'a> {
    entry: &'a EntryAttrs,
    refs: HashMap<&'a str, Vec<String>>,
}

impl Lookup for TargetView<'_> {
    fn values(&self, name: &str) -> &[String] {
        match self.refs.get(name) {
            Some(v) => v,
            None => self.entry.get(name),
        }
    }
}

fn view<'a>(
    entry: &'a EntryAttrs,
    refs: &'a BTreeSet<String>,
    target: i64,
    anchors: &HashMap<(i64, i64), String>,
) -> TargetView<'a> {
    let mut map = HashMap::default();
    for r in refs {
        let values = entry.get(r);
        if values.is_empty() {
            continue;
        }
        let translated = values
            .iter()
            .filter_map(|v| v.parse::<i64>().ok())
            .filter_map(|e| anchors.get(&(e, target)).cloned())
            .collect();
        map.insert(r.as_str(), translated);
    }
    TargetView { entry, refs: map }
}

/// The state a target object should hold: `base` with the flowed values set, leaving out the
/// attributes the target does not keep for objects of this type (they would never read back,
/// and every later sync would compute a change that writes nothing).
fn apply_flows(
    t: &ConnectorCtx,
    object_type: &str,
    base: Option<&Attrs>,
    entry: &dyn Lookup,
) -> Attrs {
    let flowed = t
        .export_flows
        .iter()
        .filter(|(name, _)| t.connector.keeps(object_type, name))
        .map(|(name, expr)| (name.clone(), expr.eval(entry)));
    match base {
        None => flowed.collect(),
        Some(base) => {
            let mut desired = base.clone();
            for (name, values) in flowed {
                desired.set(name, values);
            }
            desired
        }
    }
}

fn out(
    t: &ConnectorCtx,
    anchor: &str,
    object_type: &str,
    action: &str,
    message: Option<String>,
) -> ObjectOutcome {
    ObjectOutcome {
        connector: t.name.clone(),
        object: anchor.to_owned(),
        object_type: object_type.to_owned(),
        action: action.into(),
        message,
        changes: Vec::new(),
    }
}

/// Sets the pending export of a linked object so that the target ends up holding `desired`.
fn pend(b: &mut Batch, t: &ConnectorCtx, s: &StagedObject, desired: Attrs, rec: &Recorder) {
    let sets = t.connector.values_are_sets();
    let holds = |state: Option<&Attrs>| {
        state.is_some_and(|a| *a == desired || (sets && a.same_values(&desired)))
    };
    if holds(s.target_state()) {
        return;
    }
    let w = b.write(s);
    let mut o = out(t, &s.anchor, &s.object_type, "", None);
    if holds(s.attrs.as_ref()) {
        w.export = Some(None);
        o.action = "export-cancelled".into();
    } else {
        let op = if s.attrs.is_none() {
            ExportOp::Add
        } else {
            ExportOp::Update
        };
        if op == ExportOp::Update || rec.preview {
            o.changes = s.attrs.clone().unwrap_or_default().diff(&desired);
        }
        let encoded = desired.encode();
        let hash = object_hash(&s.object_type, &encoded);
        w.export = Some(Some((op, encoded, hash)));
        o.action = if op == ExportOp::Add {
            "pending-add"
        } else {
            "pending-update"
        }
        .into();
    }
    b.outcomes.push(o);
}

pub(super) async fn push(
    ctx: &RunCtx<'_>,
    b: &mut Batch,
    rec: &mut Recorder,
    fresh: &FreshTargets,
) -> Result<(), EngineError> {
    let rules = ctx.rules;
    let targets: Vec<&ConnectorCtx> = rules
        .connectors
        .iter()
        .filter(|t| t.exports() && rules.retiring != Some(t.id))
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    // Anchors of the targets' objects for the entries that references point at.
    let mut anchors: HashMap<(i64, i64), String> = HashMap::default();
    if !rules.references.is_empty() {
        let mut referenced: BTreeSet<i64> = BTreeSet::new();
        for e in &b.touched {
            if let Some(st) = b.entries.get(e) {
                for r in &rules.references {
                    referenced.extend(st.new.get(r).iter().filter_map(|v| v.parse::<i64>().ok()));
                }
            }
        }
        let ids: Vec<i64> = referenced.into_iter().collect();
        for s in b.reads.links_by_entries(ctx.store, &ids).await? {
            if let Some(e) = s.entry_id {
                anchors.insert((e, s.connector_id), s.anchor);
            }
        }
        for (e, list) in &b.links {
            for s in list {
                anchors.insert((*e, s.connector_id), s.anchor.clone());
            }
        }
    }

    // Provisioning: the anchors new objects will have, checked against what targets hold.
    // entry, target index, type, anchor, desired state (final unless references need anchors)
    let mut plans: Vec<(i64, usize, String, String, Attrs)> = Vec::new();
    let mut wanted: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let touched: Vec<i64> = b.touched.iter().copied().collect();
    for e in touched {
        let Some(st) = b.entries.get(&e) else {
            continue;
        };
        if st.deleted {
            continue;
        }
        let linked = b.links.get(&e).map(Vec::as_slice).unwrap_or(&[]);
        for (ti, t) in targets.iter().enumerate() {
            if linked.iter().any(|s| s.connector_id == t.id) {
                continue;
            }
            let Some(p) = t.provisioning_for(&st.object_type, &st.new) else {
                continue;
            };
            let desired = apply_flows(
                t,
                &p.object_type,
                None,
                &view(&st.new, &rules.references, t.id, &anchors),
            );
            match t.connector.anchor_for(&p.object_type, &desired) {
                Ok(anchor) => {
                    if !rules.references.is_empty() {
                        anchors.insert((e, t.id), anchor.clone());
                    }
                    if !fresh.surely_absent(t.id, &anchor) {
                        wanted.entry(t.id).or_default().push(anchor.clone());
                    }
                    plans.push((e, ti, p.object_type.clone(), anchor, desired));
                }
                Err(msg) => rec.error(
                    &t.name,
                    &format!("entry:{e}"),
                    &p.object_type,
                    format!(
                        "entry {e} cannot be provisioned: {msg}; add an export flow that fills it"
                    ),
                ),
            }
        }
    }
    let mut existing: HashMap<i64, HashMap<String, StagedObject>> = HashMap::default();
    for (t, list) in &wanted {
        let found = existing.entry(*t).or_default();
        for s in b.reads.staged_by_anchors(ctx.store, *t, list).await? {
            found.insert(s.anchor.clone(), s);
        }
    }
    // A new anchor that an earlier plan of this batch already takes.
    let taken: Vec<bool> = {
        let mut seen: HashSet<(i64, &str)> =
            HashSet::with_capacity_and_hasher(plans.len(), Default::default());
        plans
            .iter()
            .map(|(_, ti, _, anchor, _)| {
                let t = targets[*ti].id;
                let new = existing
                    .get(&t)
                    .is_none_or(|found| !found.contains_key(anchor));
                new && !seen.insert((t, anchor.as_str()))
            })
            .collect()
    };
    for ((e, ti, object_type, anchor, planned_state), taken) in plans.into_iter().zip(taken) {
        let t = targets[ti];
        match existing.get(&t.id).and_then(|found| found.get(&anchor)) {
            Some(s) if s.entry_id.is_some_and(|x| x != e) && !b.deletes.contains(&s.id) => rec.error(
                &t.name,
                &anchor,
                &object_type,
                format!(
                    "entry {e} would be provisioned as \"{anchor}\", but that object is linked to entry {}; make the anchor attributes unique",
                    s.entry_id.unwrap_or_default()
                ),
            ),
            Some(s) => {
                // The target already has it (e.g. an object left after a deprovisioning): adopt.
                let mut adopted = s.clone();
                adopted.entry_id = Some(e);
                b.write(s).entry_id = Some(e);
                b.links.entry(e).or_default().push(adopted);
                b.outcomes.push(out(t, &anchor, &object_type, "adopted", Some(format!("linked to entry {e}"))));
            }
            None if taken => rec.error(
                &t.name,
                &anchor,
                &object_type,
                format!("entry {e} would be provisioned as \"{anchor}\", which another entry of this batch takes; make the anchor attributes unique"),
            ),
            None => {
                // With references, flow again now that every new object's anchor is known.
                let desired = match b.entries.get(&e) {
                    Some(st) if !rules.references.is_empty() => {
                        apply_flows(t, &object_type, None, &view(&st.new, &rules.references, t.id, &anchors))
                    }
                    _ => planned_state,
                };
                let export_attrs = desired.encode();
                let export_hash = object_hash(&object_type, &export_attrs);
                let mut o = out(t, &anchor, &object_type, "provisioned", Some(format!("from entry {e}")));
                if rec.preview {
                    o.changes = Attrs::new().diff(&desired);
                }
                b.outcomes.push(o);
                b.inserts.push(StagedInsert {
                    connector_id: t.id,
                    anchor,
                    object_type,
                    entry_id: e,
                    export_attrs,
                    export_hash,
                });
            }
        }
    }

    // Export flows on linked objects, deprovisioning for deleted entries. What each linked
    // object needs is decided from the batch as it stands, and only objects with something
    // to write are copied out of it.
    let touched: Vec<i64> = b.touched.iter().copied().collect();
    for e in touched {
        let Some(st) = b.entries.get(&e) else {
            continue;
        };
        let mut work: Vec<(StagedObject, Option<Attrs>)> = Vec::new();
        for s in b.links.get(&e).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(t) = rules.connector(s.connector_id) else {
                continue;
            };
            if b.deletes.contains(&s.id) {
                continue;
            }
            if st.deleted {
                work.push((s.clone(), None));
            } else if !t.export_flows.is_empty() {
                let base = s.target_state().or(s.attrs.as_ref());
                let entry = view(&st.new, &rules.references, t.id, &anchors);
                work.push((
                    s.clone(),
                    Some(apply_flows(t, &s.object_type, base, &entry)),
                ));
            }
        }
        for (s, desired) in work {
            let Some(t) = rules.connector(s.connector_id) else {
                continue;
            };
            match desired {
                Some(desired) => pend(b, t, &s, desired, rec),
                // Only targets are deprovisioned; a connector that merely gives values is
                // never written, its object is only disconnected.
                None if t.exports() => deprovision(b, t, &s),
                None => b.write(&s).entry_id = None,
            }
        }
    }
    Ok(())
}

fn deprovision(b: &mut Batch, t: &ConnectorCtx, s: &StagedObject) {
    let present = s.attrs.is_some();
    let d = &t.deprovisioning;
    let mut o = out(t, &s.anchor, &s.object_type, "deprovisioned", None);
    match d.action {
        _ if !present => {
            b.deletes.insert(s.id);
            o.message = Some("never exported; dropped".into());
        }
        DeprovisionAction::Delete => {
            let w = b.write(s);
            w.entry_id = None;
            w.export = Some(Some((ExportOp::Delete, Attrs::new().encode(), 0)));
            o.action = "pending-delete".into();
        }
        DeprovisionAction::Disable => {
            let mut desired = s.attrs.clone().unwrap_or_default();
            desired.set_one(
                d.attribute.clone().unwrap_or_default(),
                d.value.clone().unwrap_or_default(),
            );
            let w = b.write(s);
            w.entry_id = None;
            if s.attrs.as_ref() != Some(&desired) {
                o.changes = s.attrs.clone().unwrap_or_default().diff(&desired);
                let encoded = desired.encode();
                let hash = object_hash(&s.object_type, &encoded);
                w.export = Some(Some((ExportOp::Update, encoded, hash)));
            } else {
                w.export = Some(None);
            }
            o.message = Some(format!(
                "disabled: {} = {}",
                d.attribute.as_deref().unwrap_or(""),
                d.value.as_deref().unwrap_or("")
            ));
        }
        DeprovisionAction::Disconnect => {
            let w = b.write(s);
            w.entry_id = None;
            w.export = Some(None);
            o.message = Some("disconnected; the object stays in the target".into());
        }
    }
    b.outcomes.push(o);
}

/// The batch as the store writes it, with entry outcomes and join keys.
pub(super) fn into_store_batch(ctx: &RunCtx<'_>, mut b: Batch, rec: &mut Recorder) -> SyncBatch {
    let rules = ctx.rules;
    let mut batch = SyncBatch {
        enterprise_id: rules.id,
        ..SyncBatch::default()
    };
    for (id, st) in &b.entries {
        if !st.changed() {
            continue;
        }
        let (action, changes) = if st.deleted {
            ("entry-deleted", Vec::new())
        } else if st.old.is_none() {
            (
                "entry-added",
                if rec.preview {
                    Attrs::new().diff(&st.new.to_attrs())
                } else {
                    Vec::new()
                },
            )
        } else {
            let old = st.old.as_ref().map(|o| o.to_attrs()).unwrap_or_default();
            ("entry-updated", old.diff(&st.new.to_attrs()))
        };
        // A new entry is told by its object's "projected" outcome; a preview also shows values.
        if st.old.is_some() || rec.preview {
            rec.outcome(ObjectOutcome {
                connector: String::new(),
                object: format!("entry:{id}"),
                object_type: st.object_type.clone(),
                action: action.into(),
                message: None,
                changes,
            });
        }
        let old_keys = st
            .old
            .as_ref()
            .map(|o| rules.entry_keys(o))
            .unwrap_or_default();
        let new_keys = if st.deleted {
            Vec::new()
        } else {
            rules.entry_keys(&st.new)
        };
        batch.stale_keys.extend(
            old_keys
                .iter()
                .filter(|k| !new_keys.contains(k))
                .map(|k| (*k, *id)),
        );
        if st.deleted {
            if st.old.is_some() {
                batch.deleted_entries.push(*id);
            }
        } else {
            batch.entries.push(EntryWrite {
                id: *id,
                enterprise_id: rules.id,
                object_type: st.object_type.clone(),
                attrs: st.new.encode(),
                keys: new_keys
                    .into_iter()
                    .filter(|k| !old_keys.contains(k))
                    .collect(),
                is_new: st.old.is_none(),
            });
        }
    }
    rec.append(&mut b.outcomes);
    batch.entries.sort_by_key(|e| e.id);
    batch.staged = b
        .writes
        .into_values()
        .filter(|w| !b.deletes.contains(&w.id))
        .collect();
    batch.staged.sort_by_key(|w| w.id);
    batch.staged_inserts = b.inserts;
    batch.staged_deletes = b.deletes.into_iter().collect();
    batch.outcomes = rec.take();
    batch
}
