//! Progress reporting: the engine says what it is doing, the CLI draws it (or not).

/// Receives progress of long steps.
pub trait Progress: Send + Sync {
    /// A step starts; `total` when known.
    fn start(&self, label: &str, total: Option<u64>);
    /// `n` more objects done in the current step.
    fn advance(&self, n: u64);
    /// The current step ended.
    fn finish(&self);
}

/// Draws nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _label: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}
