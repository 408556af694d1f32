//! The vocabulary of ucsync as types: attribute sets, configuration and its validation, the
//! expression language of rules, and the [`Connector`] trait.
//!
//! This crate is the bottom layer: it knows no store, no engine and no connector kind.

pub mod account;
pub mod attrs;
pub mod chars;
pub mod config;
pub mod connector;
pub mod enterprise_id;
pub mod entry;
pub mod expr;
mod names;
pub mod schedule;

use std::path::Path;
use std::sync::Arc;

pub use attrs::{AttrChange, Attrs, EncodedAttrs};
pub use config::{Config, ConfigProblem};
pub use connector::*;
pub use enterprise_id::check_enterprise_id;
pub use entry::EntryAttrs;

/// Builds connectors of the kinds it knows; implemented by the connectors crate.
pub trait ConnectorFactory: Send + Sync {
    /// The kinds this build supports, e.g. `["csv"]`.
    fn kinds(&self) -> Vec<&'static str>;
    /// What a connector of `kind` can do, or `None` for an unknown kind.
    fn capabilities(&self, kind: &str) -> Option<Capabilities>;
    /// The type of synchronizer a connector of `kind` is, or `None` for a kind that is no
    /// synchronizer (its connectors go with any type).
    fn synchronizer(&self, _kind: &str) -> Option<SynchronizerType> {
        None
    }
    /// Problems in a connector's settings table; `path` is the table's key path.
    fn validate(&self, kind: &str, settings: &toml::Table, path: &str) -> Vec<ConfigProblem>;
    /// A running connector. Relative paths in settings are taken from `base_dir` (the directory
    /// of the configuration file).
    fn build(
        &self,
        name: &str,
        kind: &str,
        settings: &toml::Table,
        base_dir: &Path,
    ) -> Result<Arc<dyn Connector>, String>;
    /// The settings of `kind` that hold a secret, each with the key that names an environment
    /// variable holding it instead: `[("password", "password_env")]`. Secrets are never shown
    /// by the API nor written in an exported configuration.
    fn secret_keys(&self, _kind: &str) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// The schedule offered for connectors of `kind` (`daily at 02:00`), if the kind has one.
    fn default_schedule(&self, _kind: &str) -> Option<&'static str> {
        None
    }
    /// Import flows that connectors of `kind` are meant to have (`[("folder", "peer")]`: a
    /// peer's contacts in a folder named after the peer), as target and expression; `ucsync
    /// check` names those a connector's rules leave out.
    fn suggested_import_flows(&self, _kind: &str) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// How a connector of `kind` with these settings holds references to its other objects
    /// (see [`config::StagedReferences`]); `None` for a kind whose reference values are its
    /// anchors already (a CSV file's key values), which needs no declaration of its own.
    fn staged_references(
        &self,
        _kind: &str,
        _settings: &toml::Table,
    ) -> Option<config::StagedReferences> {
        None
    }
    /// The settings connectors of `kind` take from another connector of their enterprise
    /// (see [`config::LentSetting`]).
    fn lent_settings(&self, _kind: &str) -> &'static [config::LentSetting] {
        &[]
    }
}
