//! The `pbx` connector: the accounts of a PBX node (MiVoice Business or MiVoice Office 250),
//! read from the CSV file the node exports, one row per phone number. No PBX runs here: the
//! connector reads the documented export format (`docs/PBX.md`) and applies the PBX account
//! rules to it. It is import-only and lists every account on every import.
//!
//! This module wires the settings ([`config`]), the export file ([`records`]), the account
//! rules ([`rules`]) and [`import`] into one [`Connector`]. It knows nothing of the directory,
//! the rules of ucsync or the store; the number-retention rule is the engine's, switched on
//! through [`Capabilities::retains_referenced_numbers`] (the valid-character rule is on for every
//! kind).

mod config;
mod import;
mod records;
mod rules;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use ucsync_model::{
    Attrs, Capabilities, Connector, ConnectorError, ImportRequest, ImportSink, ImportSummary,
    SynchronizerType,
};

pub use config::{Flavor, PbxSettings, PbxSettingsAsWritten, outgoing_digit_problem};
pub use rules::attr;

use crate::Kind;

/// The one object type a pbx connector stages.
pub const ACCOUNT: &str = "account";

/// What a pbx connector can do: list every account of the export; never write. A number a node
/// stops listing stays on its account while the account's hand-added numbers or dynamic
/// statuses refer to it, and an account it stops giving stays while it has any of them (both
/// flavors).
pub const CAPABILITIES: Capabilities = Capabilities {
    delta_import: false,
    export: None,
    retains_referenced_numbers: true,
    one_way: false,
};

/// The registry entry of the `pbx` kind.
pub(crate) const KIND: Kind = Kind {
    name: "pbx",
    capabilities: CAPABILITIES,
    synchronizer: Some(SynchronizerType {
        name: "pbx",
        title: "PBX node synchronizers",
    }),
    validate: crate::settings::validate::<PbxSettings>,
    build: crate::build_kind::<PbxSettings, PbxConnector>,
    secrets: &[],
    references: None,
    lent: &[],
    default_schedule: None,
    suggested_import_flows: &[],
};

impl crate::FromSettings<PbxSettings> for PbxConnector {
    fn from_settings(name: &str, settings: PbxSettings) -> Self {
        Self::new(name, settings)
    }
}

/// One configured pbx connector (one PBX node synchronizer).
#[derive(Debug, Clone)]
pub struct PbxConnector {
    name: String,
    settings: Arc<PbxSettings>,
}

impl PbxConnector {
    /// A connector over validated settings whose path is already absolute (or meant relative to
    /// the working directory).
    pub fn new(name: &str, settings: PbxSettings) -> Self {
        Self {
            name: name.to_owned(),
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &PbxSettings {
        &self.settings
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T, ConnectorError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ConnectorError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ConnectorError::Unavailable(format!(
            "a file task of the pbx connector stopped unexpectedly ({e}); run it again, and report it if it repeats"
        ))
    })?
}

#[async_trait]
impl Connector for PbxConnector {
    fn kind(&self) -> &'static str {
        "pbx"
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn import_settings(&self) -> String {
        // Not `feature_profile`: it is given to accounts when they are created, not read.
        let s = &self.settings;
        format!(
            "path={:?} flavor={} dynamic_extensions_only={} delimiter={} encoding={:?}",
            s.path,
            s.flavor.name(),
            s.dynamic_extensions_only,
            s.delimiter,
            s.encoding
        )
    }

    fn object_types(&self) -> Vec<String> {
        vec![ACCOUNT.to_owned()]
    }

    fn anchor_for(&self, object_type: &str, _attrs: &Attrs) -> Result<String, String> {
        Err(format!(
            "the pbx connector \"{}\" is import-only: it reads the export of a PBX node and cannot create {object_type} objects there; remove provisioning and export flows from this connector",
            self.name
        ))
    }

    /// The feature profile of this synchronizer, given once to every account it creates.
    fn initial_values(&self, object_type: &str) -> Attrs {
        let mut attrs = Attrs::new();
        if object_type == ACCOUNT
            && let Some(profile) = &self.settings.feature_profile
        {
            attrs.set_one(attr::FEATURE_PROFILE, profile.as_str());
        }
        attrs
    }

    async fn check_connection(&self) -> Result<(), ConnectorError> {
        let path = self.settings.path.clone();
        blocking(move || import::open(&path).map(drop)).await
    }

    async fn import(
        &self,
        request: ImportRequest,
        sink: &mut dyn ImportSink,
    ) -> Result<ImportSummary, ConnectorError> {
        import::import(&self.name, &self.settings, request, sink).await
    }
}
