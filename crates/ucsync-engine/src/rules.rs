//! Rules compiled once per run: every expression parsed, every regex built, connectors ordered.
//! Compilation cannot fail on a configuration that passed validation; if it does, the run fails
//! before touching the store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ucsync_model::config::{Config, DeletionThreshold, Deprovisioning, References};
use ucsync_model::expr::Expr;
use ucsync_model::{Attrs, Connector, EntryAttrs};

use crate::EngineError;

pub struct JoinRule {
    pub staged: Expr,
    pub directory: String,
    pub ignore_case: bool,
}

pub struct ProvisionRule {
    pub from: String,
    pub object_type: String,
    pub when: Option<Expr>,
}

/// One connector of an enterprise, ready to run.
pub struct ConnectorCtx {
    pub id: i64,
    pub name: String,
    pub connector: Arc<dyn Connector>,
    pub scope: Option<Expr>,
    pub join: Vec<JoinRule>,
    pub projection: BTreeMap<String, String>,
    pub import_flows: Vec<(String, Expr)>,
    pub export_flows: Vec<(String, Expr)>,
    pub provisioning: Vec<ProvisionRule>,
    pub deprovisioning: Deprovisioning,
    /// Imported values are checked against the valid-character rule
    /// ([`ucsync_model::chars`]): the connector's `character_rule` key, else its kind's default.
    pub character_rule: bool,
    /// The fingerprint of what an import of this connector reads ([`crate::fingerprint`]).
    pub import_fingerprint: String,
    /// The fingerprint of the rules a sync of this connector applies.
    pub sync_fingerprint: String,
    /// The fingerprint of how an image export lays out the whole target; empty for a
    /// connector that exports change by change.
    pub export_fingerprint: String,
}

impl ConnectorCtx {
    pub fn in_scope(&self, attrs: &Attrs) -> bool {
        self.scope.as_ref().is_none_or(|s| s.eval_bool(attrs))
    }

    /// The directory attributes this connector gives, computed from one staged object.
    pub fn flow_in(&self, attrs: &Attrs) -> Attrs {
        self.import_flows
            .iter()
            .map(|(name, expr)| (name.clone(), expr.eval(attrs)))
            .collect()
    }

    pub fn exports(&self) -> bool {
        !self.export_flows.is_empty() || !self.provisioning.is_empty()
    }

    /// The provisioning rule that applies to an entry, if any.
    pub fn provisioning_for(
        &self,
        object_type: &str,
        attrs: &EntryAttrs,
    ) -> Option<&ProvisionRule> {
        self.provisioning
            .iter()
            .find(|p| p.from == object_type && p.when.as_ref().is_none_or(|w| w.eval_bool(attrs)))
    }
}

/// Everything a run needs to know about one enterprise.
pub struct EnterpriseRules {
    pub id: i64,
    pub name: String,
    /// In sync-now order.
    pub connectors: Vec<ConnectorCtx>,
    /// Per attribute, connector ids most trusted first; attributes not listed use `default_order`.
    pub precedence: BTreeMap<String, Vec<i64>>,
    pub default_order: Vec<i64>,
    pub references: BTreeSet<String>,
    /// Directory attributes some join rule matches on, with whether any match ignores case.
    pub join_attrs: BTreeMap<String, bool>,
    pub threshold: DeletionThreshold,
    /// The connector being deleted, if any: nothing is provisioned or exported to it.
    pub retiring: Option<i64>,
}

fn compile(path: &str, src: &str) -> Result<Expr, EngineError> {
    Expr::compile(src).map_err(|e| EngineError::Config(format!("{path}: {e}; run `ucsync check`")))
}

impl EnterpriseRules {
    pub fn compile(
        config: &Config,
        enterprise: &str,
        enterprise_id: i64,
        ids: &BTreeMap<String, i64>,
        connectors: &BTreeMap<String, Arc<dyn Connector>>,
    ) -> Result<Self, EngineError> {
        let econf = config.enterprise(enterprise);
        let mut sync_fingerprints = crate::fingerprint::syncs(config, enterprise);
        let mut ctxs = Vec::new();
        for name in config.sync_order(enterprise) {
            let conf = config.connectors.get(&name).ok_or_else(|| {
                EngineError::Config(format!(
                    "enterprise {enterprise} lists connector {name}, which is not configured"
                ))
            })?;
            let id = *ids.get(&name).ok_or_else(|| {
                EngineError::Config(format!("connector {name} is not registered"))
            })?;
            let connector = connectors
                .get(&name)
                .cloned()
                .ok_or_else(|| EngineError::Config(format!("connector {name} was not built")))?;
            let r = &conf.rules;
            let at = format!("connectors.{name}.rules");
            ctxs.push(ConnectorCtx {
                id,
                name: name.clone(),
                scope: r
                    .scope
                    .as_deref()
                    .map(|s| compile(&format!("{at}.scope"), s))
                    .transpose()?,
                join: r
                    .join
                    .iter()
                    .enumerate()
                    .map(|(i, j)| {
                        Ok(JoinRule {
                            staged: compile(&format!("{at}.join[{i}].staged"), &j.staged)?,
                            directory: j.directory.clone(),
                            ignore_case: j.ignore_case,
                        })
                    })
                    .collect::<Result<_, EngineError>>()?,
                projection: r.projection.clone(),
                import_flows: r
                    .import_flows
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), compile(&format!("{at}.import_flows.{k}"), v)?)))
                    .collect::<Result<_, EngineError>>()?,
                export_flows: r
                    .export_flows
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), compile(&format!("{at}.export_flows.{k}"), v)?)))
                    .collect::<Result<_, EngineError>>()?,
                provisioning: r
                    .provisioning
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        Ok(ProvisionRule {
                            from: p.from.clone(),
                            object_type: p.object_type.clone(),
                            when: p
                                .when
                                .as_deref()
                                .map(|w| compile(&format!("{at}.provisioning[{i}].when"), w))
                                .transpose()?,
                        })
                    })
                    .collect::<Result<_, EngineError>>()?,
                deprovisioning: r.deprovisioning.clone(),
                character_rule: conf.character_rule(connector.character_rule_default()),
                import_fingerprint: crate::fingerprint::import(
                    connector.as_ref(),
                    conf.character_rule(connector.character_rule_default()),
                ),
                sync_fingerprint: sync_fingerprints.remove(&name).unwrap_or_default(),
                export_fingerprint: crate::fingerprint::export(connector.as_ref()),
                connector,
            });
        }
        let default_order: Vec<i64> = ctxs.iter().map(|c| c.id).collect();
        let precedence = econf
            .precedence
            .iter()
            .map(|(attr, names)| {
                (
                    attr.clone(),
                    names.iter().filter_map(|n| ids.get(n).copied()).collect(),
                )
            })
            .collect();
        let mut join_attrs: BTreeMap<String, bool> = BTreeMap::new();
        for c in &ctxs {
            for j in &c.join {
                *join_attrs.entry(j.directory.clone()).or_default() |= j.ignore_case;
            }
        }
        Ok(Self {
            id: enterprise_id,
            name: enterprise.to_owned(),
            connectors: ctxs,
            precedence,
            default_order,
            // Declared on the enterprise, or implied by its connectors' own declarations.
            references: References::resolve(config, &|name| {
                connectors.get(name).and_then(|c| c.references())
            })
            .of_enterprise(enterprise),
            join_attrs,
            threshold: econf.threshold(),
            retiring: None,
        })
    }

    pub fn connector(&self, id: i64) -> Option<&ConnectorCtx> {
        self.connectors.iter().find(|c| c.id == id)
    }

    pub fn by_name(&self, name: &str) -> Option<&ConnectorCtx> {
        self.connectors.iter().find(|c| c.name == name)
    }

    /// Connector ids allowed to give `attr`, most trusted first.
    pub fn order_for(&self, attr: &str) -> &[i64] {
        self.precedence
            .get(attr)
            .map(Vec::as_slice)
            .unwrap_or(&self.default_order)
    }

    /// Whether entries that this connector links stay alive through it (it projects).
    pub fn is_source(&self, connector_id: i64) -> bool {
        self.connector(connector_id)
            .is_some_and(|c| !c.projection.is_empty())
    }

    /// The join-key hash of one directory attribute value.
    pub fn key_hash(&self, attr: &str, value: &str) -> i64 {
        let mut buf = Vec::with_capacity(attr.len() + value.len() + 10);
        buf.extend_from_slice(&self.id.to_le_bytes());
        buf.extend_from_slice(attr.as_bytes());
        buf.push(0);
        buf.extend_from_slice(value.to_lowercase().as_bytes());
        ucsync_model::attrs::hash_bytes(&buf)
    }

    /// Which attributes the keys index; when it changes, the keys are rebuilt.
    pub fn key_spec(&self) -> String {
        let joins: Vec<String> = self.join_attrs.keys().cloned().collect();
        let refs: Vec<String> = self.references.iter().cloned().collect();
        format!("join:{}|ref:{}", joins.join(","), refs.join(","))
    }

    /// The key under which an entry that refers to entry `target` is indexed.
    pub fn reference_key(&self, attr: &str, target: &str) -> i64 {
        self.key_hash(&format!("\u{0}ref:{attr}"), target)
    }

    /// The keys to index for an entry: its join-rule values, and the entries it refers to (so
    /// that deleting an entry finds the entries that point at it).
    pub fn entry_keys(&self, attrs: &EntryAttrs) -> Vec<i64> {
        let mut keys = Vec::with_capacity(self.join_attrs.len() + self.references.len());
        for attr in self.join_attrs.keys() {
            for v in attrs.get(attr) {
                keys.push(self.key_hash(attr, v));
            }
        }
        for attr in &self.references {
            for v in attrs.get(attr) {
                keys.push(self.reference_key(attr, v));
            }
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}
