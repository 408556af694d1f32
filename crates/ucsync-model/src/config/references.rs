//! Reference attributes (group members, managers) from one declaration.
//!
//! A reference is declared at two levels: in the directory (`enterprises.E.references`: the
//! engine keeps entry ids there and translates them from a source's anchors and to a target's)
//! and in a connector whose kind translates references itself (the `ldap` kind's `references`
//! setting: DNs on the wire, anchors in the staging space). Either declaration implies the
//! other along plain import and export flows (`member = "member"`): a directory attribute a
//! flow copies from or to a connector's reference attribute is a reference, and a connector's
//! attribute a flow copies from or to a directory reference attribute is one of its references.
//! [`References::resolve`] works that out; [`check`] refuses a configuration where references
//! would still reach a target untranslated, naming the flow and the fix.
//!
//! This module knows no connector kind: a kind says through
//! [`ConnectorFactory::staged_references`](crate::ConnectorFactory::staged_references) where
//! its settings declare references, and which of its attributes hold references by nature.

use std::collections::{BTreeMap, BTreeSet};

use super::{Config, ConfigProblem};
use crate::ConnectorFactory;
use crate::expr::Expr;

/// How a connector holds references to its other objects, as its settings say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StagedReferences {
    /// The settings key that lists them (`references`).
    pub key: &'static str,
    /// The staged attributes that key lists.
    pub declared: Vec<String>,
    /// Staged attributes not listed that hold references in the external system by nature
    /// (LDAP attributes of DN syntax such as `member`): copied as they are, they would carry
    /// the source's own names for its objects into the directory.
    pub undeclared: Vec<String>,
}

/// The reference attributes of every enterprise and connector, declared and implied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Per enterprise, the directory attributes that hold references.
    pub directory: BTreeMap<String, BTreeSet<String>>,
    /// Per connector whose kind translates references itself, the staged attributes that do.
    pub staged: BTreeMap<String, BTreeSet<String>>,
}

/// The attribute an expression only copies.
fn copied(src: &str) -> Option<String> {
    Expr::compile(src)
        .ok()
        .and_then(|e| e.attribute().map(str::to_owned))
}

fn enterprises(config: &Config) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = config.enterprises.keys().cloned().collect();
    names.extend(config.connectors.values().map(|c| c.enterprise.clone()));
    names
}

impl References {
    /// Works out every reference attribute from the declarations: `declared(connector)` gives
    /// a connector's declared staged reference attributes, or `None` when its kind holds
    /// references as anchors already.
    pub fn resolve(config: &Config, declared: &dyn Fn(&str) -> Option<Vec<String>>) -> Self {
        let mut out = References::default();
        for (name, _) in config.connectors.iter() {
            if let Some(list) = declared(name) {
                out.staged.insert(name.clone(), list.into_iter().collect());
            }
        }
        for e in enterprises(config) {
            let mut dir: BTreeSet<String> = config.enterprise(&e).references.into_iter().collect();
            loop {
                let mut grew = false;
                for (name, c) in config.connectors.iter().filter(|(_, c)| c.enterprise == e) {
                    let Some(staged) = out.staged.get_mut(name) else {
                        continue;
                    };
                    let r = &c.rules;
                    // (directory attribute, staged attribute) pairs a plain flow links.
                    let imports = r
                        .import_flows
                        .iter()
                        .filter_map(|(d, src)| copied(src).map(|s| (d.clone(), s)));
                    let exports = r
                        .export_flows
                        .iter()
                        .filter_map(|(s, src)| copied(src).map(|d| (d, s.clone())));
                    for (d, s) in imports.chain(exports) {
                        if staged.contains(&s) && !dir.contains(&d) {
                            dir.insert(d);
                            grew = true;
                        } else if dir.contains(&d) && !staged.contains(&s) {
                            staged.insert(s);
                            grew = true;
                        }
                    }
                }
                if !grew {
                    break;
                }
            }
            out.directory.insert(e, dir);
        }
        out
    }

    /// The directory attributes of `enterprise` that hold references.
    pub fn of_enterprise(&self, enterprise: &str) -> BTreeSet<String> {
        self.directory.get(enterprise).cloned().unwrap_or_default()
    }
}

/// The settings of every connector whose kind translates references, with the staged
/// reference attributes the declarations imply added to its references key; the others as
/// they are.
pub fn completed_settings(
    config: &Config,
    factory: &dyn ConnectorFactory,
) -> BTreeMap<String, toml::Table> {
    let kinds: BTreeMap<&str, StagedReferences> = config
        .connectors
        .iter()
        .filter_map(|(n, c)| Some((n.as_str(), factory.staged_references(&c.kind, &c.settings)?)))
        .collect();
    let refs = References::resolve(config, &|n| kinds.get(n).map(|k| k.declared.clone()));
    let mut out = BTreeMap::new();
    for (name, c) in &config.connectors {
        let mut settings = c.settings.clone();
        if let (Some(k), Some(all)) = (kinds.get(name.as_str()), refs.staged.get(name)) {
            let mut list = k.declared.clone();
            list.extend(all.iter().filter(|s| !k.declared.contains(*s)).cloned());
            if list.len() > k.declared.len() {
                let values = list.into_iter().map(toml::Value::String).collect();
                settings.insert(k.key.to_owned(), toml::Value::Array(values));
            }
        }
        out.insert(name.clone(), settings);
    }
    out
}

/// Refuses flows that would carry references to a target untranslated: each problem names the
/// flow's key and says what to write instead.
pub fn check(config: &Config, factory: &dyn ConnectorFactory) -> Vec<ConfigProblem> {
    let kinds: BTreeMap<&str, StagedReferences> = config
        .connectors
        .iter()
        .filter_map(|(n, c)| Some((n.as_str(), factory.staged_references(&c.kind, &c.settings)?)))
        .collect();
    let refs = References::resolve(config, &|n| kinds.get(n).map(|k| k.declared.clone()));
    let mut problems = Vec::new();
    for e in enterprises(config) {
        let dir = refs.of_enterprise(&e);
        let members: Vec<(&String, &super::ConnectorConfig)> = config
            .connectors
            .iter()
            .filter(|(_, c)| c.enterprise == e)
            .collect();
        // Where a directory attribute leaves for a target: (connector, export flow key).
        let leaves = |d: &str| -> Option<String> {
            members.iter().find_map(|(t, c)| {
                c.rules.export_flows.iter().find_map(|(s, src)| {
                    let reads = Expr::compile(src).ok()?.attributes();
                    reads
                        .contains(d)
                        .then(|| format!("connectors.{t}.rules.export_flows.{s}"))
                })
            })
        };
        for (name, c) in &members {
            let Some(kind) = kinds.get(name.as_str()) else {
                continue;
            };
            let staged = refs.staged.get(name.as_str()).cloned().unwrap_or_default();
            let key = format!("connectors.{name}.settings.{}", kind.key);
            for (d, src) in &c.rules.import_flows {
                let Ok(expr) = Expr::compile(src) else {
                    continue;
                };
                let reads = expr.attributes();
                let at = format!("connectors.{name}.rules.import_flows.{d}");
                let carried: Vec<&String> = reads
                    .iter()
                    .filter(|a| staged.contains(*a) || kind.undeclared.contains(*a))
                    .collect();
                if dir.contains(d) {
                    if !reads.is_empty() && !reads.iter().any(|a| staged.contains(a)) {
                        problems.push(ConfigProblem::new(
                            at,
                            format!(
                                "{d} is a reference attribute of enterprise {e}, but this flow reads no attribute that connector {name} holds as references, so the directory would get values it cannot translate; copy the attribute that holds them (`{d} = \"member\"`) and list it in {key}"
                            ),
                        ));
                    }
                    continue;
                }
                let (Some(first), Some(to)) = (carried.first(), leaves(d)) else {
                    continue;
                };
                let fix = if expr.attribute().is_some() {
                    format!(
                        "add \"{first}\" to {key} (or \"{d}\" to enterprises.{e}.references), so that they are translated"
                    )
                } else {
                    format!(
                        "make the flow a plain copy (`{d} = \"{first}\"`) and add \"{d}\" to enterprises.{e}.references, so that they are translated"
                    )
                };
                problems.push(ConfigProblem::new(
                    at,
                    format!(
                        "{first} holds references to other objects of connector {name}, and this flow copies them into directory attribute {d}, which is not a reference attribute; {to} then sends them to its target untranslated, as the source's own names; {fix}"
                    ),
                ));
            }
            for (s, src) in &c.rules.export_flows {
                let Ok(expr) = Expr::compile(src) else {
                    continue;
                };
                let Some(d) = expr.attributes().into_iter().find(|a| dir.contains(a)) else {
                    continue;
                };
                if staged.contains(s) {
                    continue;
                }
                problems.push(ConfigProblem::new(
                    format!("connectors.{name}.rules.export_flows.{s}"),
                    format!(
                        "this flow reads reference attribute {d} of enterprise {e}, but {s} is not one of connector {name}'s references, so its target would get anchors instead of its own names for the objects; copy the attribute alone (`{s} = \"{d}\"`), which makes {s} a reference, or list \"{s}\" in {key}"
                    ),
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    const FORESTS: &str = r#"version = 1
[connectors.src]
kind = "ldap"
[connectors.src.rules.import_flows]
member = "member"
cn = "cn"
[connectors.dst]
kind = "ldap"
[connectors.dst.rules.export_flows]
member = "member"
cn = "cn"
"#;

    fn resolve(c: &Config, declared: &[(&str, &[&str])]) -> References {
        let declared: BTreeMap<String, Vec<String>> = declared
            .iter()
            .map(|(n, l)| (n.to_string(), l.iter().map(|s| s.to_string()).collect()))
            .collect();
        References::resolve(c, &|n| declared.get(n).cloned())
    }

    #[test]
    fn one_declaration_on_a_connector_makes_the_others() {
        let c = config(FORESTS);
        let r = resolve(&c, &[("src", &["member"]), ("dst", &[])]);
        assert_eq!(
            r.of_enterprise("default"),
            BTreeSet::from(["member".into()])
        );
        assert_eq!(r.staged["dst"], BTreeSet::from(["member".into()]));
        let r = resolve(&c, &[("src", &[]), ("dst", &["member"])]);
        assert_eq!(r.staged["src"], BTreeSet::from(["member".into()]));
    }

    #[test]
    fn one_declaration_on_the_enterprise_makes_the_connectors() {
        let c = config(&format!(
            "{FORESTS}[enterprises.default]\nreferences = [\"member\"]\n"
        ));
        let r = resolve(&c, &[("src", &[]), ("dst", &[])]);
        assert_eq!(r.staged["src"], BTreeSet::from(["member".into()]));
        assert_eq!(r.staged["dst"], BTreeSet::from(["member".into()]));
        assert!(!r.staged["src"].contains("cn"));
    }

    #[test]
    fn without_any_declaration_nothing_is_a_reference() {
        let r = resolve(&config(FORESTS), &[("src", &[]), ("dst", &[])]);
        assert!(r.of_enterprise("default").is_empty());
    }
}
