//! An in-memory stand-in for the engine's import sink, shared by the connector tests.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use ucsync_model::{
    Attrs, DeletedObject, ImportRecord, ImportSink, Listed, RecordStatus, SinkError,
};

/// Stages what it is given, like the engine: answers Created / Updated / Unchanged by comparing
/// with what it holds, refuses a second object with the same anchor, and on `end_of_listing`
/// deletes what was not seen, unless an error or a gap made the listing incomplete.
#[derive(Default)]
pub struct MemorySink {
    pub staged: BTreeMap<String, (String, Attrs)>,
    pub objects: Vec<ImportRecord>,
    /// (anchor, locator, message)
    pub errors: Vec<(Option<String>, String, String)>,
    /// (anchor, locator, message)
    pub warnings: Vec<(Option<String>, String, String)>,
    pub deleted: Vec<DeletedObject>,
    pub listings_ended: usize,
    /// What the connector said its listing misses ([`ImportSink::incomplete`]).
    pub gaps: Vec<String>,
    /// Why the last `end_of_listing` deleted nothing.
    pub withheld: Option<String>,
    /// Anchors the source said were deleted.
    pub deletes: Vec<String>,
    /// Anchors the source said were unchanged.
    pub present: Vec<String>,
    /// The store "fails" when an object with this anchor arrives.
    pub fail_on: Option<String>,
    /// Anchors given again in a later version ([`ImportSink::object_again`]).
    pub again: Vec<String>,
    pub(crate) seen: BTreeSet<String>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets what the last import saw, keeping what is staged.
    pub fn next_run(&mut self) {
        self.objects.clear();
        self.errors.clear();
        self.warnings.clear();
        self.deleted.clear();
        self.gaps.clear();
        self.withheld = None;
        self.deletes.clear();
        self.present.clear();
        self.seen.clear();
    }

    pub fn object(&self, anchor: &str) -> &ImportRecord {
        match self.objects.iter().find(|o| o.anchor == anchor) {
            Some(o) => o,
            None => panic!("no object {anchor} in {:?}", self.objects),
        }
    }

    pub fn anchors(&self) -> Vec<&str> {
        self.objects.iter().map(|o| o.anchor.as_str()).collect()
    }
}

#[async_trait]
impl ImportSink for MemorySink {
    async fn object(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        if self.fail_on.as_deref() == Some(record.anchor.as_str()) {
            return Err(SinkError("the store is full".to_owned()));
        }
        if !self.seen.insert(record.anchor.clone()) {
            return Ok(RecordStatus::Error(format!(
                "another row already has the anchor {}",
                record.anchor
            )));
        }
        let status = match self.staged.get(&record.anchor) {
            None => RecordStatus::Created,
            Some((_, attrs)) if *attrs == record.attrs => RecordStatus::Unchanged,
            Some(_) => RecordStatus::Updated,
        };
        self.staged.insert(
            record.anchor.clone(),
            (record.object_type.clone(), record.attrs.clone()),
        );
        self.objects.push(record);
        Ok(status)
    }

    /// Replaces the earlier version: `objects` keeps each anchor once, in the order of the
    /// versions kept.
    async fn object_again(&mut self, record: ImportRecord) -> Result<RecordStatus, SinkError> {
        if !self.seen.contains(&record.anchor) {
            return self.object(record).await;
        }
        self.again.push(record.anchor.clone());
        self.objects.retain(|o| o.anchor != record.anchor);
        let status = match self.staged.get(&record.anchor) {
            Some((_, attrs)) if *attrs == record.attrs => RecordStatus::Unchanged,
            _ => RecordStatus::Updated,
        };
        self.staged.insert(
            record.anchor.clone(),
            (record.object_type.clone(), record.attrs.clone()),
        );
        self.objects.push(record);
        Ok(status)
    }

    async fn deleted(&mut self, anchor: &str, _locator: Option<String>) -> Result<(), SinkError> {
        self.seen.insert(anchor.to_owned());
        self.deletes.push(anchor.to_owned());
        self.staged.remove(anchor);
        Ok(())
    }

    async fn present(&mut self, anchor: &str) -> Result<(), SinkError> {
        self.seen.insert(anchor.to_owned());
        self.present.push(anchor.to_owned());
        Ok(())
    }

    async fn error(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        if let Some(a) = &anchor {
            self.seen.insert(a.clone());
        }
        self.errors.push((anchor, locator, message));
        Ok(())
    }

    async fn warning(
        &mut self,
        anchor: Option<String>,
        locator: String,
        message: String,
    ) -> Result<(), SinkError> {
        self.warnings.push((anchor, locator, message));
        Ok(())
    }

    async fn incomplete(&mut self, reason: String) -> Result<(), SinkError> {
        self.gaps.push(reason);
        Ok(())
    }

    async fn end_of_listing_of(&mut self, object_types: &[&str]) -> Result<Listed, SinkError> {
        let others: Vec<String> = self
            .staged
            .iter()
            .filter(|(_, (t, _))| !object_types.contains(&t.as_str()))
            .map(|(a, _)| a.clone())
            .collect();
        let unseen: Vec<String> = others
            .into_iter()
            .filter(|a| self.seen.insert(a.clone()))
            .collect();
        let listed = self.end_of_listing().await;
        for a in unseen {
            self.seen.remove(&a);
        }
        listed
    }

    async fn end_of_listing(&mut self) -> Result<Listed, SinkError> {
        self.listings_ended += 1;
        if !self.errors.is_empty() || !self.gaps.is_empty() {
            let why = format!(
                "the listing is incomplete: {} records could not be read and {} gaps; so no deletions were inferred",
                self.errors.len(),
                self.gaps.len()
            );
            self.withheld = Some(why.clone());
            return Ok(Listed {
                deleted: Vec::new(),
                incomplete: Some(why),
            });
        }
        let gone: Vec<String> = self
            .staged
            .keys()
            .filter(|a| !self.seen.contains(*a))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for anchor in gone {
            if let Some((object_type, attrs)) = self.staged.remove(&anchor) {
                out.push(DeletedObject {
                    anchor,
                    object_type,
                    attrs,
                });
            }
        }
        self.deleted = out.clone();
        Ok(Listed {
            deleted: out,
            incomplete: None,
        })
    }
}
