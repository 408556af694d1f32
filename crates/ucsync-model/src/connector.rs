//! The `Connector` trait: what every connector kind offers the engine.
//!
//! A connector knows its external system and nothing of the directory, the rules or the store.
//! It streams what it sees into an [`ImportSink`] (the engine decides what changed and stages it)
//! and applies pending exports handed to it, either object by object ([`ExportStyle::Changes`],
//! e.g. LDAP) or as a whole image of the target ([`ExportStyle::Image`], e.g. a CSV file).

use std::path::PathBuf;

use async_trait::async_trait;

use crate::attrs::{Attrs, EncodedAttrs};

/// What a connector can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The connector reads only what changed since a watermark (otherwise a delta import lists
    /// everything and the engine compares).
    pub delta_import: bool,
    /// How exports reach the external system; `None` when the connector is import-only.
    pub export: Option<ExportStyle>,
    /// Values this connector stops giving stay on an entry while the entry's own (hand-set)
    /// numbers or dynamic statuses refer to them, and an entry it stops giving stays while it
    /// has any of them: the PBX number-retention rule ([`crate::account`]).
    pub retains_referenced_numbers: bool,
    /// The connector is the one source of the entries it projects, and reads its system one
    /// way: those entries are read-only in ucsync (edits are refused, naming the connector),
    /// and it is never written (no export, no provisioning towards it).
    pub one_way: bool,
}

/// A type of synchronizer: the connectors that populate an enterprise's accounts. A connector
/// kind declares the type it is, if any; an enterprise uses one type
/// ([`crate::config::EnterpriseConfig::synchronizers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynchronizerType {
    /// The name `enterprises.E.synchronizers` gives the type.
    pub name: &'static str,
    /// The synchronizers of the type in words, for messages: "LDAP synchronizers".
    pub title: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStyle {
    /// Pending changes are sent object by object (add, update, delete).
    Changes,
    /// The whole target is rewritten from the staging space with pending exports applied.
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportMode {
    Full,
    Delta,
}

/// One import's parameters.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub mode: ImportMode,
    /// The watermark the previous import left, if any.
    pub watermark: Option<String>,
    /// Where to write the import status file, when the connector writes one (`None` in preview).
    pub status_file: Option<PathBuf>,
    /// The source may not exist yet: the connector's staging space is empty (so nothing can be
    /// taken for deleted) and its rules export to it, so its first export creates it. A
    /// connector that can tell takes a missing or empty source as an empty listing then, rather
    /// than as an error.
    pub absent_is_empty: bool,
}

/// How an import ended.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// The watermark to keep for the next delta import.
    pub watermark: Option<String>,
    /// The source had not changed since the watermark; nothing was read.
    pub skipped_unchanged: bool,
    /// A note for the run record (e.g. "cookie refused, fell back to a full refresh").
    pub note: Option<String>,
}

/// One object as the external system shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub anchor: String,
    pub object_type: String,
    pub attrs: Attrs,
    /// Where it came from, for messages: "line 17", a DN, …
    pub locator: Option<String>,
}

/// What the engine made of one imported object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    Created,
    Updated,
    Unchanged,
    /// Rejected; the message says why and what to do.
    Error(String),
}

impl RecordStatus {
    pub fn label(&self) -> &'static str {
        match self {
            RecordStatus::Created => "created",
            RecordStatus::Updated => "updated",
            RecordStatus::Unchanged => "unchanged",
            RecordStatus::Error(_) => "error",
        }
    }
}

/// An object that a complete listing no longer contains.
#[derive(Debug, Clone)]
pub struct DeletedObject {
    pub anchor: String,
    pub object_type: String,
    pub attrs: Attrs,
}

/// What [`ImportSink::end_of_listing`] made of a listing.
#[derive(Debug, Clone, Default)]
pub struct Listed {
    /// The objects the listing no longer contains, now deleted (none when it is incomplete).
    pub deleted: Vec<DeletedObject>,
    /// Why nothing was deleted: the listing is incomplete because some records could not be
    /// read ([`ImportSink::error`]) or the connector said so ([`ImportSink::incomplete`]). The
    /// run's message says the same, in these words.
    pub incomplete: Option<String>,
}

/// Receives what a connector imports. Implemented by the engine.
#[async_trait]
pub trait ImportSink: Send {
    /// An object as it is now.
    async fn object(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError>;
    /// A later version of an object this import gave before: a feed of changes in the order
    /// they were made gives an entry again when it changed while the feed was read. It replaces
    /// the earlier version (an object given twice through [`ImportSink::object`] is an error:
    /// two rows with one key).
    async fn object_again(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        let _ = record;
        Err(SinkError(
            "this import sink cannot take a later version of an object".into(),
        ))
    }
    /// The anchors of the objects and deletions about to come (those of a page, say), so that
    /// the sink can look up the ones it has not seen in one go rather than one at a time. A
    /// hint only: objects may come without it, and what it names need not come.
    async fn expect(&mut self, anchors: &[&str]) -> Result<(), SinkError> {
        let _ = anchors;
        Ok(())
    }
    /// An object the source says is unchanged since the watermark (e.g. the present phase of an
    /// LDAP content synchronization): it is kept as staged and counts as seen for
    /// [`ImportSink::end_of_listing`].
    async fn present(&mut self, anchor: &str) -> Result<(), SinkError>;
    /// An object the source says is deleted (delta imports with explicit deletes).
    async fn deleted(&mut self, anchor: &str, locator: Option<String>) -> Result<(), SinkError>;
    /// A record the connector could not read whole (a damaged row, a value it cannot decode).
    /// `anchor` is given when the object could still be identified: it is then kept as it was.
    /// Any such error makes the listing incomplete: [`ImportSink::end_of_listing`] then deletes
    /// nothing, since a record that was not read may be any object.
    async fn error(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError>;
    /// A per-object warning (the object is imported, but the connector had to choose or drop
    /// something): recorded as an outcome with action `warning`, not counted as an error.
    async fn warning(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError>;
    /// The listing misses objects for a reason that is not one record (a referral that is not
    /// followed, a part of the source that could not be read): recorded as an error of the run,
    /// and [`ImportSink::end_of_listing`] deletes nothing. `reason` says what was missed and
    /// what to do.
    async fn incomplete(&mut self, reason: String) -> Result<(), SinkError>;
    /// The connector listed every object of `object_types` (and maybe some of others): every
    /// staged object of those types that was not seen is deleted, as [`ImportSink::end_of_listing`]
    /// does for all of them (e.g. a delta import that lists every community but reads the
    /// members of changed ones only).
    async fn end_of_listing_of(&mut self, object_types: &[&str]) -> Result<Listed, SinkError> {
        Err(SinkError(format!(
            "this import sink cannot end a listing of {} alone",
            object_types.join(", ")
        )))
    }
    /// The connector listed every object: everything staged but not seen is deleted, unless the
    /// listing is incomplete (an [`ImportSink::error`] or [`ImportSink::incomplete`] came
    /// before). Returns the deleted objects, or why none was deleted, so the connector can
    /// report them (e.g. in its status file).
    async fn end_of_listing(&mut self) -> Result<Listed, SinkError>;
}

/// The engine could not take an import (the store failed); the import must stop.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportOp {
    Add,
    Update,
    Delete,
}

/// One pending export sent object by object.
#[derive(Debug, Clone)]
pub struct ExportChange {
    pub anchor: String,
    pub object_type: String,
    pub op: ExportOp,
    /// The whole desired state (empty for a delete).
    pub attrs: Attrs,
    /// The state the external system had at the last import, when it had the object.
    pub old: Option<Attrs>,
}

/// What became of one exported object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportResult {
    Done,
    /// Done, and the external system gave the object a new anchor (e.g. an id assigned on add).
    DoneWithAnchor(String),
    /// Done, and the connector read the object back: its anchor when the system assigned one,
    /// and its state as an import stages it now, which is recorded as the staged state instead
    /// of the attributes sent (so that a re-import finds it unchanged).
    DoneWithState {
        anchor: Option<String>,
        state: Attrs,
    },
    Failed(String),
}

impl ExportResult {
    /// The anchor the external system assigned, if it did.
    pub fn anchor(&self) -> Option<&str> {
        match self {
            ExportResult::DoneWithAnchor(a) => Some(a),
            ExportResult::DoneWithState { anchor, .. } => anchor.as_deref(),
            _ => None,
        }
    }
}

/// One object of a whole-target image, in staging order.
#[derive(Debug, Clone)]
pub struct ImageObject {
    pub anchor: String,
    pub object_type: String,
    /// Decoded by the connector, on the thread that writes the object.
    pub attrs: EncodedAttrs,
}

/// One change of an image export: the object's new state, or `None` when it is deleted.
#[derive(Debug, Clone)]
pub struct ImageChange {
    pub anchor: String,
    pub object_type: String,
    pub attrs: Option<Attrs>,
}

/// Streams the image of a target to an [`ExportStyle::Image`] connector. A connector either
/// pulls the whole image with `next_batch`, or, when it can patch its target in place (few
/// changes, target as last written), pulls only `changes`.
#[async_trait]
pub trait ImageSource: Send {
    /// How many objects this export adds, updates or deletes.
    fn pending(&self) -> u64;
    /// The next objects of the whole image, in staging order, or `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<ImageObject>>, SinkError>;
    /// Only what changes, in staging order.
    async fn changes(&mut self) -> Result<Vec<ImageChange>, SinkError>;
}

/// What an image export wrote.
#[derive(Debug, Clone, Default)]
pub struct ImageSummary {
    pub objects: u64,
    /// Objects the connector could not write, with the reason.
    pub rejected: Vec<(String, String)>,
}

/// What `ucsync check` sees of a connector's external system without importing from it.
#[derive(Debug, Clone, Default)]
pub struct SourceView {
    /// The staged attribute names its objects can have, when the system or the settings tell
    /// (a CSV file's header, an LDAP object type's attributes); `None` when not known.
    pub attributes: Option<std::collections::BTreeSet<String>>,
    /// Where those names come from, for messages: "the header of forest.csv".
    pub from: String,
    /// The source does not exist (yet): why, for a connector that imports from it. A target's
    /// first export creates it, so for a connector that only exports this is no problem.
    pub absent: Option<String>,
    /// What looks wrong; each a warning, as the external system may change before a run.
    pub warnings: Vec<String>,
}

/// A connector-level failure: the run fails, nothing of this step is committed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The external system could not be reached or read; says what to check.
    #[error("{0}")]
    Unavailable(String),
    /// The configuration does not work with what was found; says what to change.
    #[error("{0}")]
    Config(String),
    /// The engine's sink failed.
    #[error("{0}")]
    Sink(#[from] SinkError),
    /// The connector does not support this operation.
    #[error("{0}")]
    Unsupported(String),
}

/// One configured link to one external system.
#[async_trait]
pub trait Connector: Send + Sync {
    fn kind(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// The object types this connector stages.
    fn object_types(&self) -> Vec<String>;
    /// The anchor an object with these attributes will have once exported; used when
    /// provisioning a new object. An error names what is missing.
    fn anchor_for(&self, object_type: &str, attrs: &Attrs) -> Result<String, String>;
    /// Whether values are checked against the valid-character rule ([`crate::chars`]) on import
    /// and on export unless the connector's `character_rule` key says otherwise: on for every
    /// kind, so a kind that cannot hold such characters says nothing and is protected.
    fn character_rule_default(&self) -> bool {
        true
    }
    /// What an import reads, as this connector's settings say it: a text that changes when a
    /// setting changes what a full import would stage (the file, its columns and key, the
    /// filters, …) and never holds a secret. The engine keeps a fingerprint of it with the
    /// connector's watermark; when it changes, the next import is a full one. Settings that
    /// only change how the connector reaches or writes its system stay out of it.
    fn import_settings(&self) -> String {
        String::new()
    }
    /// How an [`ExportStyle::Image`] connector lays out its whole target (file, columns,
    /// encoding, …), as a text without secrets. When it changes, the engine has the next export
    /// write the whole target again, even with nothing pending. Empty for a connector that
    /// exports change by change.
    fn export_settings(&self) -> String {
        String::new()
    }
    /// Whether the order of an attribute's values means nothing to the external system (LDAP:
    /// values are a set, and a server returns them in an order of its own). The engine then
    /// compares states value set by value set, so that reading values back in another order
    /// is no change to export.
    fn values_are_sets(&self) -> bool {
        false
    }
    /// How the external system names an object, for outcome lines beside its anchor (LDAP:
    /// its DN), read from its staged attributes; `None` when the anchor is its name already.
    fn locator(&self, object_type: &str, attrs: &Attrs) -> Option<String> {
        let _ = (object_type, attrs);
        None
    }
    /// Whether objects of `object_type` keep the staged attribute `attribute` (export flows are
    /// per connector; an object type may keep fewer attributes than they give).
    fn keeps(&self, object_type: &str, attribute: &str) -> bool {
        let _ = (object_type, attribute);
        true
    }
    /// Directory attributes an entry projected from this connector starts with (e.g. the
    /// feature profile of a PBX node synchronizer). They are set once, when the entry is
    /// created, as values of the entry itself (set by hand, owned by no connector), so later
    /// syncs never change them.
    fn initial_values(&self, object_type: &str) -> Attrs {
        let _ = object_type;
        Attrs::new()
    }
    /// The staged attributes whose values are anchors of this connector's other objects
    /// (group members), for a kind that translates them from and to the external system's own
    /// form itself (LDAP: DNs), as built: declared, and implied by the enterprise's
    /// ([`crate::config::References`]). `None` for a kind whose reference values are its
    /// anchors already.
    fn references(&self) -> Option<Vec<String>> {
        None
    }
    /// Whether every reference value this connector stages names an object it stages too
    /// (LDAP turns each member DN into the anchor of an entry of its object types while
    /// importing, and leaves out the others). A value that names no staged object then names
    /// one deleted or gone from the connector's view since, and the sync drops it instead of
    /// waiting for it to be imported.
    fn references_name_staged_objects(&self) -> bool {
        false
    }
    /// Whether a reference to an object this connector stages that is in the directory under
    /// no entry (it joined nobody and no rule projects it: a community member who matches no
    /// person) is kept as an *unresolved* value instead of being dropped: the referring entry
    /// holds it, named by [`Connector::locator`], in `unresolvedNAME` (`unresolvedMember` for
    /// `member`), and every sync that recomputes the entry warns of it.
    fn keeps_unresolved_references(&self) -> bool {
        false
    }
    /// Checks that the external system is reachable with the configured settings.
    async fn check_connection(&self) -> Result<(), ConnectorError>;
    /// Looks at the external system as far as it can be reached, for `ucsync check`: which
    /// attributes its objects can have and what looks wrong. Never fails: what cannot be
    /// reached is a warning.
    async fn inspect(&self) -> SourceView {
        SourceView::default()
    }
    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError>;
    async fn export_changes(
        &self,
        _changes: &[ExportChange],
    ) -> Result<Vec<ExportResult>, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "the {} connector does not export object by object",
            self.kind()
        )))
    }
    async fn export_image(
        &self,
        _source: &mut dyn ImageSource,
    ) -> Result<ImageSummary, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "the {} connector does not export a whole image",
            self.kind()
        )))
    }
}
