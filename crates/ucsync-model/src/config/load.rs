//! Reading `ucsync.toml`: syntax, unknown keys, types, then meaning. Every problem found is
//! reported with its key path and what is allowed, not just the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use super::schema::allowed_beside;
use super::{CONFIG_VERSION, Config, DEFAULT_ENTERPRISE, DeprovisionAction};
use crate::expr::Expr;
use crate::{ConnectorFactory, SynchronizerType};

/// One thing wrong in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConfigProblem {
    /// The key path, e.g. `connectors.forest-a.rules.import_flows.mail`.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigProblem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {path}: {source}; check the path given with --config")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the configuration has {} problem(s):\n{}", .0.len(), list(.0))]
    Invalid(Vec<ConfigProblem>),
}

fn list(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path, factory: &dyn ConnectorFactory) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, factory)
}

/// Parses and validates configuration text.
pub fn parse(text: &str, factory: &dyn ConnectorFactory) -> Result<Config, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].lines().count().max(1);
                format!("line {line}")
            })
            .unwrap_or_default();
        ConfigError::Invalid(vec![ConfigProblem::new(
            at,
            format!("not valid TOML: {}", e.message()),
        )])
    })?;

    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let parsed: Result<Config, _> = {
        let de = serde_path_to_error::Deserializer::new(toml::Value::Table(table), &mut track);
        serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
    };
    for path in unknown {
        let message = match allowed_beside(&path) {
            Some(fields) => format!("unknown key; allowed here: {}", fields.join(", ")),
            None => "unknown key".to_owned(),
        };
        problems.push(ConfigProblem::new(path, message));
    }
    match parsed {
        Ok(config) => {
            problems.extend(validate(&config, factory));
            if problems.is_empty() {
                Ok(config)
            } else {
                Err(ConfigError::Invalid(problems))
            }
        }
        Err(e) => {
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            problems.push(ConfigProblem::new(path, e.to_string()));
            Err(ConfigError::Invalid(problems))
        }
    }
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) const NAME_RULE: &str = "use 1 to 64 letters, digits, '-' or '_'";

/// Checks what the types cannot: names, references between keys, expressions, settings.
pub fn validate(config: &Config, factory: &dyn ConnectorFactory) -> Vec<ConfigProblem> {
    let mut p = Vec::new();
    if config.version != CONFIG_VERSION {
        p.push(ConfigProblem::new(
            "version",
            format!(
                "version {} is not supported; this build reads version = {CONFIG_VERSION}",
                config.version
            ),
        ));
    }
    let enterprises: BTreeSet<&str> = config
        .enterprises
        .keys()
        .map(String::as_str)
        .chain([DEFAULT_ENTERPRISE])
        .collect();
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, e) in &config.enterprises {
        if !valid_name(name) {
            p.push(ConfigProblem::new(
                format!("enterprises.{name}"),
                format!("invalid enterprise name; {NAME_RULE}"),
            ));
        }
        if let Some(id) = &e.id {
            let at = format!("enterprises.{name}.id");
            if let Err(m) = crate::check_enterprise_id(id) {
                p.push(ConfigProblem::new(&at, m));
            } else if let Some(other) = ids.insert(id.as_str(), name.as_str()) {
                p.push(ConfigProblem::new(
                    &at,
                    format!("enterprise {other} has the ID \"{id}\" already; every enterprise has an ID of its own"),
                ));
            }
        }
    }
    for (name, c) in &config.connectors {
        let at = format!("connectors.{name}");
        if !valid_name(name) {
            p.push(ConfigProblem::new(
                &at,
                format!("invalid connector name; {NAME_RULE}"),
            ));
        }
        if !enterprises.contains(c.enterprise.as_str()) {
            p.push(ConfigProblem::new(
                format!("{at}.enterprise"),
                format!(
                    "enterprise \"{}\" is not configured; add [enterprises.{}] or use one of: {}",
                    c.enterprise,
                    c.enterprise,
                    enterprises.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let kinds = factory.kinds();
        if c.kind.is_empty() {
            p.push(ConfigProblem::new(
                format!("{at}.kind"),
                format!(
                    "missing; every connector names its kind, one of: {}",
                    kinds.join(", ")
                ),
            ));
        } else if !kinds.contains(&c.kind.as_str()) {
            p.push(ConfigProblem::new(
                format!("{at}.kind"),
                format!("unknown kind \"{}\"; allowed: {}", c.kind, kinds.join(", ")),
            ));
        } else {
            let settings_at = format!("{at}.settings");
            // A setting the kind takes from another connector is judged by `lent::check`
            // alone: written here, it is refused there whatever its value.
            let lent: Vec<String> = factory
                .lent_settings(&c.kind)
                .iter()
                .map(|l| format!("{settings_at}.{}", l.key))
                .collect();
            for mut problem in factory.validate(&c.kind, &c.settings, &settings_at) {
                if lent.contains(&problem.path) {
                    continue;
                }
                // A connector-level key written among the kind's settings.
                if problem.path == format!("{settings_at}.character_rule") {
                    problem.message = format!(
                        "character_rule is a key of the connector, not of its settings: write it under [{at}], beside settings (character_rule = false turns the valid-character rule off for this connector)"
                    );
                }
                p.push(problem);
            }
        }
        validate_rules(name, c, factory, &mut p);
    }
    super::schedules::validate(config, &mut p);
    p.extend(super::lent::check(config, factory));
    for ename in &enterprises {
        synchronizer_type(config, ename, factory, &mut p);
    }
    for (ename, e) in &config.enterprises {
        let at = format!("enterprises.{ename}");
        let members: BTreeSet<&str> = config
            .connectors
            .iter()
            .filter(|(_, c)| &c.enterprise == ename)
            .map(|(n, _)| n.as_str())
            .collect();
        if let Some(t) = &e.deletion_threshold
            && let Err(msg) = t.parse()
        {
            p.push(ConfigProblem::new(format!("{at}.deletion_threshold"), msg));
        }
        if let Some(days) = e.run_history_days
            && !(1..=super::MAX_RUN_HISTORY_DAYS).contains(&days)
        {
            p.push(ConfigProblem::new(
                format!("{at}.run_history_days"),
                format!(
                    "{days} is not a number of days to keep runs: give a whole number from 1 to {} (default {})",
                    super::MAX_RUN_HISTORY_DAYS,
                    super::DEFAULT_RUN_HISTORY_DAYS
                ),
            ));
        }
        if !e.sync_order.is_empty() {
            let mut seen = BTreeSet::new();
            for (i, n) in e.sync_order.iter().enumerate() {
                if !members.contains(n.as_str()) {
                    p.push(ConfigProblem::new(
                        format!("{at}.sync_order[{i}]"),
                        format!(
                            "\"{n}\" is not a connector of enterprise {ename}; allowed: {}",
                            join(&members)
                        ),
                    ));
                } else if !seen.insert(n.as_str()) {
                    p.push(ConfigProblem::new(
                        format!("{at}.sync_order[{i}]"),
                        format!("\"{n}\" is listed twice; list each connector once"),
                    ));
                }
            }
            for m in members.difference(&seen) {
                p.push(ConfigProblem::new(
                    format!("{at}.sync_order"),
                    format!("connector \"{m}\" is missing; list every connector of the enterprise in the order sync-now runs them"),
                ));
            }
        }
        for (attr, order) in &e.precedence {
            for (i, n) in order.iter().enumerate() {
                if !members.contains(n.as_str()) {
                    p.push(ConfigProblem::new(
                        format!("{at}.precedence.{attr}[{i}]"),
                        format!(
                            "\"{n}\" is not a connector of enterprise {ename}; allowed: {}",
                            join(&members)
                        ),
                    ));
                }
            }
        }
    }
    p
}

/// An enterprise uses one type of synchronizer, of those the connector kinds declare: the one
/// its `synchronizers` names, else the one its connectors have.
fn synchronizer_type(
    config: &Config,
    ename: &str,
    factory: &dyn ConnectorFactory,
    p: &mut Vec<ConfigProblem>,
) {
    let mut types: Vec<SynchronizerType> = Vec::new();
    for t in factory
        .kinds()
        .into_iter()
        .filter_map(|k| factory.synchronizer(k))
    {
        if !types.iter().any(|known| known.name == t.name) {
            types.push(t);
        }
    }
    // The enterprise's connectors of type `t`.
    let of_type = |t: &str| -> Vec<&str> {
        config
            .connectors
            .iter()
            .filter(|(_, c)| {
                c.enterprise == ename && factory.synchronizer(&c.kind).is_some_and(|s| s.name == t)
            })
            .map(|(n, _)| n.as_str())
            .collect()
    };
    let at = format!("enterprises.{ename}.synchronizers");
    let names: Vec<&str> = types.iter().map(|t| t.name).collect();
    match config
        .enterprises
        .get(ename)
        .and_then(|e| e.synchronizers.as_deref())
    {
        Some(t) if names.is_empty() => p.push(ConfigProblem::new(
            at,
            format!("\"{t}\" is not a synchronizer type: no connector kind of this build is a synchronizer; remove synchronizers"),
        )),
        Some(t) if !names.contains(&t) => p.push(ConfigProblem::new(
            at,
            format!(
                "\"{t}\" is not a synchronizer type; allowed: {}",
                names.join(", ")
            ),
        )),
        Some(t) => {
            for other in names.iter().filter(|n| **n != t) {
                for name in of_type(other) {
                    p.push(ConfigProblem::new(
                        format!("connectors.{name}.kind"),
                        format!(
                            "enterprise {ename} uses {t} synchronizers ({at}), so it cannot have the {other} connector {name}; an enterprise uses one type of synchronizer: move {name} to another enterprise or change {at}"
                        ),
                    ));
                }
            }
        }
        None => {
            let present: Vec<(SynchronizerType, Vec<&str>)> = types
                .iter()
                .map(|t| (*t, of_type(t.name)))
                .filter(|(_, connectors)| !connectors.is_empty())
                .collect();
            if present.len() > 1 {
                let had: Vec<String> = present
                    .iter()
                    .map(|(t, connectors)| format!("{} ({})", t.title, connectors.join(", ")))
                    .collect();
                let settings: Vec<String> = present
                    .iter()
                    .map(|(t, _)| format!("\"{}\"", t.name))
                    .collect();
                p.push(ConfigProblem::new(
                    format!("enterprises.{ename}"),
                    format!(
                        "enterprise {ename} has {}; an enterprise uses one type: move one type to another enterprise and set {at} = {}",
                        and_list(&had, " and "),
                        and_list(&settings, " or ")
                    ),
                ));
            }
        }
    }
}

/// "a, b and c" (with `last` = " and ").
fn and_list(items: &[String], last: &str) -> String {
    match items.split_last() {
        Some((tail, head)) if !head.is_empty() => format!("{}{last}{tail}", head.join(", ")),
        _ => items.join(""),
    }
}

fn join(set: &BTreeSet<&str>) -> String {
    if set.is_empty() {
        "(none yet)".to_owned()
    } else {
        set.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

fn check_expr(path: String, src: &str, boolean: bool, p: &mut Vec<ConfigProblem>) {
    match Expr::compile(src) {
        Err(e) => p.push(ConfigProblem::new(path, format!("{e} in `{src}`"))),
        Ok(expr) if boolean && !expr.is_boolean() => p.push(ConfigProblem::new(
            path,
            format!("`{src}` is not a condition; write a comparison such as `department != \"Test\"`, or present(attr)"),
        )),
        Ok(_) => {}
    }
}

fn validate_rules(
    name: &str,
    c: &super::ConnectorConfig,
    factory: &dyn ConnectorFactory,
    p: &mut Vec<ConfigProblem>,
) {
    let at = format!("connectors.{name}.rules");
    let r = &c.rules;
    if let Some(scope) = &r.scope {
        check_expr(format!("{at}.scope"), scope, true, p);
    }
    for (i, j) in r.join.iter().enumerate() {
        check_expr(format!("{at}.join[{i}].staged"), &j.staged, false, p);
        if j.directory.trim().is_empty() {
            p.push(ConfigProblem::new(
                format!("{at}.join[{i}].directory"),
                "name the directory attribute to match, e.g. directory = \"mail\"",
            ));
        }
    }
    for (staged, entry) in &r.projection {
        if entry.trim().is_empty() {
            p.push(ConfigProblem::new(
                format!("{at}.projection.{staged}"),
                "name the directory entry type, e.g. person = \"person\"",
            ));
        }
    }
    for (attr, src) in &r.import_flows {
        check_expr(format!("{at}.import_flows.{attr}"), src, false, p);
    }
    for (attr, src) in &r.export_flows {
        check_expr(format!("{at}.export_flows.{attr}"), src, false, p);
    }
    let caps = factory.capabilities(&c.kind);
    let exports = caps.map(|caps| caps.export.is_some()).unwrap_or(true);
    if !exports && (!r.export_flows.is_empty() || !r.provisioning.is_empty()) {
        let message = if caps.is_some_and(|caps| caps.one_way) {
            format!(
                "a {} connector is one way: it reads its system and never writes to it; remove export_flows and provisioning towards it",
                c.kind
            )
        } else {
            format!(
                "a {} connector cannot export; remove export_flows and provisioning",
                c.kind
            )
        };
        p.push(ConfigProblem::new(&at, message));
    }
    for (i, prov) in r.provisioning.iter().enumerate() {
        if let Some(when) = &prov.when {
            check_expr(format!("{at}.provisioning[{i}].when"), when, true, p);
        }
        if prov.from.trim().is_empty() || prov.object_type.trim().is_empty() {
            p.push(ConfigProblem::new(
                format!("{at}.provisioning[{i}]"),
                "set both from (the directory entry type) and object_type (the type created here)",
            ));
        }
    }
    if !r.provisioning.is_empty() && r.export_flows.is_empty() {
        p.push(ConfigProblem::new(
            format!("{at}.export_flows"),
            "provisioning creates objects from export flows; add at least one export flow",
        ));
    }
    let d = &r.deprovisioning;
    match d.action {
        DeprovisionAction::Disable => {
            if d.attribute.as_deref().unwrap_or("").is_empty() || d.value.is_none() {
                p.push(ConfigProblem::new(
                    format!("{at}.deprovisioning"),
                    "action = \"disable\" needs attribute and value, e.g. { action = \"disable\", attribute = \"enabled\", value = \"false\" }",
                ));
            }
        }
        DeprovisionAction::Delete | DeprovisionAction::Disconnect => {
            if d.attribute.is_some() || d.value.is_some() {
                p.push(ConfigProblem::new(
                    format!("{at}.deprovisioning"),
                    "attribute and value are used only with action = \"disable\"",
                ));
            }
        }
    }
}
