//! Tests of the peer connector: `settings` (every rule at its boundaries, through the same
//! reader `ucsync check`, the API and the console use), `dial` (the dial-string rule), `tls`
//! (certificates refused and accepted, against the test kit's HTTPS server with certificates
//! made by `openssl`), `import` (full, delta, start over and malformed pages, from a scripted
//! feed: the peer's server side is not on main yet).

mod dial;
mod import;
mod settings;
mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ucsync_model::{Connector, ConnectorFactory};

use super::PeerSettings;
use crate::Connectors;
pub use crate::test_sink::MemorySink;

/// The problems of a settings table, by key path below `s`.
pub fn problems(text: &str) -> BTreeMap<String, String> {
    let table: toml::Table = text.parse().unwrap();
    crate::settings::read::<PeerSettings>(&table, "s")
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect()
}

/// Settings that validate, with `more` lines added.
pub fn valid(more: &str) -> PeerSettings {
    let text = format!("{}{more}", minimal(""));
    let table: toml::Table = text.parse().unwrap();
    crate::settings::read::<PeerSettings>(&table, "s").unwrap()
}

/// The keys a ucsync peer needs, each unless `without` names it.
pub fn minimal(without: &str) -> String {
    [
        ("description", "description = \"Branch B\"\n"),
        ("host", "host = \"peer.example.com\"\n"),
        ("token", "token = \"t0ken\"\n"),
        ("peer_enterprise_id", "peer_enterprise_id = \"acme-hq\"\n"),
    ]
    .iter()
    .filter(|(key, _)| *key != without)
    .map(|(_, line)| *line)
    .collect()
}

/// A peer connector built by the factory from TOML settings.
pub fn connector(settings: &str) -> Arc<dyn Connector> {
    let table: toml::Table = settings.parse().unwrap();
    Connectors
        .build("peer-b", "peer", &table, Path::new("/"))
        .unwrap()
}
