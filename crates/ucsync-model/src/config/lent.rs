//! Settings a connector takes from another connector of its enterprise instead of holding them
//! itself: a peer's contacts are dialed with the outgoing digit of the enterprise's PBX node,
//! which is the PBX node's setting. A kind declares what it takes ([`LentSetting`]); [`check`]
//! refuses such a setting written on the connector that takes it and a lender named wrong, and
//! [`complete`] copies the lender's value into the settings the connector is built with. The
//! configuration as written (and as the API and `config export` show it) keeps the value at its
//! home only.

use std::collections::BTreeMap;

use super::{Config, ConfigProblem, ConnectorConfig};
use crate::ConnectorFactory;

/// A setting that connectors of a kind take from a connector of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LentSetting {
    /// The key, the same in the lender's settings and in the settings the taker is built with
    /// (`outgoing_digit`).
    pub key: &'static str,
    /// The kind of connector that holds it (`pbx`).
    pub lender_kind: &'static str,
    /// The taker's own key naming the lender (`pbx_node`). Left out, the lender is the
    /// enterprise's one connector of `lender_kind`, if it has exactly one.
    pub via: &'static str,
    /// Settings of the taker (key, string value) with which it takes nothing: no lender is
    /// looked for (`peer_type = "external"`: such a peer dials nothing).
    pub not_when: &'static [(&'static str, &'static str)],
}

impl LentSetting {
    /// Whether a connector with `settings` takes the setting at all.
    fn taken_by(&self, settings: &toml::Table) -> bool {
        !self
            .not_when
            .iter()
            .any(|(k, v)| settings.get(*k).and_then(|x| x.as_str()) == Some(*v))
    }
}

/// The connectors of `lender_kind` in `enterprise`, by name.
fn lenders<'c>(config: &'c Config, enterprise: &str, lender_kind: &str) -> Vec<&'c str> {
    config
        .connectors
        .iter()
        .filter(|(_, c)| c.enterprise == enterprise && c.kind == lender_kind)
        .map(|(n, _)| n.as_str())
        .collect()
}

fn listed(names: &[&str]) -> String {
    names.join(", ")
}

/// The lender of `lent` for connector `name`, or `None` when there is none to take from; a
/// lender named wrong is a problem.
fn lender<'c>(
    config: &'c Config,
    name: &str,
    c: &ConnectorConfig,
    lent: &LentSetting,
) -> Result<Option<&'c str>, ConfigProblem> {
    let LentSetting {
        key,
        lender_kind,
        via,
        ..
    } = *lent;
    if !lent.taken_by(&c.settings) {
        return Ok(None);
    }
    let e = &c.enterprise;
    let candidates = lenders(config, e, lender_kind);
    let at = format!("connectors.{name}.settings.{via}");
    let Some(named) = c.settings.get(via) else {
        return match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            several => {
                let giving: Vec<&str> = several
                    .iter()
                    .copied()
                    .filter(|n| config.connectors[*n].settings.contains_key(key))
                    .collect();
                match giving.first() {
                    // None of them gives it: whichever is meant, there is nothing to take.
                    None => Ok(None),
                    Some(first) => Err(ConfigProblem::new(
                        at,
                        format!(
                            "enterprise {e} has {} connectors of kind {lender_kind} ({}) and {} {key}: name the one to take {key} from, e.g. {via} = \"{first}\"",
                            several.len(),
                            listed(several),
                            match giving.as_slice() {
                                [one] => format!("{one} gives"),
                                all => format!("{} give", listed(all)),
                            },
                        ),
                    )),
                }
            }
        };
    };
    let fix = match candidates.as_slice() {
        [] => format!(
            "enterprise {e} has no connector of kind {lender_kind}: add it, or remove {via}"
        ),
        some => format!(
            "name a connector of kind {lender_kind} of enterprise {e}: {}",
            listed(some)
        ),
    };
    // Not a string: the kind's own check of its settings says so.
    let Some(named) = named.as_str() else {
        return Ok(None);
    };
    match config.connectors.get(named) {
        Some(l) if l.kind == lender_kind && &l.enterprise == e => {
            Ok(candidates.into_iter().find(|n| *n == named))
        }
        Some(l) if l.kind != lender_kind => Err(ConfigProblem::new(
            at,
            format!(
                "connector {named} is of kind {}, not {lender_kind}; {fix}",
                l.kind
            ),
        )),
        Some(l) => Err(ConfigProblem::new(
            at,
            format!(
                "connector {named} belongs to enterprise {}, not {e}; {fix}",
                l.enterprise
            ),
        )),
        None => Err(ConfigProblem::new(
            at,
            format!("there is no connector {named:?}; {fix}"),
        )),
    }
}

/// Problems with lent settings: one written on the connector that takes it, and a lender
/// named wrong or not named where it must be.
pub fn check(config: &Config, factory: &dyn ConnectorFactory) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for (name, c) in &config.connectors {
        for lent in factory.lent_settings(&c.kind) {
            let found = lender(config, name, c, lent);
            if c.settings.contains_key(lent.key) {
                let home = match &found {
                    Ok(Some(l)) => {
                        format!("set it there, under [connectors.{l}.settings], and remove it here")
                    }
                    _ => format!(
                        "set it on the connector of kind {} of enterprise {} (add one if it has none), and remove it here",
                        lent.lender_kind, c.enterprise
                    ),
                };
                let from = match &found {
                    Ok(Some(l)) => format!("connector {l}"),
                    _ => format!("a connector of kind {}", lent.lender_kind),
                };
                problems.push(ConfigProblem::new(
                    format!("connectors.{name}.settings.{}", lent.key),
                    format!(
                        "{} is not a setting of this connector: it is taken from {from}; {home}",
                        lent.key
                    ),
                ));
            }
            if let Err(p) = found {
                problems.push(p);
            }
        }
    }
    problems
}

/// Adds to `settings` (every connector's, by name) the values each connector takes from its
/// lender. A configuration that [`check`] refuses is left as it is.
pub fn complete(
    config: &Config,
    factory: &dyn ConnectorFactory,
    settings: &mut BTreeMap<String, toml::Table>,
) {
    for (name, c) in &config.connectors {
        for lent in factory.lent_settings(&c.kind) {
            let Ok(Some(l)) = lender(config, name, c, lent) else {
                continue;
            };
            let Some(value) = config.connectors[l].settings.get(lent.key) else {
                continue;
            };
            if let Some(table) = settings.get_mut(name) {
                table.insert(lent.key.to_owned(), value.clone());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::{Capabilities, Connector};

    const DIGIT: LentSetting = LentSetting {
        key: "digit",
        lender_kind: "node",
        via: "node",
        not_when: &[("type", "external")],
    };

    /// Kinds "taker" (takes `digit` from a "node") and "node", any settings.
    struct Kinds;

    impl ConnectorFactory for Kinds {
        fn kinds(&self) -> Vec<&'static str> {
            vec!["taker", "node"]
        }
        fn capabilities(&self, _kind: &str) -> Option<Capabilities> {
            None
        }
        fn validate(&self, _: &str, _: &toml::Table, _: &str) -> Vec<ConfigProblem> {
            Vec::new()
        }
        fn build(
            &self,
            _: &str,
            _: &str,
            _: &toml::Table,
            _: &Path,
        ) -> Result<Arc<dyn Connector>, String> {
            Err("not built in these tests".into())
        }
        fn lent_settings(&self, kind: &str) -> &'static [LentSetting] {
            if kind == "taker" { &[DIGIT] } else { &[] }
        }
    }

    fn config(text: &str) -> Config {
        toml::from_str(&format!("version = 1\n{text}")).unwrap()
    }

    fn problems(text: &str) -> Vec<(String, String)> {
        check(&config(text), &Kinds)
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    fn taken(text: &str) -> Option<toml::Value> {
        let c = config(text);
        let mut settings: BTreeMap<String, toml::Table> = c
            .connectors
            .iter()
            .map(|(n, c)| (n.clone(), c.settings.clone()))
            .collect();
        complete(&c, &Kinds, &mut settings);
        settings["t"].get("digit").cloned()
    }

    const TWO: &str = r#"
[connectors.a]
kind = "node"
settings = { digit = "9" }
[connectors.b]
kind = "node"
settings = { digit = "0" }
"#;

    #[test]
    fn the_one_node_of_the_enterprise_lends_without_being_named() {
        let text = "[connectors.a]\nkind = \"node\"\nsettings = { digit = \"9\" }\n[connectors.t]\nkind = \"taker\"\n";
        assert!(problems(text).is_empty());
        assert_eq!(taken(text), Some(toml::Value::String("9".into())));
        // Of another enterprise, it lends nothing.
        let other = text.replace("kind = \"taker\"", "kind = \"taker\"\nenterprise = \"x\"");
        assert!(problems(&format!("[enterprises.x]\n{other}")).is_empty());
        assert_eq!(taken(&format!("[enterprises.x]\n{other}")), None);
    }

    #[test]
    fn of_several_nodes_giving_the_setting_one_is_named() {
        let p = problems(&format!("{TWO}[connectors.t]\nkind = \"taker\"\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "connectors.t.settings.node");
        assert!(
            p[0].1
                .contains("2 connectors of kind node (a, b) and a, b give digit")
                && p[0].1.contains("node = \"a\""),
            "{p:?}"
        );
        let named =
            format!("{TWO}[connectors.t]\nkind = \"taker\"\nsettings = {{ node = \"b\" }}\n");
        assert!(problems(&named).is_empty());
        assert_eq!(taken(&named), Some(toml::Value::String("0".into())));
    }

    #[test]
    fn a_taker_that_takes_nothing_or_names_its_node_wrongly_typed_gets_no_problem_here() {
        // Not a string: the kind's own check says so.
        let text = format!("{TWO}[connectors.t]\nkind = \"taker\"\nsettings = {{ node = 7 }}\n");
        assert!(problems(&text).is_empty());
        assert_eq!(taken(&text), None);
        let text = format!(
            "{TWO}[connectors.t]\nkind = \"taker\"\nsettings = {{ type = \"external\" }}\n"
        );
        assert!(problems(&text).is_empty());
        assert_eq!(taken(&text), None);
        // Written on the taker, it is refused all the same.
        let text = format!(
            "{TWO}[connectors.t]\nkind = \"taker\"\nsettings = {{ type = \"external\", digit = 1 }}\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "connectors.t.settings.digit");
    }
}
