//! The planner: which schedules are due now, with time read from an injected [`Clock`] so tests
//! drive it through daylight-saving changes without waiting.
//!
//! - A slot missed while the server was down gives at most one catch-up run at start, never one
//!   per missed slot; a schedule that never ran has nothing to catch up.
//! - When the clock jumps over several slots (a suspended laptop), they collapse into one.
//! - Disabled schedules are never due; enabling one starts from the next slot.
//! - Whether a due run may start (no overlapping runs of one connector) is the runner's
//!   decision: it records a skip instead.

use std::collections::BTreeMap;
use std::sync::Mutex;

use jiff::Timestamp;

use ucsync_model::schedule::Schedule;

/// Where time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(t: Timestamp) -> Self {
        Self(Mutex::new(t))
    }

    pub fn set(&self, t: Timestamp) {
        match self.0.lock() {
            Ok(mut g) => *g = t,
            Err(poisoned) => *poisoned.into_inner() = t,
        }
    }

    pub fn advance(&self, by: jiff::SignedDuration) {
        let t = self.now();
        self.set(t.checked_add(by).unwrap_or(t));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        match self.0.lock() {
            Ok(g) => *g,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

/// A schedule that is due: its slot (the time it was due) and whether it catches up a slot
/// missed while the server was down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub id: String,
    pub slot: Timestamp,
    pub catch_up: bool,
}

struct Entry {
    schedule: Schedule,
    enabled: bool,
    next: Option<Timestamp>,
    /// A catch-up run owed since the start.
    owed: Option<Timestamp>,
}

#[derive(Default)]
pub struct Planner {
    entries: BTreeMap<String, Entry>,
}

impl Planner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a schedule. `last_slot` is the slot it last fired for (kept in the
    /// store); when a later slot passed before `now`, one catch-up run is owed.
    pub fn set(
        &mut self,
        id: &str,
        schedule: Schedule,
        enabled: bool,
        last_slot: Option<Timestamp>,
        now: Timestamp,
    ) {
        let missed = schedule.last_at_or_before(now);
        let owed = match (enabled, last_slot, missed) {
            (true, Some(last), Some(missed)) if missed > last => Some(missed),
            _ => None,
        };
        let next = enabled.then(|| schedule.next_after(now)).flatten();
        self.entries.insert(
            id.to_owned(),
            Entry {
                schedule,
                enabled,
                next,
                owed,
            },
        );
    }

    pub fn remove(&mut self, id: &str) {
        self.entries.remove(id);
    }

    /// The next time schedule `id` is due, if it is enabled.
    pub fn next_due(&self, id: &str) -> Option<Timestamp> {
        self.entries
            .get(id)
            .and_then(|e| e.owed.or(e.next).filter(|_| e.enabled))
    }

    /// The earliest time any schedule is due: when to wake up.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.entries.keys().filter_map(|id| self.next_due(id)).min()
    }

    /// The schedules due at `now`, each once, and each moved on to its next slot after `now`.
    pub fn due(&mut self, now: Timestamp) -> Vec<Due> {
        let mut out = Vec::new();
        for (id, e) in &mut self.entries {
            if !e.enabled {
                continue;
            }
            if let Some(slot) = e.owed.take() {
                out.push(Due {
                    id: id.clone(),
                    slot,
                    catch_up: true,
                });
                e.next = e.schedule.next_after(now);
                continue;
            }
            let Some(next) = e.next.filter(|n| *n <= now) else {
                continue;
            };
            // Several slots passed at once (the clock jumped): the latest one counts, once.
            let slot = e.schedule.last_at_or_before(now).unwrap_or(next).max(next);
            out.push(Due {
                id: id.clone(),
                slot,
                catch_up: false,
            });
            e.next = e.schedule.next_after(now);
        }
        out
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
