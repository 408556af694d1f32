//! Read-only queries for the server's reports: figures for `/metrics` (runs, pending work,
//! directory size) and the directory search of the API. Every query reads the last committed
//! state and writes nothing; none knows HTTP or the exposition format.

use async_trait::async_trait;

use crate::{Counters, Entry, Result};

/// Upper bounds (seconds) of the run duration histogram's buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
];

/// The runs of one kind (enterprise, connector, profile) in one status, added up.
#[derive(Debug, Clone, Default)]
pub struct RunGroup {
    pub enterprise: String,
    /// `None` for a Sync Now, which runs every connector of the enterprise.
    pub connector: Option<String>,
    pub profile: String,
    pub status: String,
    /// Started on their own (a Sync Now, or one profile on one connector), not as a step of a
    /// Sync Now.
    pub top_level: bool,
    pub runs: i64,
    /// The counters of these runs added up.
    pub counters: Counters,
    /// How many of them have ended.
    pub finished: i64,
    /// Their durations added up, in seconds.
    pub duration_sum: f64,
    /// For each bound of [`DURATION_BUCKETS`], how many ended runs took at most that long.
    pub duration_buckets: Vec<i64>,
    /// When the last of them ended (Unix seconds).
    pub last_end: Option<f64>,
}

/// Work waiting in one connector's staging space.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PendingWork {
    pub connector: String,
    pub enterprise: String,
    pub pending_sync: i64,
    pub pending_adds: i64,
    pub pending_updates: i64,
    pub pending_deletes: i64,
}

/// A directory search: entries of one enterprise after `after_id`, in id order.
#[derive(Debug, Clone, Default)]
pub struct EntrySearch {
    pub enterprise_id: i64,
    /// Only entries of this type.
    pub object_type: Option<String>,
    /// Only entries some of whose bytes may contain this text (see [`StatsStore::search_page`]).
    pub text: Option<String>,
    pub after_id: i64,
    pub limit: i64,
}

/// Read-only figures and lookups for reports.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Every run, grouped by enterprise, connector, profile, status and whether it was a step.
    async fn run_groups(&self) -> Result<Vec<RunGroup>>;
    /// Pending sync and export counts of every connector (read from the partial indexes).
    async fn pending_work(&self) -> Result<Vec<PendingWork>>;
    /// Directory entries per enterprise (name, count), every enterprise the store knows.
    async fn entry_counts(&self) -> Result<Vec<(String, i64)>>;
    /// The id of an enterprise, if the store knows it (without recording it).
    async fn enterprise_id(&self, name: &str) -> Result<Option<i64>>;
    /// One page of candidates for a search, in id order: every entry of the enterprise (and
    /// type) that contains the text, case-insensitively, in one of its values, and possibly
    /// others (the text may match attribute names or straddle two values). The caller checks
    /// each candidate's values.
    async fn search_page(&self, search: &EntrySearch) -> Result<Vec<Entry>>;
}
