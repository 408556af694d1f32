//! Plain data exchanged with the store.

use ucsync_model::{AttrChange, Attrs, EncodedAttrs, EntryAttrs, ExportOp};

#[derive(Debug, Clone)]
pub struct ConnectorRow {
    pub id: i64,
    pub name: String,
    pub enterprise_id: i64,
    pub kind: String,
    pub watermark: Option<String>,
    /// The fingerprint of the settings that change what an import reads, as the last finished
    /// full import ran with them; `None` when never recorded.
    pub import_fingerprint: Option<String>,
    /// The fingerprint of the rules a sync of this connector applies, as the last finished full
    /// sync ran with them; `None` when never recorded.
    pub sync_fingerprint: Option<String>,
    /// The fingerprint of the settings the last whole-target (image) export was written with;
    /// `None` when never recorded.
    pub export_fingerprint: Option<String>,
    /// A full import started and did not finish (stopped, failed or killed).
    pub full_import_unfinished: bool,
    /// A full sync started and did not finish.
    pub full_sync_unfinished: bool,
}

/// The steps whose full run the store keeps track of per connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullStep {
    Import,
    Sync,
    /// An image export, which writes the whole target at once (it has no unfinished state).
    Export,
}

/// What [`crate::CatalogStore::record_full_step`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullMark<'a> {
    /// A full run of the step started: until it finishes, the step's next run is a full one.
    Started,
    /// A full run of the step finished, with the settings or rules of this fingerprint.
    Finished(&'a str),
    /// This fingerprint is taken as the step's own when none is recorded yet (a new connector,
    /// or one from before fingerprints were kept), without a full run.
    Adopted(&'a str),
}

#[derive(Debug, Clone)]
pub struct AnchorInfo {
    pub anchor: String,
    pub id: i64,
    pub hash: i64,
    pub present: bool,
}

/// Why sync must look at a staged object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncState {
    Clean = 0,
    Changed = 1,
    Deleted = 2,
}

impl SyncState {
    pub fn from_i64(v: i64) -> Self {
        match v {
            1 => SyncState::Changed,
            2 => SyncState::Deleted,
            _ => SyncState::Clean,
        }
    }
}

pub fn op_to_i64(op: ExportOp) -> i64 {
    match op {
        ExportOp::Add => 1,
        ExportOp::Update => 2,
        ExportOp::Delete => 3,
    }
}

pub fn op_from_i64(v: i64) -> Option<ExportOp> {
    match v {
        1 => Some(ExportOp::Add),
        2 => Some(ExportOp::Update),
        3 => Some(ExportOp::Delete),
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub struct PendingExport {
    pub op: ExportOp,
    /// The desired state (empty for a delete).
    pub attrs: Attrs,
}

/// What reference translation needs of a staged object: the entry its anchor stands for.
#[derive(Debug, Clone)]
pub struct StagedLink {
    pub id: i64,
    pub connector_id: i64,
    pub anchor: String,
    pub entry_id: Option<i64>,
    pub sync_state: SyncState,
}

#[derive(Debug, Clone)]
pub struct StagedObject {
    pub id: i64,
    pub connector_id: i64,
    pub anchor: String,
    pub object_type: String,
    pub hash: i64,
    /// The state in the external system; `None` when it does not have the object (yet).
    pub attrs: Option<Attrs>,
    pub entry_id: Option<i64>,
    pub sync_state: SyncState,
    pub sync_error: Option<String>,
    pub export: Option<PendingExport>,
    pub export_error: Option<String>,
}

impl StagedObject {
    /// What the external system will hold once pending exports are applied.
    pub fn target_state(&self) -> Option<&Attrs> {
        match &self.export {
            Some(PendingExport {
                op: ExportOp::Delete,
                ..
            }) => None,
            Some(p) => Some(&p.attrs),
            None => self.attrs.as_ref(),
        }
    }
}

/// One object of a target's image: what the external system holds once pending exports are
/// applied (`attrs` is `None` for an object being deleted).
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub id: i64,
    pub anchor: String,
    pub object_type: String,
    pub op: Option<ExportOp>,
    pub attrs: Option<EncodedAttrs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedFilter {
    /// Marked for sync (changed or deleted).
    PendingSync,
    /// Waiting for export.
    PendingExport,
    All,
    /// Marked for sync and linked to a directory entry.
    LinkedPendingSync,
    /// Linked to a directory entry.
    Linked,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct StagedCounts {
    /// All staged objects (only when totals were asked for).
    pub total: i64,
    /// Objects the external system has (only when totals were asked for).
    pub present: i64,
    pub pending_sync: i64,
    pub pending_adds: i64,
    pub pending_updates: i64,
    pub pending_deletes: i64,
}

/// One imported object to write.
#[derive(Debug, Clone)]
pub struct StagedUpsert {
    /// The existing row, or `None` for a new object.
    pub id: Option<i64>,
    pub anchor: String,
    pub object_type: String,
    pub hash: i64,
    pub attrs: Vec<u8>,
}

/// One import batch: written in one transaction with the watermark, if given.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub connector_id: i64,
    pub upserts: Vec<StagedUpsert>,
    /// Staged rows whose objects are gone from the source.
    pub deletes: Vec<i64>,
    pub watermark: Option<String>,
    pub outcomes: OutcomeChunk,
    /// Objects this batch rejected: they become (or stay) outstanding import errors of the
    /// connector, first and last seen by the batch's run (`outcomes.run_id`).
    pub errors: Vec<ObjectErrorWrite>,
    /// Anchors whose outstanding import errors are over: imported, deleted in the source, or
    /// not in a complete listing any more. Cleared before `errors` are written.
    pub cleared: Vec<String>,
    /// The listing was read to its end: outstanding import errors of records without an anchor
    /// that this run did not report again are over (they are known only by where they were).
    pub clear_unanchored: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub enterprise_id: i64,
    pub object_type: String,
    pub attrs: EntryAttrs,
}

/// How [`crate::DirectoryStore::edit_hand_set`] changes the current hand-set values.
pub type HandEdit = Box<dyn FnOnce(&[String]) -> std::result::Result<Vec<String>, String> + Send>;

/// What became of a hand-set edit.
#[derive(Debug, Clone)]
pub enum HandEdited {
    NoEntry,
    /// The edit refused; the message says why.
    Refused(String),
    /// Done: the entry as it is now.
    Done(Entry),
}

#[derive(Debug, Clone)]
pub struct EntryWrite {
    pub id: i64,
    pub enterprise_id: i64,
    pub object_type: String,
    pub attrs: Vec<u8>,
    /// Keys to add for this entry.
    pub keys: Vec<i64>,
    pub is_new: bool,
}

/// A write to an existing staged row made by sync.
#[derive(Debug, Clone)]
pub struct StagedWrite {
    pub id: i64,
    pub entry_id: Option<i64>,
    /// The new sync state; `None` leaves it (objects of other connectors keep their marks).
    pub sync_state: Option<SyncState>,
    pub sync_error: Option<String>,
    /// `Some(None)` clears a pending export; `None` leaves it as it is.
    pub export: Option<Option<(ExportOp, Vec<u8>, i64)>>,
}

/// A new staged object created by provisioning.
#[derive(Debug, Clone)]
pub struct StagedInsert {
    pub connector_id: i64,
    pub anchor: String,
    pub object_type: String,
    pub entry_id: i64,
    pub export_attrs: Vec<u8>,
    pub export_hash: i64,
}

/// One sync batch, committed in one transaction.
#[derive(Debug, Default)]
pub struct SyncBatch {
    /// The enterprise whose directory the batch changes.
    pub enterprise_id: i64,
    pub entries: Vec<EntryWrite>,
    pub deleted_entries: Vec<i64>,
    /// (key, entry) pairs that no longer hold.
    pub stale_keys: Vec<(i64, i64)>,
    pub staged: Vec<StagedWrite>,
    pub staged_inserts: Vec<StagedInsert>,
    /// Staged rows to remove (processed deletions with nothing left to export).
    pub staged_deletes: Vec<i64>,
    pub outcomes: OutcomeChunk,
}

/// What became of pending exports sent object by object.
#[derive(Debug, Default)]
pub struct ExportResultBatch {
    pub connector_id: i64,
    /// (staged id, new anchor if the system assigned one) for successes.
    pub done: Vec<(i64, Option<String>)>,
    /// (staged id, encoded attributes, hash) of successes the connector read back: their
    /// staged state instead of the attributes exported.
    pub confirmed: Vec<(i64, Vec<u8>, i64)>,
    pub failed: Vec<(i64, String)>,
    pub outcomes: OutcomeChunk,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub errors: i64,
}

impl Counters {
    pub fn add(&mut self, other: &Counters) {
        self.added += other.added;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.unchanged += other.unchanged;
        self.errors += other.errors;
    }
}

#[derive(Debug, Clone)]
pub struct NewRun {
    pub parent_id: Option<i64>,
    pub enterprise: String,
    pub connector: Option<String>,
    pub profile: String,
    pub started_at: String,
    /// Who started the run: an administrator's name, `scheduler`, or `local` (the command
    /// line without a server).
    pub started_by: String,
}

#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: String,
    pub ended_at: String,
    pub counters: Counters,
    pub message: Option<String>,
    pub status_file: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    pub enterprise: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    pub profile: String,
    pub status: String,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub counters: Counters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_file: Option<String>,
    /// Who started the run (see [`NewRun::started_by`]); `None` for a run recorded before
    /// runs remembered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
}

/// What happened to one object in a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjectOutcome {
    /// The connector whose object this is; empty for a directory entry.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub connector: String,
    /// The object's anchor, or `entry:<id>` for a directory entry.
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object_type: String,
    /// added, updated, deleted, joined, projected, provisioned, deprovisioned, disconnected,
    /// exported, error, warning, …
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
}

/// Outcomes written with a batch.
#[derive(Debug, Clone, Default)]
pub struct OutcomeChunk {
    pub run_id: i64,
    pub outcomes: Vec<ObjectOutcome>,
}

/// An administrator of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: String,
    /// The enterprise (its ID) an administrator with the peer role is bound to.
    pub enterprise: Option<String>,
}

/// An API token as it may be shown: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenRow {
    pub id: i64,
    /// The administrator it belongs to.
    pub admin: String,
    pub label: String,
    pub created_at: String,
}

/// One line of the audit to record: who did what to which object. `detail` never holds a
/// secret.
#[derive(Debug, Clone)]
pub struct NewAudit {
    /// An administrator's name, `scheduler`, or `local` (the command line without a server).
    pub administrator: String,
    /// What was done: `admin-added`, `admin-changed`, `admin-removed`, `token-created`,
    /// `token-revoked`, `config-applied`, `config-discarded`, `connector-deleted`,
    /// `secret-key-rotated`, `run-started`.
    pub action: String,
    /// What it was done to: `admin NAME`, `token ID`, `configuration`, `connector NAME`,
    /// `secret key`, `run ID`.
    pub object: String,
    pub detail: Option<String>,
}

/// One recorded line of the audit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub administrator: String,
    pub action: String,
    pub object: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the scheduler remembers of one schedule: the slot it last fired for, and the run it
/// started or why it was skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScheduleState {
    pub name: String,
    /// RFC 3339.
    pub last_slot: String,
    pub run_id: Option<i64>,
    pub note: Option<String>,
}

/// The steps that can reject an object, each with its own outstanding errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorStep {
    Import,
    Sync,
    Export,
}

impl ErrorStep {
    pub const ALL: [ErrorStep; 3] = [ErrorStep::Import, ErrorStep::Sync, ErrorStep::Export];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorStep::Import => "import",
            ErrorStep::Sync => "sync",
            ErrorStep::Export => "export",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ErrorStep::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

/// An object a step rejected, as a batch records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectErrorWrite {
    /// The object's anchor; for a record without one, where it is (`line 12`).
    pub object: String,
    /// Whether `object` is an anchor.
    pub anchored: bool,
    /// How an administrator finds the object: a DN, a key.
    pub name: String,
    /// The line of the file, for files.
    pub line: Option<i64>,
    pub message: String,
}

/// One outstanding per-object error: an object a step of a connector rejected and that no run
/// has fixed since.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutstandingError {
    pub connector: String,
    /// `import`, `sync` or `export`.
    pub step: String,
    /// The anchor, or where the record is when it has none.
    pub object: String,
    /// A DN, a key, or the anchor.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    pub message: String,
    /// The run that first reported it.
    pub first_run: i64,
    /// The run that last reported it.
    pub last_run: i64,
}

/// How many errors are outstanding for one step of one connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCount {
    pub connector: String,
    pub enterprise: String,
    pub step: String,
    pub count: i64,
}

/// A page of what changed in an enterprise's directory, for peers
/// ([`crate::DirectoryStore::directory_changes`]).
#[derive(Debug, Clone)]
pub struct DirectoryChanges {
    /// The store's generation: made when it was created, another for another store.
    pub generation: String,
    /// The last change numbered so far.
    pub last_seq: i64,
    /// Tombstones up to this change were trimmed: a cursor older than it starts over.
    pub trimmed_seq: i64,
    /// In change order.
    pub items: Vec<DirectoryChange>,
    /// The page is full: more may follow.
    pub more: bool,
}

/// One change: an entry as it is now, or one deleted.
#[derive(Debug, Clone)]
pub enum DirectoryChange {
    Entry { seq: i64, entry: Entry },
    Deleted { seq: i64, id: i64 },
}

impl DirectoryChange {
    /// Where the change stands: (change number, entry id).
    pub fn position(&self) -> (i64, i64) {
        match self {
            DirectoryChange::Entry { seq, entry } => (*seq, entry.id),
            DirectoryChange::Deleted { seq, id } => (*seq, *id),
        }
    }
}
