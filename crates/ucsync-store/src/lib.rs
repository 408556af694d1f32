//! The store: staging spaces, directory entries, links, pending exports, watermarks and runs.
//!
//! The engine reads through small queries and writes through whole batches
//! ([`ImportBatch`], [`SyncBatch`], export results) that each commit atomically, watermark
//! included, so a killed run leaves the store at a batch boundary from which the next run
//! converges. The store knows no rules and no connector kind; the engine knows no SQL.
//!
//! [`SqliteStore`] is the embedded default.

mod data_dir;
pub mod secret_key;
mod sqlite;
mod stats;
mod types;

use async_trait::async_trait;

pub use data_dir::make_private as make_data_dir_private;
pub use sqlite::{LAST_SCHEMA_VERSION, SqliteStore, TOMBSTONE_DAYS};
pub use stats::*;
pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} cannot be opened: {message}")]
    Open { path: String, message: String },
    #[error(
        "the store in {path} has schema version {found}, newer than this build understands ({supported}); use a newer ucsync or another --data-dir"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("store error while {doing}: {message}")]
    Sql {
        doing: &'static str,
        message: String,
    },
    #[error("stored data is corrupt while {doing}: {message}")]
    Corrupt {
        doing: &'static str,
        message: String,
    },
    /// The secret key is missing, wrong or unusable; the message says which key and what to do.
    #[error("{0}")]
    Secret(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Staging spaces: what each connector last saw, and what it must still export.
#[async_trait]
pub trait StagingStore: Send + Sync {
    /// Every staged anchor of a connector with its id, hash and whether it is present in the
    /// external system.
    async fn anchor_index(&self, connector_id: i64) -> Result<Vec<AnchorInfo>>;
    /// The index entries of some of a connector's anchors (those staged).
    async fn anchor_infos(&self, connector_id: i64, anchors: &[String]) -> Result<Vec<AnchorInfo>>;
    /// The anchors of a connector's staged objects of one type.
    async fn anchors_of_type(&self, connector_id: i64, object_type: &str) -> Result<Vec<String>>;
    async fn apply_import_batch(&self, batch: ImportBatch) -> Result<()>;
    /// Staged objects by id order after `after_id`: those waiting for sync, or all of them.
    async fn staged_page(
        &self,
        connector_id: i64,
        after_id: i64,
        limit: i64,
        filter: StagedFilter,
    ) -> Result<Vec<StagedObject>>;
    /// A page of a target's image, in id order: only the columns an image export needs.
    async fn image_page(
        &self,
        connector_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ImageRow>>;
    async fn staged_by_entries(&self, entry_ids: &[i64]) -> Result<Vec<StagedObject>>;
    async fn staged_by_anchors(
        &self,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedObject>>;
    /// The links (anchor and entry) of the staged objects of these entries, without their
    /// attributes.
    async fn links_by_entries(&self, entry_ids: &[i64]) -> Result<Vec<StagedLink>>;
    /// The links of one connector's staged objects with these anchors.
    async fn links_by_anchors(
        &self,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedLink>>;
    /// Pending sync and export counts (cheap); with `totals`, also how many objects there are.
    async fn count_staged(&self, connector_id: i64, totals: bool) -> Result<StagedCounts>;
    /// Whether a connector's staging space holds no object at all (one index probe).
    async fn staging_is_empty(&self, connector_id: i64) -> Result<bool>;
    /// Whether the connector's staging space holds more than `n` objects (it reads no more
    /// than `n + 1` of its index entries).
    async fn staged_more_than(&self, connector_id: i64, n: i64) -> Result<bool>;
    async fn apply_export_results(&self, batch: ExportResultBatch) -> Result<()>;
    /// After an image export wrote every object: pending adds and updates become the known
    /// state, pending deletes go, except the `rejected` ids which stay pending.
    async fn commit_image_export(
        &self,
        connector_id: i64,
        rejected: &[(i64, String)],
        outcomes: OutcomeChunk,
    ) -> Result<()>;
}

/// The directory: entries and their join keys.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// Reserves `count` ids for new directory entries; the first of them. Ranges reserved by
    /// runs at the same time never overlap, and none is reused by a later run (a range a run
    /// does not use up is left as a gap).
    async fn reserve_entry_ids(&self, count: i64) -> Result<i64>;
    /// What changed in an enterprise's directory after the position `after` (change number,
    /// entry id; from the start without one): entries of `types` as they are now and the
    /// entries deleted since (tombstones are kept [`crate::TOMBSTONE_DAYS`] days), in change
    /// order, at most `limit`.
    async fn directory_changes(
        &self,
        enterprise_id: i64,
        after: Option<(i64, i64)>,
        types: &[&str],
        limit: usize,
    ) -> Result<DirectoryChanges>;
    async fn entries_by_ids(&self, ids: &[i64]) -> Result<Vec<Entry>>;
    async fn entries_by_keys(&self, key_hashes: &[i64]) -> Result<Vec<(i64, i64)>>;
    async fn entries_page(
        &self,
        enterprise_id: i64,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Entry>>;
    async fn count_entries(&self, enterprise_id: i64) -> Result<i64>;
    async fn apply_sync_batch(&self, batch: SyncBatch) -> Result<()>;
    /// Which attributes the enterprise's keys were built for.
    async fn key_spec(&self, enterprise_id: i64) -> Result<Option<String>>;
    /// Drops every key of the enterprise's entries (before a rebuild under a new spec).
    async fn clear_keys(&self, enterprise_id: i64) -> Result<()>;
    /// From now on, the keys that the enterprise's sync batches add are held in memory, where
    /// [`DirectoryStore::entries_by_keys`] finds them, until [`DirectoryStore::write_held_keys`].
    /// The enterprise's key spec is cleared meanwhile, so that if they are never written (a
    /// crash), the next sync rebuilds every key.
    async fn hold_keys(&self, enterprise_id: i64) -> Result<()>;
    /// Writes the held keys in key order and records `spec` as what the keys were built for.
    /// The keys are let go even when this fails; the next sync then rebuilds them.
    async fn write_held_keys(&self, enterprise_id: i64, spec: &str) -> Result<()>;
    /// Changes one hand-set attribute of an entry (values owned by no connector) in one
    /// transaction: `edit` gets the current hand-set values and gives the new ones, or refuses
    /// with a message. The entry's linked staged objects are marked for sync, so the next sync
    /// recomputes the entry and pushes the change out: as changed, or as deleted in the source
    /// when the source no longer has them and nothing is pending to export (objects the
    /// number-retention rule keeps linked to an account).
    async fn edit_hand_set(&self, entry_id: i64, attr: &str, edit: HandEdit) -> Result<HandEdited>;
    /// Adds keys of a page of entries during a rebuild; with `spec`, the rebuild is complete.
    async fn add_keys(
        &self,
        enterprise_id: i64,
        keys: &[(i64, i64)],
        spec: Option<&str>,
    ) -> Result<()>;
}

/// Runs and their outcomes.
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn create_run(&self, run: NewRun) -> Result<i64>;
    async fn finish_run(&self, id: i64, end: RunEnd) -> Result<()>;
    async fn add_outcomes(&self, chunk: OutcomeChunk) -> Result<()>;
    async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>>;
    async fn run(&self, id: i64) -> Result<Option<RunRecord>>;
    async fn child_runs(&self, parent_id: i64) -> Result<Vec<RunRecord>>;
    /// The latest run of every (connector, profile) pair, and its latest successful one: each
    /// connector's last import, sync and export, whether alone or as a step of a sync-now.
    async fn latest_connector_runs(&self) -> Result<Vec<RunRecord>>;
    async fn outcomes(&self, run_id: i64) -> Result<Vec<ObjectOutcome>>;
    /// Removes the runs of `enterprise` started before `before` (an RFC 3339 time) that have
    /// ended, with their steps and what each did to each object; how many runs, steps counted.
    async fn remove_runs_before(&self, enterprise: &str, before: &str) -> Result<u64>;
    /// Ends the runs still `running` with `status` (`interrupted`, `failed`), `message` and
    /// `ended_at`: all of them, or the run `root` and its steps; the ids of those runs. Only for
    /// a caller that knows no one is running them any more (it holds the data directory, or the
    /// task that ran them has ended).
    async fn end_unfinished_runs(
        &self,
        root: Option<i64>,
        status: &str,
        ended_at: &str,
        message: &str,
    ) -> Result<Vec<i64>>;
}

/// Enterprises, connectors and watermarks.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn ensure_enterprise(&self, name: &str) -> Result<i64>;
    async fn ensure_connector(
        &self,
        name: &str,
        enterprise_id: i64,
        kind: &str,
    ) -> Result<ConnectorRow>;
    async fn connectors(&self) -> Result<Vec<ConnectorRow>>;
    /// Forgets a connector: its staging space and its watermark. Its runs stay.
    async fn remove_connector(&self, name: &str) -> Result<()>;
    /// Records the start or the end of a full import or sync of a connector, or adopts a
    /// fingerprint ([`FullMark`]).
    async fn record_full_step(
        &self,
        connector_id: i64,
        step: FullStep,
        mark: FullMark<'_>,
    ) -> Result<()>;
}

/// Administrators of the server and their API tokens.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Adds an administrator, or replaces the role and password of one with that name.
    /// Adds or changes an administrator; `enterprise` binds one with the peer role to an
    /// enterprise (by its ID).
    async fn put_admin(
        &self,
        name: &str,
        role: &str,
        enterprise: Option<&str>,
        password_hash: &str,
    ) -> Result<i64>;
    async fn admin(&self, name: &str) -> Result<Option<AdminRow>>;
    async fn admins(&self) -> Result<Vec<AdminRow>>;
    /// Removes an administrator and their tokens; whether there was one.
    async fn remove_admin(&self, name: &str) -> Result<bool>;
    /// Records a token (by its hash) for an administrator; the token's id.
    async fn add_token(&self, admin_id: i64, token_hash: &str, label: &str) -> Result<i64>;
    /// The administrator a token (by its hash) belongs to.
    async fn admin_by_token(&self, token_hash: &str) -> Result<Option<AdminRow>>;
    /// The tokens of one administrator, or of all of them, in id order (never their hashes).
    async fn tokens(&self, admin_id: Option<i64>) -> Result<Vec<TokenRow>>;
    /// Revokes a token by its id; the token it was, if there was one.
    async fn remove_token(&self, id: i64) -> Result<Option<TokenRow>>;
    /// Revokes an administrator's tokens labelled `label`, but the one whose hash is `keep`;
    /// how many.
    async fn remove_labelled_tokens(
        &self,
        admin_id: i64,
        label: &str,
        keep: Option<&str>,
    ) -> Result<u64>;
}

/// The audit: who changed what (administrators, tokens, the configuration, connectors, the
/// secret key) and who started which run.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Records one line, at the current time.
    async fn add_audit(&self, entry: NewAudit) -> Result<()>;
    /// The latest `limit` lines, newest first.
    async fn audit(&self, limit: i64) -> Result<Vec<AuditRecord>>;
}

/// The configuration as data, and what the scheduler remembers between starts.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// The stored configuration (TOML), if one was ever applied.
    async fn config_text(&self) -> Result<Option<String>>;
    async fn put_config_text(&self, text: &str) -> Result<()>;
    async fn schedule_states(&self) -> Result<Vec<ScheduleState>>;
    async fn put_schedule_state(&self, state: &ScheduleState) -> Result<()>;
}

/// Outstanding per-object errors: objects a step rejected and no run has fixed since. Batches
/// record and clear them in their own transactions (an [`ImportBatch`]'s `errors` and
/// `cleared`; the error and success outcomes of sync batches and export results); these are
/// the reads and the one write of a step's end.
#[async_trait]
pub trait ErrorStore: Send + Sync {
    /// The import errors outstanding for a connector: (object, whether it is an anchor).
    async fn outstanding_objects(
        &self,
        connector_id: i64,
        step: ErrorStep,
    ) -> Result<Vec<(String, bool)>>;
    /// After a full step of a connector ran over every object (a full sync, an export that
    /// sent everything pending): the errors of that step which run `run_id` did not report
    /// again are over. How many went.
    async fn clear_unreported_errors(
        &self,
        connector_id: i64,
        step: ErrorStep,
        run_id: i64,
    ) -> Result<u64>;
    /// The outstanding errors of one connector (by name) or of all, by connector, step and object.
    async fn outstanding_errors(&self, connector: Option<&str>) -> Result<Vec<OutstandingError>>;
    /// How many errors are outstanding per connector and step (only those with some).
    async fn error_counts(&self) -> Result<Vec<ErrorCount>>;
}

/// Everything the engine needs, behind one object.
#[async_trait]
pub trait Store:
    StagingStore
    + DirectoryStore
    + RunStore
    + CatalogStore
    + AdminStore
    + AuditStore
    + ConfigStore
    + StatsStore
    + ErrorStore
{
    /// Starts a preview session: a store of its own, on its own connection and in one
    /// transaction, that sees the committed state and its own writes. Nobody else sees its
    /// writes, and it commits nothing: [`Store::end_preview`] (or dropping it) rolls everything
    /// back. Writes of the store wait while a session is open (SQLite has one writer), they do
    /// not fail, and they are never made part of the session.
    async fn begin_preview(&self) -> Result<std::sync::Arc<dyn Store>>;
    /// Ends a preview session (called on the session): everything it wrote is rolled back and
    /// it takes no further write.
    async fn end_preview(&self) -> Result<()>;
}
