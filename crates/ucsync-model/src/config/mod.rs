//! The configuration: enterprises, connectors and their rules, as written in `ucsync.toml`.
//!
//! These types are plain data. [`load`] reads and validates a file; the same validation serves
//! the CLI, and later the API and the console. Connector settings stay a raw table here: each
//! connector kind validates its own through a [`ConnectorFactory`](crate::ConnectorFactory).

mod build;
mod diff;
mod lent;
mod load;
mod references;
mod schedules;
mod schema;
mod sources;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use build::{build_all, to_text};
pub use diff::{
    changes, keep_secrets, redact_secrets, restore_secrets, secret_variable, without_secrets,
};
pub use lent::LentSetting;
pub use load::{ConfigError, ConfigProblem, load, parse, validate};
pub use references::{References, StagedReferences, completed_settings};
pub use schema::fields_of;
pub use sources::source_warnings;

/// The version this build reads and writes.
pub const CONFIG_VERSION: u32 = 1;
/// The enterprise that always exists.
pub const DEFAULT_ENTERPRISE: &str = "default";
/// Deletes allowed per run when an enterprise sets no threshold.
pub const DEFAULT_DELETION_THRESHOLD: u64 = 500;
/// How many days the runs of an enterprise are kept, with what each did to each object.
pub const DEFAULT_RUN_HISTORY_DAYS: i64 = 90;
/// The longest run history that may be asked for (a hundred years).
pub const MAX_RUN_HISTORY_DAYS: i64 = 36_500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub version: u32,
    /// The directory relative paths in connector settings are read from. A file applied to
    /// the store without it gets the file's own directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enterprises: BTreeMap<String, EnterpriseConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// When runs start by themselves under `ucsync serve`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, ScheduleConfig>,
}

/// One schedule: what runs (Sync Now of an enterprise, or a profile on a connector) and when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// Runs Sync Now for this enterprise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    /// Runs `profile` on this connector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// `daily at 02:00`, `every 3 days at 2:30 AM from 2026-01-05` or `cron 0 2 * * *`.
    pub when: String,
    /// An IANA time zone such as `Europe/Berlin`; the server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The run profiles a schedule may name, as the engine spells them.
pub const PROFILE_NAMES: [&str; 6] = [
    "full-import",
    "delta-import",
    "full-sync",
    "delta-sync",
    "export",
    "sync-now",
];

impl ScheduleConfig {
    /// The enterprise whose runs this schedule starts (that of its connector).
    pub fn target_enterprise(&self, config: &Config) -> Option<String> {
        match (&self.enterprise, &self.connector) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(c)) => config.connectors.get(c).map(|c| c.enterprise.clone()),
            (None, None) => None,
        }
    }

    /// The profile it runs: `sync-now` for an enterprise.
    pub fn profile_name(&self) -> &str {
        self.profile.as_deref().unwrap_or("sync-now")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseConfig {
    /// The enterprise's ID for peer servers (4–32 letters, digits and dashes): a peer names
    /// it to read this enterprise's directory. Without one, no peer reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The order in which sync-now runs the connectors; every connector of the enterprise once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_order: Vec<String>,
    /// Deletes one run may export: a count (`500`) or a share of the target (`"10%"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_threshold: Option<Threshold>,
    /// How many days its runs are kept (with what each did to each object); older ones are
    /// removed when a run of the enterprise starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_history_days: Option<i64>,
    /// Per directory attribute, the connectors allowed to give it, most trusted first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub precedence: BTreeMap<String, Vec<String>>,
    /// Directory attributes whose values point at other entries (e.g. `member`, `manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// The type of synchronizers that populate the enterprise's accounts, one of the
    /// [`crate::SynchronizerType`]s the connector kinds declare; never two. Without it, the type
    /// is that of the synchronizers the enterprise has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronizers: Option<String>,
}

/// A deletion threshold as written: a count or a percentage string.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Threshold {
    Count(i64),
    Text(String),
}

/// Read by hand rather than as an untagged enum, whose error ("data did not match any variant
/// of untagged enum Threshold") says nothing of what to write.
impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Threshold;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count of objects such as 500, or a percentage of the directory's entries such as \"10%\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threshold, E> {
                Ok(Threshold::Count(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threshold, E> {
                i64::try_from(v)
                    .map(Threshold::Count)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threshold, E> {
                Ok(Threshold::Text(v.to_owned()))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A validated deletion threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeletionThreshold {
    Count(u64),
    Percent(f64),
}

impl DeletionThreshold {
    /// The deletes allowed out of `total` objects.
    pub fn allowed(&self, total: u64) -> u64 {
        match *self {
            DeletionThreshold::Count(n) => n,
            DeletionThreshold::Percent(p) => ((total as f64) * p / 100.0).floor() as u64,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DeletionThreshold::Count(n) => format!("{n} objects"),
            DeletionThreshold::Percent(p) => format!("{p}% of the target's objects"),
        }
    }
}

impl Threshold {
    pub fn parse(&self) -> Result<DeletionThreshold, String> {
        match self {
            Threshold::Count(n) if *n >= 0 => Ok(DeletionThreshold::Count(*n as u64)),
            Threshold::Count(n) => Err(format!(
                "{n} is negative; write a count such as 500 or a percentage such as \"10%\""
            )),
            Threshold::Text(s) => {
                let pct = s
                    .trim()
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<f64>().ok());
                match pct {
                    Some(p) if p > 0.0 && p <= 100.0 => Ok(DeletionThreshold::Percent(p)),
                    _ => Err(format!(
                        "\"{s}\" is not allowed; write a count such as 500 or a percentage between 0 and 100 such as \"10%\""
                    )),
                }
            }
        }
    }
}

impl EnterpriseConfig {
    /// How many days its runs are kept.
    pub fn run_history_days(&self) -> i64 {
        self.run_history_days.unwrap_or(DEFAULT_RUN_HISTORY_DAYS)
    }

    pub fn threshold(&self) -> DeletionThreshold {
        self.deletion_threshold
            .as_ref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(DeletionThreshold::Count(DEFAULT_DELETION_THRESHOLD))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectorConfig {
    #[serde(default = "default_enterprise")]
    pub enterprise: String,
    /// Empty when the file leaves it out: validation says so, beside the file's other problems.
    #[serde(default)]
    pub kind: String,
    /// Kind-specific settings, validated by the connector kind.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub settings: toml::Table,
    #[serde(default)]
    pub rules: Rules,
    /// Whether values imported from and exported to this connector are checked against the
    /// valid-character rule ([`crate::chars`]); when absent, the connector kind decides
    /// ([`Connector::character_rule_default`](crate::Connector::character_rule_default): on).
    /// `false` is the explicit opt-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_rule: Option<bool>,
}

impl ConnectorConfig {
    /// Whether this connector checks imported values against the valid-character rule: the
    /// `character_rule` key when set, else `kind_default` (the connector kind's default).
    pub fn character_rule(&self, kind_default: bool) -> bool {
        self.character_rule.unwrap_or(kind_default)
    }
}

fn default_enterprise() -> String {
    DEFAULT_ENTERPRISE.to_owned()
}

/// How one connector's objects meet the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// A boolean expression over staged attributes; objects for which it is false are out of
    /// scope (never joined or projected; a linked one is disconnected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Tried in order; the first rule that finds exactly one entry links the object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub join: Vec<JoinRule>,
    /// Staged object type → directory entry type, for objects that joined nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub projection: BTreeMap<String, String>,
    /// Directory attribute → expression over the staged object's attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub import_flows: BTreeMap<String, String>,
    /// External attribute → expression over the directory entry's attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub export_flows: BTreeMap<String, String>,
    /// Which directory entries get an object in this connector when they have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provisioning: Vec<Provisioning>,
    /// What happens to a linked object when its directory entry is deleted.
    #[serde(default)]
    pub deprovisioning: Deprovisioning,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JoinRule {
    /// An expression over the staged object's attributes giving the join value(s).
    pub staged: String,
    /// The directory attribute that must hold that value.
    pub directory: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_case: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provisioning {
    /// The directory entry type that is provisioned.
    pub from: String,
    /// The object type created in this connector.
    pub object_type: String,
    /// An optional boolean expression over the entry's attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeprovisionAction {
    /// Delete the object in the external system.
    #[default]
    Delete,
    /// Set an attribute (e.g. `enabled = "false"`) and disconnect.
    Disable,
    /// Leave the object as it is and disconnect it.
    Disconnect,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deprovisioning {
    #[serde(default)]
    pub action: DeprovisionAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Config {
    /// Takes a connector out: its table, its place in sync orders and precedence lists. A
    /// connector that a schedule runs stays; the error names the schedules.
    pub fn remove_connector(&mut self, name: &str) -> Result<(), String> {
        let schedules: Vec<&str> = self
            .schedules
            .iter()
            .filter(|(_, s)| s.connector.as_deref() == Some(name))
            .map(|(n, _)| n.as_str())
            .collect();
        if !schedules.is_empty() {
            return Err(format!(
                "schedule(s) {} run connector {name}; delete or change them first",
                schedules.join(", ")
            ));
        }
        self.connectors.remove(name);
        for e in self.enterprises.values_mut() {
            e.sync_order.retain(|n| n != name);
            for list in e.precedence.values_mut() {
                list.retain(|n| n != name);
            }
        }
        Ok(())
    }

    /// The enterprises in use: those configured plus `default` and any a connector names.
    pub fn enterprise_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.enterprises.keys().cloned().collect();
        names.push(DEFAULT_ENTERPRISE.to_owned());
        names.extend(self.connectors.values().map(|c| c.enterprise.clone()));
        names.sort();
        names.dedup();
        names
    }

    pub fn enterprise(&self, name: &str) -> EnterpriseConfig {
        self.enterprises.get(name).cloned().unwrap_or_default()
    }

    /// The connectors of `enterprise` in sync-now order.
    pub fn sync_order(&self, enterprise: &str) -> Vec<String> {
        let configured = self.enterprise(enterprise).sync_order;
        if !configured.is_empty() {
            return configured;
        }
        self.connectors
            .iter()
            .filter(|(_, c)| c.enterprise == enterprise)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::{Capabilities, Connector, ConnectorFactory, SynchronizerType};

    /// Knows the kinds "csv", "dir" and "node", with any settings; "dir" and "node" are
    /// synchronizers of two types.
    struct AnyCsv;

    impl ConnectorFactory for AnyCsv {
        fn kinds(&self) -> Vec<&'static str> {
            vec!["csv", "dir", "node"]
        }
        fn capabilities(&self, _kind: &str) -> Option<Capabilities> {
            None
        }
        fn synchronizer(&self, kind: &str) -> Option<SynchronizerType> {
            match kind {
                "dir" => Some(SynchronizerType {
                    name: "directory",
                    title: "directory synchronizers",
                }),
                "node" => Some(SynchronizerType {
                    name: "node",
                    title: "node synchronizers",
                }),
                _ => None,
            }
        }
        fn validate(
            &self,
            _kind: &str,
            _settings: &toml::Table,
            _path: &str,
        ) -> Vec<ConfigProblem> {
            Vec::new()
        }
        fn build(
            &self,
            _name: &str,
            _kind: &str,
            _settings: &toml::Table,
            _base_dir: &Path,
        ) -> Result<Arc<dyn Connector>, String> {
            Err("not built in these tests".into())
        }
    }

    const BASE: &str = "version = 1\n[connectors.a]\nkind = \"csv\"\n";

    fn problems(text: &str) -> Vec<ConfigProblem> {
        match parse(text, &AnyCsv) {
            Ok(_) => Vec::new(),
            Err(ConfigError::Invalid(p)) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn character_rule_is_a_connector_key_that_defaults_to_the_kind() {
        let absent = parse(BASE, &AnyCsv).unwrap();
        assert_eq!(absent.connectors["a"].character_rule, None);
        assert!(!absent.connectors["a"].character_rule(false));
        assert!(absent.connectors["a"].character_rule(true));

        let on = parse(&format!("{BASE}character_rule = true\n"), &AnyCsv).unwrap();
        assert_eq!(on.connectors["a"].character_rule, Some(true));
        assert!(on.connectors["a"].character_rule(false));

        let off = parse(&format!("{BASE}character_rule = false\n"), &AnyCsv).unwrap();
        assert!(!off.connectors["a"].character_rule(true), "the key wins");
    }

    #[test]
    fn character_rule_must_be_a_boolean_and_is_listed_among_allowed_keys() {
        let p = problems(&format!("{BASE}character_rule = \"yes\"\n"));
        assert!(
            p.iter().any(|p| p.path == "connectors.a.character_rule"),
            "{p:?}"
        );
        let p = problems(&format!("{BASE}character_rules = true\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "connectors.a.character_rules");
        assert!(p[0].message.contains("character_rule"), "{}", p[0].message);
    }

    #[test]
    fn character_rule_is_written_only_when_set() {
        let mut config = parse(
            &format!("{BASE}[connectors.a.rules]\nscope = 'x == \"1\"'\n"),
            &AnyCsv,
        )
        .unwrap();
        let text = toml::to_string(&config).unwrap();
        assert!(!text.contains("character_rule"), "{text}");

        if let Some(a) = config.connectors.get_mut("a") {
            a.character_rule = Some(true);
        }
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("character_rule = true"), "{text}");
        assert_eq!(parse(&text, &AnyCsv).unwrap(), config, "{text}");
    }

    #[test]
    fn an_enterprise_uses_one_synchronizer_type_of_those_the_kinds_declare() {
        let both = "version = 1\n[connectors.a]\nkind = \"dir\"\n[connectors.b]\nkind = \"node\"\n[connectors.c]\nkind = \"csv\"\n";
        let p = problems(both);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "enterprises.default");
        assert_eq!(
            p[0].message,
            "enterprise default has directory synchronizers (a) and node synchronizers (b); an enterprise uses one type: move one type to another enterprise and set enterprises.default.synchronizers = \"directory\" or \"node\""
        );

        let p = problems(&format!(
            "{both}[enterprises.default]\nsynchronizers = \"node\"\n"
        ));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "connectors.a.kind");
        assert!(
            p[0].message.contains("uses node synchronizers"),
            "{}",
            p[0].message
        );

        let p = problems(&format!(
            "{both}[enterprises.default]\nsynchronizers = \"csv\"\n"
        ));
        assert_eq!(p[0].path, "enterprises.default.synchronizers");
        assert_eq!(
            p[0].message,
            "\"csv\" is not a synchronizer type; allowed: directory, node"
        );

        let one = "version = 1\n[connectors.a]\nkind = \"dir\"\n[connectors.c]\nkind = \"csv\"\n";
        assert_eq!(problems(one), Vec::new());
    }

    /// Knows "csv" alone: no kind is a synchronizer.
    struct CsvOnly;

    impl ConnectorFactory for CsvOnly {
        fn kinds(&self) -> Vec<&'static str> {
            vec!["csv"]
        }
        fn capabilities(&self, _kind: &str) -> Option<Capabilities> {
            None
        }
        fn validate(
            &self,
            _kind: &str,
            _settings: &toml::Table,
            _path: &str,
        ) -> Vec<ConfigProblem> {
            Vec::new()
        }
        fn build(
            &self,
            _name: &str,
            _kind: &str,
            _settings: &toml::Table,
            _base_dir: &Path,
        ) -> Result<Arc<dyn Connector>, String> {
            Err("not built in these tests".into())
        }
    }

    #[test]
    fn without_synchronizer_kinds_synchronizers_is_refused_with_what_to_do() {
        let text = format!("{BASE}[enterprises.default]\nsynchronizers = \"ldap\"\n");
        let Err(ConfigError::Invalid(p)) = parse(&text, &CsvOnly) else {
            panic!("accepted");
        };
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].path, "enterprises.default.synchronizers");
        assert!(
            p[0].message.ends_with("remove synchronizers"),
            "{}",
            p[0].message
        );
    }
}
