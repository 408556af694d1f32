//! Import: a connector streams what it sees; this sink compares each object with its staged
//! state and writes only what changed, batch by batch, the watermark with the last batch.
//!
//! A requested stop is honoured after a batch is handed to the writer, or every [`BATCH`]
//! records read when few of them changed: the sink then refuses further records, so the
//! connector ends its listing early; the batches sent are written, but neither the watermark
//! nor the deletions of an incomplete listing are.
//!
//! An incomplete listing infers no deletions: once a connector reported a record it could not
//! read ([`ImportSink::error`], or an object without an anchor) or said its listing misses
//! something ([`ImportSink::incomplete`]), `end_of_listing` deletes nothing, the run's message
//! says why and what to fix, and the watermark stays where the last complete import left it,
//! so the next delta import reads the source again and finds the deletions once it is fixed.
//! Objects read are imported as usual, and deletes the source names itself
//! ([`ImportSink::deleted`]) are applied: they are not inferred. An import that fails writes
//! what it read, without watermark or inferred deletions.

use std::collections::HashSet;

use async_trait::async_trait;
use ucsync_model::{
    DeletedObject, ImportMode, ImportRecord, ImportRequest, ImportSink, Listed, RecordStatus,
    SinkError, chars,
};
use ucsync_store::{Counters, ImportBatch, ObjectOutcome, StagedUpsert, Store};

use crate::import_errors::Outstanding;
use crate::import_gaps::{Gaps, not_stored};
use crate::import_index::{AnchorIndex, EXPECTED_PER_LOOK_UP, LOOK_UP_FROM, Slot};
use crate::import_writer::{Writer, since};
use crate::rules::ConnectorCtx;
use crate::run::{Recorder, RunCtx, StepEnd};
use crate::{EngineError, Stop};

const BATCH: usize = 5_000;

struct Sink<'a> {
    store: &'a dyn Store,
    writer: Writer,
    connector: &'a str,
    connector_id: i64,
    index: AnchorIndex,
    batch: ImportBatch,
    rec: &'a mut Recorder,
    /// The recorder's counters when the last batch was sent.
    flushed: Counters,
    progress: &'a dyn crate::Progress,
    pending: usize,
    /// Check every value against the valid-character rule.
    character_rule: bool,
    stop: &'a Stop,
    /// Records read since a requested stop was last looked at.
    read: usize,
    /// The connector reached `end_of_listing`: the listing is complete and is finished.
    listed: bool,
    /// A requested stop was honoured: nothing more is taken.
    stopped: bool,
    /// What makes the listing incomplete so far.
    gaps: Gaps,
    /// `end_of_listing` found the listing incomplete and deleted nothing; the message says why.
    withheld: Option<String>,
    /// The connector's outstanding import errors.
    outstanding: Outstanding,
}

fn stop_error() -> SinkError {
    SinkError("the import stopped at a batch boundary because ucsync is shutting down".into())
}

/// Where the first character the valid-character rule does not allow is in a record (every
/// value of every attribute, then the anchor), described for a message: `attribute
/// "displayName" has an invalid character U+0007 at position 5`.
fn invalid_character(record: &ImportRecord) -> Option<String> {
    // Attributes first: an anchor is mostly built from them, and the attribute is what the
    // administrator fixes.
    if let Some(found) = chars::invalid_in(&record.attrs) {
        return Some(found.to_string());
    }
    chars::first_invalid(&record.anchor).map(|(position, c)| {
        format!(
            "the anchor has an invalid character {} at position {position}",
            chars::code_point(c)
        )
    })
}

/// A connector's message, led by where the object came from unless it says so already.
fn located(locator: &str, message: String) -> String {
    if message.contains(locator) {
        message
    } else {
        format!("{locator}: {message}")
    }
}

impl Sink<'_> {
    async fn flush(&mut self, watermark: Option<String>) -> Result<(), SinkError> {
        let mut batch = std::mem::take(&mut self.batch);
        batch.connector_id = self.connector_id;
        batch.watermark = watermark;
        batch.outcomes = self.rec.take();
        self.pending = 0;
        let counted = since(&self.rec.counters, &self.flushed);
        self.flushed = self.rec.counters.clone();
        self.writer.send(batch, counted).await
    }

    /// Refuses what the connector sends after a stop was honoured.
    fn taking(&self) -> Result<(), SinkError> {
        if self.stopped {
            Err(stop_error())
        } else {
            Ok(())
        }
    }

    /// After each record read: a full batch of changes is sent, and every [`BATCH`] records
    /// read a requested stop is looked at (one atomic load per batch).
    async fn after_record(&mut self, changed: bool) -> Result<(), SinkError> {
        self.read += 1;
        self.pending += usize::from(changed);
        if self.pending >= BATCH || self.read >= BATCH {
            self.boundary().await?;
        }
        Ok(())
    }

    /// A batch boundary: the full batch is sent; a requested stop sends what changed so far and
    /// ends the listing, unless it is complete (`end_of_listing` applies its deletions whole).
    async fn boundary(&mut self) -> Result<(), SinkError> {
        self.read = 0;
        if self.pending >= BATCH {
            self.progress.advance(self.pending as u64);
            self.flush(None).await?;
        }
        if !self.listed && self.stop.requested() {
            if self.pending > 0 {
                self.progress.advance(self.pending as u64);
                self.flush(None).await?;
            }
            self.stopped = true;
            return Err(stop_error());
        }
        Ok(())
    }

    /// Compares one record with its staged state and stages it when it changed.
    fn take(&mut self, record: ImportRecord) -> RecordStatus {
        // Where the record is, for messages only.
        let where_ = || {
            record
                .locator
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        };
        if record.anchor.is_empty() {
            // Which object it is cannot be told: like an unreadable record.
            self.gaps
                .unreadable(record.locator.as_deref().unwrap_or_default());
            let msg = format!(
                "the object has an empty anchor{}; fill in its key",
                where_()
            );
            let locator = record.locator.as_deref().unwrap_or_default();
            Outstanding::unidentified(&mut self.batch, locator, &msg);
            self.rec
                .error(self.connector, "", &record.object_type, msg.clone());
            return RecordStatus::Error(msg);
        }
        if self.character_rule
            && let Some(found) = invalid_character(&record)
        {
            let msg = format!(
                "{found}{}; fix the value in the source, or set character_rule = false on connector {}",
                where_(),
                self.connector
            );
            // Rejected, not gone: what is staged stays as it was and is never taken for a
            // deletion by end_of_listing; a later occurrence of the anchor is a duplicate.
            let unchanged = &mut self.rec.counters.unchanged;
            self.index
                .entry(record.anchor.as_str().into())
                .and_modify(|slot| {
                    slot.seen = true;
                    if std::mem::take(&mut slot.named) && slot.present {
                        *unchanged -= 1;
                    }
                })
                .or_insert(Slot {
                    id: None,
                    hash: 0,
                    present: false,
                    seen: true,
                    named: false,
                });
            let locator = record.locator.as_deref();
            self.outstanding
                .rejected(&mut self.batch, &record.anchor, locator, &msg);
            self.rec.error(
                self.connector,
                &record.anchor,
                &record.object_type,
                msg.clone(),
            );
            return RecordStatus::Error(msg);
        }
        let encoded = record.attrs.encode();
        let hash = ucsync_model::attrs::object_hash(&record.object_type, &encoded);
        let status = match self.index.get_mut(record.anchor.as_str()) {
            Some(slot) if slot.seen && !slot.named => {
                let msg = format!(
                    "anchor \"{}\" appears more than once{}; the first occurrence was kept, make the key unique",
                    record.anchor,
                    where_()
                );
                let locator = record.locator.as_deref();
                self.outstanding
                    .rejected(&mut self.batch, &record.anchor, locator, &msg);
                self.rec.error(
                    self.connector,
                    &record.anchor,
                    &record.object_type,
                    msg.clone(),
                );
                return RecordStatus::Error(msg);
            }
            Some(slot) => {
                slot.seen = true;
                if std::mem::take(&mut slot.named) && slot.present {
                    self.rec.counters.unchanged -= 1;
                }
                if slot.present && slot.hash == hash {
                    self.outstanding.over(&record.anchor, &mut self.batch);
                    self.rec.counters.unchanged += 1;
                    return RecordStatus::Unchanged;
                }
                let created = !slot.present;
                slot.present = true;
                slot.hash = hash;
                self.batch.upserts.push(StagedUpsert {
                    id: slot.id,
                    anchor: record.anchor.clone(),
                    object_type: record.object_type.clone(),
                    hash,
                    attrs: encoded,
                });
                if created {
                    RecordStatus::Created
                } else {
                    RecordStatus::Updated
                }
            }
            None => {
                self.index.insert(
                    record.anchor.as_str().into(),
                    Slot {
                        id: None,
                        hash,
                        present: true,
                        seen: true,
                        named: false,
                    },
                );
                self.batch.upserts.push(StagedUpsert {
                    id: None,
                    anchor: record.anchor.clone(),
                    object_type: record.object_type.clone(),
                    hash,
                    attrs: encoded,
                });
                RecordStatus::Created
            }
        };
        self.outstanding.over(&record.anchor, &mut self.batch);
        match status {
            RecordStatus::Created => self.rec.counters.added += 1,
            _ => self.rec.counters.updated += 1,
        }
        self.rec.outcome(ObjectOutcome {
            connector: self.connector.to_owned(),
            object: record.anchor,
            object_type: record.object_type,
            action: if status == RecordStatus::Created {
                "added"
            } else {
                "updated"
            }
            .into(),
            message: record.locator,
            changes: Vec::new(),
        });
        status
    }
}

#[async_trait]
impl ImportSink for Sink<'_> {
    async fn expect(&mut self, anchors: &[&str]) -> Result<(), SinkError> {
        self.taking()?;
        self.index
            .look_up(self.store, self.connector_id, anchors, EXPECTED_PER_LOOK_UP)
            .await
    }

    async fn object(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        self.taking()?;
        self.look_up(&record.anchor).await?;
        let status = self.take(record);
        self.after_record(matches!(
            status,
            RecordStatus::Created | RecordStatus::Updated
        ))
        .await?;
        Ok(status)
    }

    async fn object_again(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        self.taking()?;
        let given = self
            .index
            .get(record.anchor.as_str())
            .is_some_and(|slot| slot.seen && !slot.named);
        if !given {
            return self.object(record).await;
        }
        self.learn_id(&record.anchor).await?;
        if let Some(slot) = self.index.get_mut(record.anchor.as_str()) {
            // The object's next version, not a second row with its key.
            slot.seen = false;
        }
        let status = self.take(record);
        if status == RecordStatus::Unchanged {
            // Counted once, as its first version.
            self.rec.counters.unchanged -= 1;
        }
        self.after_record(matches!(
            status,
            RecordStatus::Created | RecordStatus::Updated
        ))
        .await?;
        Ok(status)
    }

    async fn deleted(&mut self, anchor: &str, locator: Option<String>) -> Result<(), SinkError> {
        self.taking()?;
        self.look_up(anchor).await?;
        self.outstanding.over(anchor, &mut self.batch);
        let mut changed = false;
        if let Some(slot) = self.index.get_mut(anchor)
            && slot.present
        {
            slot.present = false;
            slot.seen = true;
            if let Some(id) = slot.id {
                self.batch.deletes.push(id);
                self.rec.counters.deleted += 1;
                self.rec.outcome(ObjectOutcome {
                    connector: self.connector.to_owned(),
                    object: anchor.to_owned(),
                    object_type: String::new(),
                    action: "deleted".into(),
                    message: locator,
                    changes: Vec::new(),
                });
                changed = true;
            }
        }
        self.after_record(changed).await
    }

    async fn present(&mut self, anchor: &str) -> Result<(), SinkError> {
        self.taking()?;
        // A connector that names unchanged objects lists them all: the whole index serves it.
        self.complete_index().await?;
        self.outstanding.met(anchor);
        if let Some(slot) = self.index.get_mut(anchor)
            && !slot.seen
        {
            slot.seen = true;
            slot.named = true;
            if slot.present {
                self.rec.counters.unchanged += 1;
            }
        }
        self.after_record(false).await
    }

    async fn error(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        self.taking()?;
        let object = anchor.unwrap_or_default();
        self.look_up(&object).await?;
        if let Some(slot) = self.index.get_mut(object.as_str()) {
            // Identified but unreadable: keep what is staged, never treat it as deleted.
            slot.seen = true;
        }
        self.gaps.unreadable(&locator);
        let message = located(&locator, message);
        if object.is_empty() {
            Outstanding::unidentified(&mut self.batch, &locator, &message);
        } else {
            self.outstanding
                .rejected(&mut self.batch, &object, Some(&locator), &message);
        }
        self.rec.error(self.connector, &object, "", message);
        self.after_record(false).await
    }

    async fn warning(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        self.taking()?;
        let message = located(&locator, message);
        tracing::warn!(connector = self.connector, "{message}");
        self.rec.outcome(ObjectOutcome {
            connector: self.connector.to_owned(),
            object: anchor.unwrap_or_default(),
            object_type: String::new(),
            action: "warning".into(),
            message: Some(message),
            changes: Vec::new(),
        });
        self.after_record(false).await
    }

    async fn incomplete(&mut self, reason: String) -> Result<(), SinkError> {
        self.taking()?;
        self.rec.error(self.connector, "", "", reason.clone());
        self.gaps.missed.push(reason);
        Ok(())
    }

    async fn end_of_listing_of(&mut self, object_types: &[&str]) -> Result<Listed, SinkError> {
        self.taking()?;
        self.complete_index().await?;
        let mut of_types = HashSet::new();
        for t in object_types {
            let anchors = self
                .store
                .anchors_of_type(self.connector_id, t)
                .await
                .map_err(|e| SinkError(e.to_string()))?;
            of_types.extend(anchors);
        }
        self.listing_ended(Some(&of_types)).await
    }

    async fn end_of_listing(&mut self) -> Result<Listed, SinkError> {
        self.taking()?;
        self.complete_index().await?;
        self.listing_ended(None).await
    }
}

impl Sink<'_> {
    /// Makes sure the index has `anchor`'s slot, if it is staged.
    async fn look_up(&mut self, anchor: &str) -> Result<(), SinkError> {
        self.index
            .look_up(self.store, self.connector_id, &[anchor], 1)
            .await
    }

    /// The staged id of an object this import added, which a later version updates: the
    /// batches so far are written first (rare: an entry that changed while it was listed).
    async fn learn_id(&mut self, anchor: &str) -> Result<(), SinkError> {
        let added = self
            .index
            .get(anchor)
            .is_some_and(|slot| slot.present && slot.id.is_none());
        if !added {
            return Ok(());
        }
        self.progress.advance(self.pending as u64);
        self.flush(None).await?;
        self.writer.written().await?;
        let found = self
            .store
            .anchor_infos(self.connector_id, &[anchor.to_owned()])
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        if let (Some(a), Some(slot)) = (found.first(), self.index.get_mut(anchor)) {
            slot.id = Some(a.id);
        }
        Ok(())
    }

    /// Reads the rest of the index: every staged anchor not looked up yet.
    async fn complete_index(&mut self) -> Result<(), SinkError> {
        self.index.complete(self.store, self.connector_id).await
    }

    /// Deletes every staged object not seen, of those in `only` when given (a listing of some
    /// types), unless the listing is incomplete.
    async fn listing_ended(&mut self, only: Option<&HashSet<String>>) -> Result<Listed, SinkError> {
        // The listing is finished: its deletions are applied whole, without stopping halfway.
        self.listed = true;
        self.outstanding
            .listed(&mut self.batch, !self.gaps.any(), only);
        if self.gaps.any() {
            let kept = self
                .index
                .values()
                .filter(|s| s.present && !s.seen && s.id.is_some())
                .count();
            let message = self.gaps.message(kept);
            tracing::warn!(connector = self.connector, "{message}");
            self.withheld = Some(message.clone());
            return Ok(Listed {
                deleted: Vec::new(),
                incomplete: Some(message),
            });
        }
        let gone: Vec<String> = self
            .index
            .iter()
            .filter(|(a, s)| {
                s.present && !s.seen && s.id.is_some() && only.is_none_or(|o| o.contains(&***a))
            })
            .map(|(a, _)| a.to_string())
            .collect();
        let mut deleted = Vec::with_capacity(gone.len());
        for chunk in gone.chunks(BATCH) {
            let staged = self
                .store
                .staged_by_anchors(self.connector_id, chunk)
                .await
                .map_err(|e| SinkError(e.to_string()))?;
            for s in staged {
                if let Some(slot) = self.index.get_mut(s.anchor.as_str()) {
                    slot.present = false;
                }
                self.batch.deletes.push(s.id);
                self.rec.counters.deleted += 1;
                self.rec.outcome(ObjectOutcome {
                    connector: self.connector.to_owned(),
                    object: s.anchor.clone(),
                    object_type: s.object_type.clone(),
                    action: "deleted".into(),
                    message: Some("no longer in the source".into()),
                    changes: Vec::new(),
                });
                deleted.push(DeletedObject {
                    anchor: s.anchor,
                    object_type: s.object_type,
                    attrs: s.attrs.unwrap_or_default(),
                });
                self.after_record(true).await?;
            }
        }
        Ok(Listed {
            deleted,
            incomplete: None,
        })
    }
}

pub(crate) async fn run(
    ctx: &RunCtx<'_>,
    c: &ConnectorCtx,
    mode: ImportMode,
    rec: &mut Recorder,
) -> Result<StepEnd, EngineError> {
    let store = ctx.store;
    let row = store
        .ensure_connector(&c.name, ctx.rules.id, c.connector.kind())
        .await?;
    let watermark = match mode {
        ImportMode::Delta => row.watermark.clone(),
        ImportMode::Full => None,
    };
    // A connector that reads only what changed since its watermark names few objects: in a
    // large staging space, their slots are looked up as they come instead of reading it whole.
    let lazy = watermark.is_some()
        && c.connector.capabilities().delta_import
        && store
            .staged_more_than(c.id, ctx.options.look_up_from.unwrap_or(LOOK_UP_FROM))
            .await?;
    let index = if lazy {
        AnchorIndex::lazy()
    } else {
        AnchorIndex::read(store.anchor_index(c.id).await?)
    };
    // A lazy index is of a large staging space.
    let staging_empty = !lazy && index.is_empty();
    let status_file = (!ctx.options.preview).then(|| {
        ctx.options
            .status_dir
            .join(format!("{}-{}-import-status.csv", rec.run_id, c.name))
    });
    ctx.options
        .progress
        .start(&format!("{}: import", c.name), None);
    let request = ImportRequest {
        mode,
        watermark,
        status_file: status_file.clone(),
        // A target never imported nor provisioned yet: its first export creates it.
        absent_is_empty: staging_empty && c.exports(),
    };
    let mut sink = Sink {
        store,
        writer: Writer::start(ctx.shared.clone()),
        connector: &c.name,
        connector_id: c.id,
        index,
        batch: ImportBatch::default(),
        rec,
        flushed: Counters::default(),
        progress: ctx.options.progress.as_ref(),
        pending: 0,
        character_rule: c.character_rule,
        stop: &ctx.options.stop,
        read: 0,
        listed: false,
        stopped: false,
        gaps: Gaps::default(),
        withheld: None,
        outstanding: Outstanding::load(store, c.id).await?,
    };
    let imported = c.connector.import(request, &mut sink).await;
    if sink.stopped {
        // The batches sent are written; the listing was cut short, so the watermark stays where
        // the last complete import left it and nothing is deleted for not being seen.
        if let Err(e) = sink.writer.finish().await {
            sink.rec.counters = sink.writer.committed.clone();
            return Err(EngineError::Connector(e.0));
        }
        return Ok(StepEnd::stop_requested());
    }
    let summary = match imported {
        Ok(summary) => summary,
        Err(e) => {
            // What was read is written (each batch whole, the last one too, without the
            // watermark) before the run is marked failed; its counters say what was stored.
            let _ = sink.flush(None).await;
            let _ = sink.writer.finish().await;
            let read = sink.rec.counters.added + sink.rec.counters.updated;
            sink.rec.counters = sink.writer.committed.clone();
            let stored = sink.rec.counters.added + sink.rec.counters.updated;
            let listing = if sink.listed {
                String::new()
            } else {
                format!(
                    "; the listing is incomplete, so no deletions were inferred{}. Run the import again once this is fixed",
                    if read > 0 {
                        format!(
                            " ({stored} new or changed objects read before it were imported{})",
                            not_stored(read - stored)
                        )
                    } else {
                        String::new()
                    }
                )
            };
            return Err(EngineError::Connector(format!(
                "import from connector {} failed: {e}{listing}",
                c.name
            )));
        }
    };
    // An import that could not read everything keeps the last complete one's watermark, so
    // the next delta import reads again what this one missed (and the deletions it withheld).
    let incomplete = sink.gaps.any();
    let watermark = if incomplete {
        None
    } else {
        summary.watermark.clone()
    };
    // Every batch is written before the run ends.
    let written = match sink.flush(watermark).await {
        Ok(()) => sink.writer.finish().await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        let read = sink.rec.counters.added + sink.rec.counters.updated + sink.rec.counters.deleted;
        sink.rec.counters = sink.writer.committed.clone();
        let k = &sink.rec.counters;
        let stored = k.added + k.updated + k.deleted;
        return Err(EngineError::Connector(format!(
            "import from connector {} failed: {}; {stored} changes were stored{}, and the watermark was not. Run the import again once this is fixed",
            c.name,
            e.0,
            not_stored(read - stored)
        )));
    }
    let mut notes: Vec<String> = sink.withheld.take().into_iter().collect();
    if summary.skipped_unchanged && summary.note.is_none() {
        notes.push("the source has not changed since the last import".to_owned());
    }
    notes.extend(summary.note);
    let written = status_file
        .filter(|p| p.exists())
        .map(|p| p.display().to_string());
    Ok(StepEnd {
        message: (!notes.is_empty()).then(|| notes.join("; ")),
        status_file: written,
        stopped: None,
        incomplete,
    })
}
