//! Sync batches overlap: while one batch is written to the store, the next one is read and
//! decided from the last committed state. What a batch read is recorded; if the batch being
//! written touches any of it, the next batch is decided again once that write has committed.
//! So every batch decides from the same state as if the batches ran one after the other.

use ucsync_model::attrs::hash_bytes;

use super::HashSet;

use ucsync_store::{Entry, StagedLink, StagedObject, Store, StoreError, SyncBatch};

/// What one batch read from the store.
#[derive(Default)]
pub(crate) struct ReadSet {
    entries: HashSet<i64>,
    keys: HashSet<i64>,
    staged: HashSet<i64>,
    anchors: HashSet<(i64, i64)>,
}

/// An anchor as the read and write sets keep it: hashed, since a collision only costs a batch
/// decided once more.
fn anchor_key(connector_id: i64, anchor: &str) -> (i64, i64) {
    (connector_id, hash_bytes(anchor.as_bytes()))
}

impl ReadSet {
    pub fn objects(&mut self, rows: &[StagedObject]) {
        self.rows(rows.iter().map(|s| (s.id, s.entry_id)));
    }

    /// Staged rows read: their ids and the entries they link to.
    fn rows(&mut self, rows: impl Iterator<Item = (i64, Option<i64>)>) {
        for (id, entry) in rows {
            self.staged.insert(id);
            self.entries.extend(entry);
        }
    }

    pub async fn entries_by_ids(
        &mut self,
        store: &dyn Store,
        ids: &[i64],
    ) -> Result<Vec<Entry>, StoreError> {
        self.entries.extend(ids);
        store.entries_by_ids(ids).await
    }

    pub async fn entries_by_keys(
        &mut self,
        store: &dyn Store,
        keys: &[i64],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        self.keys.extend(keys);
        let found = store.entries_by_keys(keys).await?;
        self.entries.extend(found.iter().map(|(_, e)| *e));
        Ok(found)
    }

    pub async fn staged_by_entries(
        &mut self,
        store: &dyn Store,
        ids: &[i64],
    ) -> Result<Vec<StagedObject>, StoreError> {
        self.entries.extend(ids);
        let found = store.staged_by_entries(ids).await?;
        self.objects(&found);
        Ok(found)
    }

    pub async fn links_by_entries(
        &mut self,
        store: &dyn Store,
        ids: &[i64],
    ) -> Result<Vec<StagedLink>, StoreError> {
        self.entries.extend(ids);
        let found = store.links_by_entries(ids).await?;
        self.rows(found.iter().map(|s| (s.id, s.entry_id)));
        Ok(found)
    }

    pub async fn links_by_anchors(
        &mut self,
        store: &dyn Store,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedLink>, StoreError> {
        self.anchors
            .extend(anchors.iter().map(|a| anchor_key(connector_id, a)));
        let found = store.links_by_anchors(connector_id, anchors).await?;
        self.rows(found.iter().map(|s| (s.id, s.entry_id)));
        Ok(found)
    }

    pub async fn staged_by_anchors(
        &mut self,
        store: &dyn Store,
        connector_id: i64,
        anchors: &[String],
    ) -> Result<Vec<StagedObject>, StoreError> {
        self.anchors
            .extend(anchors.iter().map(|a| anchor_key(connector_id, a)));
        let found = store.staged_by_anchors(connector_id, anchors).await?;
        self.objects(&found);
        Ok(found)
    }
}

/// What one batch writes, in the terms of [`ReadSet`].
#[derive(Default)]
struct WriteSet {
    entries: HashSet<i64>,
    keys: HashSet<i64>,
    staged: HashSet<i64>,
    anchors: HashSet<(i64, i64)>,
}

impl WriteSet {
    fn of(batch: &SyncBatch) -> Self {
        let mut w = WriteSet::default();
        for e in &batch.entries {
            w.entries.insert(e.id);
            w.keys.extend(&e.keys);
        }
        w.entries.extend(&batch.deleted_entries);
        w.keys.extend(batch.stale_keys.iter().map(|(k, _)| *k));
        for s in &batch.staged {
            w.staged.insert(s.id);
            w.entries.extend(s.entry_id);
        }
        w.staged.extend(&batch.staged_deletes);
        for s in &batch.staged_inserts {
            w.entries.insert(s.entry_id);
            w.anchors.insert(anchor_key(s.connector_id, &s.anchor));
        }
        w
    }

    fn touches(&self, r: &ReadSet) -> bool {
        fn meet<T: std::hash::Hash + Eq>(a: &HashSet<T>, b: &HashSet<T>) -> bool {
            let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            small.iter().any(|x| large.contains(x))
        }
        meet(&self.entries, &r.entries)
            || meet(&self.keys, &r.keys)
            || meet(&self.staged, &r.staged)
            || meet(&self.anchors, &r.anchors)
    }
}

/// A batch being written by another task.
pub(crate) struct InFlight {
    task: tokio::task::JoinHandle<Result<(), StoreError>>,
    writes: WriteSet,
    /// Fires once this batch is committed (`true`) or has failed; the batch after it waits.
    done: Option<tokio::sync::oneshot::Receiver<bool>>,
}

impl InFlight {
    /// Starts writing `batch` once `before`, the batch started last, has committed; if that one
    /// fails, this one is not written.
    pub fn start(
        store: std::sync::Arc<dyn Store>,
        batch: SyncBatch,
        before: Option<&mut InFlight>,
    ) -> Self {
        let writes = WriteSet::of(&batch);
        let before = before.and_then(|b| b.done.take());
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            if let Some(before) = before
                && before.await != Ok(true)
            {
                return Err(StoreError::Sql {
                    doing: "writing a sync batch",
                    message: "not written: the batch before it failed".into(),
                });
            }
            let result = store.apply_sync_batch(batch).await;
            let _ = done_tx.send(result.is_ok());
            result
        });
        InFlight {
            task,
            writes,
            done: Some(done),
        }
    }

    /// Whether a batch that read `reads` must be decided again after this write.
    pub fn invalidates(&self, reads: &ReadSet) -> bool {
        self.writes.touches(reads)
    }

    /// Waits until the batch is committed.
    pub async fn finish(self) -> Result<(), StoreError> {
        crate::run::written(self.task, "writing a sync batch").await
    }
}
