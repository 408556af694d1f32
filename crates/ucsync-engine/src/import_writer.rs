//! The import's store writer: batches written in order on a task of their own, so that reading
//! the source and writing the store run side by side.

use ucsync_model::SinkError;
use ucsync_store::{Counters, ImportBatch, Store};

enum Job {
    /// A batch to write, with what the recorder counted for it.
    Batch(ImportBatch, Counters),
    /// Answered once every batch sent before is written.
    Written(tokio::sync::oneshot::Sender<()>),
}

/// Writes import batches in order on another task, so that reading the source and writing
/// the store run side by side. Each batch goes with what the recorder counted for it, and the
/// writer adds that up for the batches it committed: a run that fails reports what is stored,
/// not what was read.
pub(crate) struct Writer {
    tx: Option<tokio::sync::mpsc::Sender<Job>>,
    task: Option<tokio::task::JoinHandle<(Counters, Result<(), ucsync_store::StoreError>)>>,
    /// The counters of the batches committed, complete once [`Writer::finish`] returned.
    pub(crate) committed: Counters,
}

impl Writer {
    pub(crate) fn start(store: std::sync::Arc<dyn Store>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Job>(2);
        let task = tokio::spawn(async move {
            let mut committed = Counters::default();
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Batch(batch, counted) => {
                        if let Err(e) = store.apply_import_batch(batch).await {
                            return (committed, Err(e));
                        }
                        committed.add(&counted);
                    }
                    Job::Written(done) => {
                        let _ = done.send(());
                    }
                }
            }
            (committed, Ok(()))
        });
        Self {
            tx: Some(tx),
            task: Some(task),
            committed: Counters::default(),
        }
    }

    pub(crate) async fn send(
        &mut self,
        batch: ImportBatch,
        counted: Counters,
    ) -> Result<(), SinkError> {
        self.job(Job::Batch(batch, counted)).await
    }

    /// Waits until every batch sent so far is written; the writer goes on taking batches.
    pub(crate) async fn written(&mut self) -> Result<(), SinkError> {
        let (done, written) = tokio::sync::oneshot::channel();
        self.job(Job::Written(done)).await?;
        match written.await {
            Ok(()) => Ok(()),
            // The writer stopped on an error before it got there.
            Err(_) => self.job_failed().await,
        }
    }

    async fn job(&mut self, job: Job) -> Result<(), SinkError> {
        let sent = match &self.tx {
            Some(tx) => tx.send(job).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            self.job_failed().await
        }
    }

    /// The error that stopped the writer.
    async fn job_failed(&mut self) -> Result<(), SinkError> {
        Err(self
            .finish()
            .await
            .err()
            .unwrap_or_else(|| SinkError("the store writer stopped".into())))
    }

    /// Waits until every batch sent is written; the first write error, if any.
    pub(crate) async fn finish(&mut self) -> Result<(), SinkError> {
        self.tx = None;
        match self.task.take() {
            Some(task) => match task.await {
                Ok((committed, result)) => {
                    self.committed = committed;
                    result.map_err(|e| SinkError(e.to_string()))
                }
                Err(e) => Err(SinkError(format!("the store writer stopped: {e}"))),
            },
            None => Ok(()),
        }
    }
}

/// What `now` counted since `before`.
pub(crate) fn since(now: &Counters, before: &Counters) -> Counters {
    Counters {
        added: now.added - before.added,
        updated: now.updated - before.updated,
        deleted: now.deleted - before.deleted,
        unchanged: now.unchanged - before.unchanged,
        errors: now.errors - before.errors,
    }
}
