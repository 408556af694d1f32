//! From a configuration to running connectors: the check `ucsync check`, the API and a file
//! applied at start all share. Reference attributes are checked here ([`references::check`]),
//! and each connector is built knowing the references the declarations imply and with the
//! settings it takes from another connector ([`lent`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Config, ConfigProblem, lent, references, validate};
use crate::{Connector, ConnectorFactory};

/// Every connector of `config`, built; or every problem, with its key path. Relative paths in
/// settings are read from `config.base_dir` (else the working directory).
pub fn build_all(
    config: &Config,
    factory: &dyn ConnectorFactory,
) -> Result<BTreeMap<String, Arc<dyn Connector>>, Vec<ConfigProblem>> {
    let mut problems = validate(config, factory);
    if problems.is_empty() {
        problems = references::check(config, factory);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let base = Path::new(config.base_dir.as_deref().unwrap_or("."));
    // Each connector that translates references knows those the declarations imply.
    let mut settings = references::completed_settings(config, factory);
    lent::complete(config, factory, &mut settings);
    let mut built = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, c) in &config.connectors {
        let s = settings.get(name).unwrap_or(&c.settings);
        match factory.build(name, &c.kind, s, base) {
            Ok(connector) => {
                built.insert(name.clone(), connector);
            }
            Err(e) => problems.push(ConfigProblem::new(format!("connectors.{name}"), e)),
        }
    }
    if problems.is_empty() {
        Ok(built)
    } else {
        Err(problems)
    }
}

/// The configuration as TOML text, as the store keeps it and `ucsync config export` writes it.
pub fn to_text(config: &Config) -> Result<String, String> {
    toml::to_string(config).map_err(|e| format!("cannot write the configuration as TOML: {e}"))
}
