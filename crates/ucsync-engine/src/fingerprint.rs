//! When a run does a full import or a full sync by itself, and why.
//!
//! Each connector's row in the store keeps a fingerprint (a hash) of what its import and its
//! sync depend on, as the last finished full import or full sync ran with it, and whether a
//! full import or sync started and did not finish. At the start of a run (once per run, never
//! per object) the fingerprints of the configuration are compared with the stored ones: a delta
//! import or delta sync whose fingerprint changed, or whose full run did not finish, runs as the
//! full one and says why. A full step records its start, and its fingerprint when it finishes.
//!
//! - The import fingerprint: the connector's kind, its valid-character rule and what its
//!   settings say an import reads ([`ucsync_model::Connector::import_settings`]; no secret is
//!   part of it, so a new password forces nothing).
//! - The sync fingerprint of a connector: its own scope, join, projection and import flows,
//!   and what every sync of the enterprise applies to the entries it touches: the sync order,
//!   precedence, references, and every connector's export flows, provisioning and
//!   deprovisioning. A changed import flow makes that connector's next sync a full one; a
//!   changed export flow makes every connector's, so that every entry is pushed out again.
//! - The export fingerprint of a connector with export flows or provisioning whose export is a
//!   whole image ([`ucsync_model::Connector::export_settings`]): when it changed, the next
//!   export writes the whole target again, even with nothing pending.
//!
//! A fingerprint never recorded (a new connector, or a store from before fingerprints) is
//! taken as it is, without a full run.

use std::collections::BTreeMap;

use ucsync_model::Connector;
use ucsync_model::config::{Config, ConnectorConfig, Rules};
use ucsync_store::{FullMark, FullStep, Store};

use crate::EngineError;
use crate::rules::ConnectorCtx;
use crate::run::Profile;

fn hashed(text: &str) -> String {
    format!(
        "{:016x}",
        ucsync_model::attrs::hash_bytes(text.as_bytes()) as u64
    )
}

/// The fingerprint of what an import of this connector reads.
pub(crate) fn import(connector: &dyn Connector, character_rule: bool) -> String {
    hashed(&format!(
        "kind={} character_rule={character_rule} {}",
        connector.kind(),
        connector.import_settings()
    ))
}

/// The fingerprint of how an image export lays out its target; empty when the connector
/// names no such settings.
pub(crate) fn export(connector: &dyn Connector) -> String {
    let settings = connector.export_settings();
    if settings.is_empty() {
        String::new()
    } else {
        hashed(&settings)
    }
}

/// Per connector of the enterprise (by name), the fingerprint of the rules its sync applies.
pub(crate) fn syncs(config: &Config, enterprise: &str) -> BTreeMap<String, String> {
    let econf = config.enterprise(enterprise);
    let order = config.sync_order(enterprise);
    let outward: Vec<serde_json::Value> = order
        .iter()
        .filter_map(|name| config.connectors.get(name).map(|c| (name, c)))
        .map(|(name, c)| {
            serde_json::json!({
                "connector": name,
                "export_flows": c.rules.export_flows,
                "provisioning": c.rules.provisioning,
                "deprovisioning": c.rules.deprovisioning,
            })
        })
        .collect();
    let shared = serde_json::json!({
        "order": order,
        "precedence": econf.precedence,
        "references": econf.references,
        "outward": outward,
    });
    order
        .iter()
        .filter_map(|name| config.connectors.get(name).map(|c| (name, c)))
        .map(|(name, c)| {
            let own = inbound(c);
            (
                name.clone(),
                hashed(&serde_json::json!({ "own": own, "shared": shared }).to_string()),
            )
        })
        .collect()
}

/// The rules that decide how a connector's staged objects meet the directory.
fn inbound(c: &ConnectorConfig) -> serde_json::Value {
    let Rules {
        scope,
        join,
        projection,
        import_flows,
        ..
    } = &c.rules;
    serde_json::json!({
        "scope": scope,
        "join": join,
        "projection": projection,
        "import_flows": import_flows,
    })
}

/// Why the delta import and the delta sync of each connector run as full ones in this run.
#[derive(Default)]
pub(crate) struct Plan {
    import: BTreeMap<i64, String>,
    sync: BTreeMap<i64, String>,
    /// Image exports that write the whole target again, even with nothing pending.
    export: BTreeMap<i64, String>,
}

impl Plan {
    /// Compares the stored fingerprints with the configuration's; fingerprints never recorded
    /// are taken as they are.
    pub async fn read(store: &dyn Store, connectors: &[ConnectorCtx]) -> Result<Self, EngineError> {
        let rows: BTreeMap<i64, ucsync_store::ConnectorRow> = store
            .connectors()
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let mut plan = Plan::default();
        for c in connectors {
            let Some(row) = rows.get(&c.id) else { continue };
            let import = if row.full_import_unfinished {
                Some("the last full import did not finish".to_owned())
            } else {
                match &row.import_fingerprint {
                    None => {
                        store
                            .record_full_step(c.id, FullStep::Import, FullMark::Adopted(&c.import_fingerprint))
                            .await?;
                        None
                    }
                    Some(f) if *f != c.import_fingerprint => Some(
                        "the connector's settings that change what an import reads changed since its last full import"
                            .to_owned(),
                    ),
                    Some(_) => None,
                }
            };
            let sync = if row.full_sync_unfinished {
                Some("the last full sync did not finish".to_owned())
            } else {
                match &row.sync_fingerprint {
                    None => {
                        store
                            .record_full_step(
                                c.id,
                                FullStep::Sync,
                                FullMark::Adopted(&c.sync_fingerprint),
                            )
                            .await?;
                        None
                    }
                    Some(f) if *f != c.sync_fingerprint => {
                        Some("the rules changed since the last full sync".to_owned())
                    }
                    Some(_) => None,
                }
            };
            // Only a target is written again: a connector that only gives values keeps its
            // file as its system wrote it.
            if c.exports() && !c.export_fingerprint.is_empty() {
                match &row.export_fingerprint {
                    None => {
                        store
                            .record_full_step(
                                c.id,
                                FullStep::Export,
                                FullMark::Adopted(&c.export_fingerprint),
                            )
                            .await?;
                    }
                    Some(f) if *f != c.export_fingerprint => {
                        plan.export.insert(
                            c.id,
                            "the whole target is written again: the connector's export settings changed since its last export"
                                .to_owned(),
                        );
                    }
                    Some(_) => {}
                }
            }
            if let Some(why) = import {
                plan.import.insert(c.id, why);
            }
            if let Some(why) = sync {
                plan.sync.insert(c.id, why);
            }
        }
        Ok(plan)
    }

    /// Why an image export of `c` writes the whole target even with nothing pending.
    pub fn rewrite(&self, c: &ConnectorCtx) -> Option<&str> {
        self.export.get(&c.id).map(String::as_str)
    }

    /// The profile a step of `c` runs as, and why when it is not the one asked for.
    pub fn profile(&self, c: &ConnectorCtx, asked: Profile) -> (Profile, Option<String>) {
        let (full, why) = match asked {
            Profile::DeltaImport => (Profile::FullImport, self.import.get(&c.id)),
            Profile::DeltaSync => (Profile::FullSync, self.sync.get(&c.id)),
            _ => return (asked, None),
        };
        match why {
            Some(why) => (
                full,
                Some(format!(
                    "{} instead of {}: {why}",
                    full.as_str(),
                    asked.as_str()
                )),
            ),
            None => (asked, None),
        }
    }
}

/// The store's record of a full step, and the fingerprint it finishes with.
pub(crate) fn full_step(c: &ConnectorCtx, profile: Profile) -> Option<(FullStep, &str)> {
    match profile {
        Profile::FullImport => Some((FullStep::Import, c.import_fingerprint.as_str())),
        Profile::FullSync => Some((FullStep::Sync, c.sync_fingerprint.as_str())),
        _ => None,
    }
}
