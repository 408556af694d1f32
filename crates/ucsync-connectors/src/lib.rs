//! The connector kinds of ucsync, one module per kind, and [`Connectors`], the registry that
//! validates their settings and builds them for the engine.
//!
//! Each kind owns its settings, its validation and how it talks to its external system. This
//! crate knows nothing of the directory, the rules or the store: connectors meet the engine only
//! through the model's [`Connector`] trait. Adding a kind means adding a module beside `csv`
//! (its settings a struct that serde reads and that validates itself, see [`settings`]) and one
//! [`Kind`] in [`KINDS`], which declares what the kind can do.

pub mod communities;
pub mod csv;
mod http;
pub mod ldap;
pub mod pbx;
pub mod peer;
mod settings;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod test_sink;
mod tls;

use std::path::Path;
use std::sync::Arc;

use ucsync_model::config::{LentSetting, StagedReferences};
use ucsync_model::{Capabilities, ConfigProblem, Connector, ConnectorFactory, SynchronizerType};

/// Checks a settings table and reports every problem; `at` is the table's key path.
type ValidateFn = fn(settings: &toml::Table, at: &str) -> Vec<ConfigProblem>;
/// Builds a running connector; relative paths are taken from `base_dir`.
type BuildFn =
    fn(name: &str, settings: &toml::Table, base_dir: &Path) -> Result<Arc<dyn Connector>, String>;

/// A connector made from its kind's parsed settings.
pub(crate) trait FromSettings<S>: Connector + Sized + 'static {
    fn from_settings(name: &str, settings: S) -> Self;
}

/// A kind's [`BuildFn`]: settings parsed (relative paths from `base_dir`), then the connector.
pub(crate) fn build_kind<S: settings::KindSettings, C: FromSettings<S>>(
    name: &str,
    settings: &toml::Table,
    base_dir: &Path,
) -> Result<Arc<dyn Connector>, String> {
    let settings = settings::for_build::<S>(name, settings, base_dir)?;
    Ok(Arc::new(C::from_settings(name, settings)))
}

/// One connector kind: its name, what it can do, and how its settings are checked and built.
pub(crate) struct Kind {
    pub name: &'static str,
    pub capabilities: Capabilities,
    /// The type of synchronizer the kind's connectors are; `None` for a kind that is none.
    pub synchronizer: Option<SynchronizerType>,
    pub validate: ValidateFn,
    pub build: BuildFn,
    /// Settings holding a secret, each with the key naming an environment variable instead.
    pub secrets: &'static [(&'static str, &'static str)],
    /// Where a kind that translates references itself declares them (see
    /// [`ConnectorFactory::staged_references`]); `None` when its references are anchors.
    pub references: Option<fn(settings: &toml::Table) -> StagedReferences>,
    /// Settings the kind's connectors take from another connector of their enterprise.
    pub lent: &'static [LentSetting],
    /// The schedule offered for the kind's connectors (`ucsync connector add`), in the words
    /// of `[schedules.NAME] when`.
    pub default_schedule: Option<&'static str>,
    /// Import flows the kind's connectors are meant to have, as target and expression
    /// ([`ConnectorFactory::suggested_import_flows`]).
    pub suggested_import_flows: &'static [(&'static str, &'static str)],
}

/// The kinds this build knows.
const KINDS: &[Kind] = &[
    self::csv::KIND,
    self::ldap::KIND,
    self::pbx::KIND,
    self::communities::KIND,
    self::peer::KIND,
];

fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

fn unknown_kind(name: &str) -> String {
    let known: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    format!(
        "unknown connector kind \"{name}\"; this build knows: {}",
        known.join(", ")
    )
}

/// The registry of every connector kind of this build.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connectors;

impl ConnectorFactory for Connectors {
    fn kinds(&self) -> Vec<&'static str> {
        KINDS.iter().map(|k| k.name).collect()
    }

    fn capabilities(&self, kind_name: &str) -> Option<Capabilities> {
        kind(kind_name).map(|k| k.capabilities)
    }

    fn synchronizer(&self, kind_name: &str) -> Option<SynchronizerType> {
        kind(kind_name).and_then(|k| k.synchronizer)
    }

    fn validate(&self, kind_name: &str, settings: &toml::Table, path: &str) -> Vec<ConfigProblem> {
        match kind(kind_name) {
            Some(k) => (k.validate)(settings, path),
            None => vec![ConfigProblem::new(path, unknown_kind(kind_name))],
        }
    }

    fn build(
        &self,
        name: &str,
        kind_name: &str,
        settings: &toml::Table,
        base_dir: &Path,
    ) -> Result<Arc<dyn Connector>, String> {
        match kind(kind_name) {
            Some(k) => (k.build)(name, settings, base_dir),
            None => Err(unknown_kind(kind_name)),
        }
    }

    fn secret_keys(&self, kind_name: &str) -> &'static [(&'static str, &'static str)] {
        kind(kind_name).map(|k| k.secrets).unwrap_or(&[])
    }

    fn default_schedule(&self, kind_name: &str) -> Option<&'static str> {
        kind(kind_name).and_then(|k| k.default_schedule)
    }

    fn suggested_import_flows(&self, kind_name: &str) -> &'static [(&'static str, &'static str)] {
        kind(kind_name).map_or(&[], |k| k.suggested_import_flows)
    }

    fn staged_references(
        &self,
        kind_name: &str,
        settings: &toml::Table,
    ) -> Option<StagedReferences> {
        kind(kind_name)
            .and_then(|k| k.references)
            .map(|read| read(settings))
    }

    fn lent_settings(&self, kind_name: &str) -> &'static [LentSetting] {
        kind(kind_name).map(|k| k.lent).unwrap_or(&[])
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_secret_key_is_a_key_of_its_kind() {
        for k in KINDS {
            let keys = match k.name {
                "csv" => settings::keys::<csv::CsvSettings>(),
                "ldap" => settings::keys::<ldap::LdapSettings>(),
                "pbx" => settings::keys::<pbx::PbxSettings>(),
                "communities" => settings::keys::<communities::CommunitiesSettings>(),
                "peer" => settings::keys::<peer::PeerSettings>(),
                other => panic!("kind {other} is missing here"),
            };
            assert!(!keys.is_empty(), "{}", k.name);
            for (secret, env) in k.secrets {
                assert!(keys.contains(secret), "{}: {secret}", k.name);
                assert!(keys.contains(env), "{}: {env}", k.name);
            }
        }
    }

    #[test]
    fn the_kinds_declare_their_synchronizer_types() {
        let types: Vec<(&str, Option<&str>)> = KINDS
            .iter()
            .map(|k| (k.name, k.synchronizer.map(|t| t.name)))
            .collect();
        assert_eq!(
            types,
            [
                ("csv", None),
                ("ldap", Some("ldap")),
                ("pbx", Some("pbx")),
                ("communities", None),
                ("peer", None)
            ]
        );
    }
}
