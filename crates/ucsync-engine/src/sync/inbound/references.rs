//! Reference attributes on their way into the directory: the anchors a source connector stages
//! become the ids of the entries their objects are linked to. A reference whose object is gone
//! for good (deleted in the source, out of scope, or — for a connector whose references only
//! name objects it stages — no longer staged) is dropped and counted once in the sync's note;
//! one whose object has not been synced yet is kept waiting and retried at the next sync.

use std::collections::{BTreeMap, BTreeSet};

use ucsync_model::EntryAttrs;
use ucsync_store::{StagedObject, SyncState};

use super::super::{Batch, HashMap, HashSet};
use crate::EngineError;
use crate::run::{DroppedReferences, RunCtx};

/// Why a referenced object is not in the directory and will not come.
#[derive(Clone, Copy)]
struct Gone {
    /// Deleted in the source (else out of scope).
    deleted: bool,
    /// The entry it was linked to until this batch, which the referring entry loses now.
    entry: Option<i64>,
}

/// What each (connector, anchor) a batch's references name stands for.
#[derive(Default)]
pub(super) struct Targets {
    entries: HashMap<(i64, String), i64>,
    gone: HashMap<(i64, String), Gone>,
    /// Objects in the directory under no entry, of a connector that keeps references to them
    /// ([`ucsync_model::Connector::keeps_unresolved_references`]): how each is named.
    unresolved: HashMap<(i64, String), String>,
}

/// The attribute that holds the unresolved values of reference attribute `name`:
/// `member` → `unresolvedMember`.
pub(super) fn unresolved_attribute(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("unresolved{}{}", first.to_uppercase(), chars.as_str()),
        None => "unresolved".to_owned(),
    }
}

/// What became of one reference value.
pub(super) enum Resolved {
    Entry(i64),
    Dropped,
    /// Its object is staged but not synced yet: retried at the next sync.
    Waiting,
    /// Its object is in the directory under no entry, and kept by this name.
    Unresolved(String),
}

impl Targets {
    /// Looks up every anchor each connector's references name (`anchors`: connector id →
    /// anchors), as the store and this batch know them.
    pub async fn find(
        ctx: &RunCtx<'_>,
        b: &mut Batch,
        anchors: &BTreeMap<i64, BTreeSet<String>>,
    ) -> Result<Self, EngineError> {
        let mut t = Targets::default();
        for (k, anchors) in anchors {
            let anchors: Vec<String> = anchors.iter().cloned().collect();
            // A connector whose references name only objects it stages: an anchor staged no
            // more belongs to an object deleted or gone from its view since.
            let connector = ctx.rules.connector(*k).map(|c| &c.connector);
            let staged_only = connector.is_some_and(|c| c.references_name_staged_objects());
            let keeps_unresolved = connector.is_some_and(|c| c.keeps_unresolved_references());
            let mut unmatched = Vec::new();
            let mut unseen: HashSet<String> = if staged_only {
                anchors.iter().cloned().collect()
            } else {
                HashSet::default()
            };
            for s in b.reads.links_by_anchors(ctx.store, *k, &anchors).await? {
                unseen.remove(&s.anchor);
                // Objects and entries going away in this batch are no longer referable.
                let deleted = b.deletes.contains(&s.id) || s.sync_state == SyncState::Deleted;
                let entry_gone = s
                    .entry_id
                    .is_some_and(|e| b.entries.get(&e).is_some_and(|st| st.deleted));
                let key = (*k, s.anchor);
                match s.entry_id {
                    Some(e) if !deleted && !entry_gone => {
                        t.entries.insert(key, e);
                    }
                    entry if deleted || entry.is_some() => {
                        t.gone.insert(key, Gone { deleted, entry });
                    }
                    // Synced, and left out of the directory: out of scope, or joined and
                    // projected by no rule, until it changes in the source.
                    None if s.sync_state == SyncState::Clean && keeps_unresolved => {
                        unmatched.push(key.1);
                    }
                    None if s.sync_state == SyncState::Clean => {
                        let gone = Gone {
                            deleted: false,
                            entry: None,
                        };
                        t.gone.insert(key, gone);
                    }
                    _ => {}
                }
            }
            if let Some(connector) = connector.filter(|_| !unmatched.is_empty()) {
                // Rare (people who match nobody): named by their staged state.
                let staged = ctx.store.staged_by_anchors(*k, &unmatched).await?;
                for o in staged {
                    let name = o
                        .attrs
                        .as_ref()
                        .and_then(|a| connector.locator(&o.object_type, a))
                        .map_or_else(|| o.anchor.clone(), |l| format!("{l} ({})", o.anchor));
                    t.unresolved.insert((*k, o.anchor), name);
                }
            }
            for a in unseen {
                let gone = Gone {
                    deleted: true,
                    entry: None,
                };
                t.gone.insert((*k, a), gone);
            }
        }
        Ok(t)
    }

    /// What the value `v` of reference attribute `name` that connector `k` gives stands for.
    /// A dropped value is counted in `dropped` once: when the entry loses it now (`old` held
    /// its entry), or when the object that gives it changed in the source (`source`) and
    /// names it anew; not again at every sync that recomputes the entry.
    pub fn resolve(
        &self,
        k: i64,
        v: String,
        name: &str,
        old: Option<&EntryAttrs>,
        source: Option<&StagedObject>,
        dropped: &mut DroppedReferences,
    ) -> Resolved {
        let key = (k, v);
        if let Some(e) = self.entries.get(&key) {
            return Resolved::Entry(*e);
        }
        if let Some(name) = self.unresolved.get(&key) {
            return Resolved::Unresolved(name.clone());
        }
        let Some(gone) = self.gone.get(&key) else {
            return Resolved::Waiting;
        };
        let loses = gone
            .entry
            .is_some_and(|e| old.is_some_and(|o| o.get(name).iter().any(|x| *x == e.to_string())));
        let changed = source.is_some_and(|s| s.sync_state == SyncState::Changed);
        if loses || changed {
            if gone.deleted {
                dropped.deleted += 1;
            } else {
                dropped.out_of_scope += 1;
            }
        }
        tracing::debug!(
            attribute = name,
            value = key.1,
            deleted = gone.deleted,
            "reference dropped"
        );
        Resolved::Dropped
    }
}
