//! The anchor index of an import: every anchor of the connector's staging space and of the
//! import so far, with what the import knows of its object. It is read whole when the import
//! starts, or, for a delta of a connector that reads only what changed in a large staging
//! space, filled by looking up the anchors the connector names, so that its cost follows the
//! changes; the rest is read if a listing ends, or once many were looked up.

use std::collections::{HashMap, HashSet};

use ucsync_model::SinkError;
use ucsync_store::{AnchorInfo, Store};

/// From how many staged objects a delta import of a connector that reads only what changed
/// looks up the anchors it is given rather than reading the whole index (about 50 ms then).
pub(crate) const LOOK_UP_FROM: i64 = 50_000;

/// Anchors looked up one by one before the whole index is read instead. A look-up is a round
/// trip to the store's thread (about 16 µs); the index costs about 1 µs an anchor: 20,000
/// look-ups made the delta of a communities connector (15,000 objects of 30,000 staged) twice
/// as slow as reading the index. After 2,000 the cost stays within some 30 ms of the index's.
const LOOK_UPS: usize = 2_000;

/// Anchors looked up together ([`ucsync_model::ImportSink::expect`]) that count as one looked up
/// alone: a peer's delta of 1,000 contacts of 300,000 staged took 43 ms of the store's thread
/// looked up one by one, 4 ms together (the delta's import step 0.10–0.15 → 0.06–0.07 s).
pub(crate) const EXPECTED_PER_LOOK_UP: usize = 4;

/// Anchors come from the source, so the hasher is foldhash's seeded one that resists crafted
/// keys, rather than the slower SipHash of the standard map: a first import of a million
/// objects inserts a million.
type Slots = HashMap<Box<str>, Slot, foldhash::quality::RandomState>;

pub(crate) struct Slot {
    pub id: Option<i64>,
    pub hash: i64,
    pub present: bool,
    pub seen: bool,
    /// Named unchanged by the source (`present`) and counted so; its content may still follow
    /// (an RFC 4533 present phase names every entry, then sends the changed ones).
    pub named: bool,
}

impl Slot {
    /// The slot of a staged object, not seen yet.
    pub fn of(a: AnchorInfo) -> (Box<str>, Slot) {
        let slot = Slot {
            id: Some(a.id),
            hash: a.hash,
            present: a.present,
            seen: false,
            named: false,
        };
        (a.anchor.into_boxed_str(), slot)
    }
}

/// The slots by anchor (the index dereferences to them), and how complete they are.
pub(crate) struct AnchorIndex {
    slots: Slots,
    /// Whether `slots` holds every staged anchor.
    complete: bool,
    /// Anchors looked up one by one so far (or as many, for those looked up together).
    looked_up: usize,
    /// Anchors looked up and not staged, so as not to look them up again when they come.
    absent: HashSet<Box<str>>,
}

impl AnchorIndex {
    /// Every staged anchor, read.
    pub fn read(all: Vec<AnchorInfo>) -> Self {
        AnchorIndex {
            slots: all.into_iter().map(Slot::of).collect(),
            complete: true,
            looked_up: 0,
            absent: HashSet::new(),
        }
    }

    /// None yet: anchors are looked up as the connector names them.
    pub fn lazy() -> Self {
        AnchorIndex {
            complete: false,
            ..Self::read(Vec::new())
        }
    }

    /// Makes sure the index has the slots of `anchors` that are staged, looked up together;
    /// `per_look_up` of those not known yet count as one look-up made alone.
    pub async fn look_up(
        &mut self,
        store: &dyn Store,
        connector_id: i64,
        anchors: &[&str],
        per_look_up: usize,
    ) -> Result<(), SinkError> {
        if self.complete {
            return Ok(());
        }
        let mut wanted: Vec<String> = anchors
            .iter()
            .filter(|a| {
                !a.is_empty() && !self.slots.contains_key(**a) && !self.absent.contains(**a)
            })
            .map(|a| (*a).to_owned())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        wanted.sort_unstable();
        wanted.dedup();
        self.looked_up += wanted.len().div_ceil(per_look_up);
        if self.looked_up > LOOK_UPS {
            return self.complete(store, connector_id).await;
        }
        let found = store
            .anchor_infos(connector_id, &wanted)
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        self.slots.extend(found.into_iter().map(Slot::of));
        for anchor in wanted {
            if !self.slots.contains_key(anchor.as_str()) {
                self.absent.insert(anchor.into_boxed_str());
            }
        }
        Ok(())
    }

    /// Reads the rest: every staged anchor not looked up yet.
    pub async fn complete(
        &mut self,
        store: &dyn Store,
        connector_id: i64,
    ) -> Result<(), SinkError> {
        if self.complete {
            return Ok(());
        }
        let all = store
            .anchor_index(connector_id)
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        for a in all {
            let (anchor, slot) = Slot::of(a);
            self.slots.entry(anchor).or_insert(slot);
        }
        self.complete = true;
        Ok(())
    }
}

impl std::ops::Deref for AnchorIndex {
    type Target = Slots;
    fn deref(&self) -> &Slots {
        &self.slots
    }
}

impl std::ops::DerefMut for AnchorIndex {
    fn deref_mut(&mut self) -> &mut Slots {
        &mut self.slots
    }
}
