//! Asking a running run to stop at its next batch boundary (a server shutting down).
//!
//! A [`Stop`] is only a flag: import, sync and export look at it after a batch has been handed
//! to the store and before the next one starts, and sync-now looks at it before every step. It
//! never interrupts a batch, so a stopped run leaves exactly the committed batches behind and
//! the next run continues from there. This module knows nothing of signals or of the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a run stopped on request says in its record.
pub(crate) const STOPPED: &str = "stopped at a batch boundary because ucsync is shutting down; \
     the next run continues from the last committed batch";

/// A request to stop, shared by whoever asks (a signal handler) and the runs that honour it.
/// Cheap to clone: every clone is the same flag. The default one is never requested unless a
/// clone of it is.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every run holding this flag (or a clone) to stop at its next batch boundary. Stays
    /// requested: runs started afterwards stop before they change anything.
    pub fn request(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}
