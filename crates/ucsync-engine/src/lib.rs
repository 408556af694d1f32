//! The sync engine: run profiles over an enterprise's connectors, rules, preview and the
//! deletion threshold.
//!
//! The engine knows no connector kind and no SQL: it talks to connectors through the
//! [`Connector`] trait and to the store through [`Store`]. Every step works in batches that the
//! store commits atomically, so a run killed at any moment, or asked to stop at a batch boundary
//! ([`Stop`]), leaves a store from which the next run converges to the same result.

pub mod account;
mod export;
mod fingerprint;
mod history;
mod import;
mod import_errors;
mod import_gaps;
mod import_index;
mod import_writer;
mod progress;
mod removed;
mod rules;
mod run;
mod stop;
mod sync;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ucsync_model::{Config, Connector};
use ucsync_store::Store;

pub use progress::{NoProgress, Progress};
pub use removed::connectors_left_out;
pub use run::{Profile, RunReport, RunStatus};
pub use stop::Stop;

/// Failures that stop a run (per-object problems are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] ucsync_store::StoreError),
    #[error("{0}")]
    Connector(String),
    #[error("{0}")]
    Usage(String),
}

/// Options of one run.
#[derive(Clone)]
pub struct RunOptions {
    /// Report what would change and commit nothing.
    pub preview: bool,
    /// Deletes allowed for this run beyond the threshold.
    pub allow_deletes: Option<u64>,
    /// Where import status files are written (`<dir>/<run id>-<connector>.csv`).
    pub status_dir: PathBuf,
    pub progress: Arc<dyn Progress>,
    /// Staged objects per sync batch; `None` is 1,000.
    pub sync_batch: Option<i64>,
    /// From how many staged objects a delta import of a connector that reads only what changed
    /// looks up the anchors it is given instead of reading its whole staging index; `None` is
    /// 50,000.
    pub look_up_from: Option<i64>,
    /// Changes per batch sent to a connector that exports change by change (LDAP, SCIM);
    /// `None` is 8,000. A stop request is honoured between batches. For a connector that is
    /// sent its whole image (CSV), objects per page read from the staging space; `None` is
    /// 5,000.
    pub export_batch: Option<i64>,
    /// Told the id of the run as soon as it is recorded (a server answers with it at once).
    pub started: Option<Arc<dyn Fn(i64) + Send + Sync>>,
    /// Asks the run to stop at its next batch boundary (after a commit, never inside one); the
    /// run then ends as [`RunStatus::Stopped`]. `Stop::default()` is never requested.
    pub stop: Stop,
    /// Who starts the run, recorded with it and in the audit: an administrator's name,
    /// `scheduler`, or `local` (the command line without a server).
    pub started_by: String,
}

/// Runs profiles against one store with one configuration.
pub struct Engine {
    store: Arc<dyn Store>,
    config: Config,
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

impl Engine {
    /// `connectors` holds a built connector for every configured connector name.
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        connectors: BTreeMap<String, Arc<dyn Connector>>,
    ) -> Self {
        Self {
            store,
            config,
            connectors,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs one profile on one connector.
    pub async fn run_profile(
        &self,
        connector: &str,
        profile: Profile,
        options: &RunOptions,
    ) -> Result<RunReport, EngineError> {
        let conf = self.config.connectors.get(connector).ok_or_else(|| {
            EngineError::Usage(format!(
                "no connector named \"{connector}\"; configured: {}",
                self.config
                    .connectors
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if profile == Profile::SyncNow {
            return Err(EngineError::Usage(
                "sync-now runs a whole enterprise: use `ucsync sync-now --enterprise NAME`".into(),
            ));
        }
        let enterprise = conf.enterprise.clone();
        run::execute(self, &enterprise, Some(connector), profile, options).await
    }

    /// Runs import, sync and export for every connector of an enterprise, in its order.
    pub async fn sync_now(
        &self,
        enterprise: &str,
        options: &RunOptions,
    ) -> Result<RunReport, EngineError> {
        if !self
            .config
            .enterprise_names()
            .iter()
            .any(|e| e == enterprise)
        {
            return Err(EngineError::Usage(format!(
                "no enterprise named \"{enterprise}\"; configured: {}",
                self.config.enterprise_names().join(", ")
            )));
        }
        run::execute(self, enterprise, None, Profile::SyncNow, options).await
    }
}
