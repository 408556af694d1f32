//! What `ucsync check` finds by holding the rules against what the connectors' external systems
//! hold ([`SourceView`], read by each connector): a source that is not there, a flow that
//! names a staged attribute its connector's objects do not have, a flow that names a directory
//! attribute no connector of the enterprise gives. A run would not fail on them; it would
//! quietly give nothing, and a later step (often another connector's export) would be blamed.
//!
//! Each is a warning: files and servers may change before the next run. This module reads no
//! files and reaches no server; it only compares.

use std::collections::{BTreeMap, BTreeSet};

use super::{Config, ConnectorConfig};
use crate::SourceView;
use crate::config::ConfigProblem;
use crate::expr::Expr;

/// The warnings for `config`, given what each connector's view shows (connectors without a
/// view are not looked at) and the directory attributes entries hold by hand whatever the
/// rules (an account's own numbers and statuses, a connector's initial values).
pub fn source_warnings(
    config: &Config,
    views: &BTreeMap<String, SourceView>,
    by_hand: &BTreeSet<String>,
) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    for (name, c) in &config.connectors {
        if let Some(view) = views.get(name) {
            staged_names(name, c, view, &mut out);
        }
    }
    for enterprise in config.enterprise_names() {
        directory_names(config, &enterprise, by_hand, &mut out);
    }
    // In the order of the file's keys (a stable sort keeps each key's warnings in order).
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Whether a connector's rules read its objects into the directory (a connector that only
/// receives exports needs no file or entries of its own yet).
fn reads(c: &ConnectorConfig) -> bool {
    !c.rules.import_flows.is_empty() || !c.rules.projection.is_empty()
}

/// Every (key path, expression source) over a connector's staged attributes.
fn staged_exprs<'a>(at: &str, c: &'a ConnectorConfig) -> Vec<(String, &'a str)> {
    let r = &c.rules;
    let mut list: Vec<(String, &str)> = Vec::new();
    if let Some(scope) = &r.scope {
        list.push((format!("{at}.scope"), scope));
    }
    for (i, j) in r.join.iter().enumerate() {
        list.push((format!("{at}.join[{i}].staged"), &j.staged));
    }
    for (attr, src) in &r.import_flows {
        list.push((format!("{at}.import_flows.{attr}"), src));
    }
    list
}

fn staged_names(name: &str, c: &ConnectorConfig, view: &SourceView, out: &mut Vec<ConfigProblem>) {
    let settings = format!("connectors.{name}.settings");
    if let Some(absent) = &view.absent
        && reads(c)
    {
        out.push(ConfigProblem::new(&settings, absent));
    }
    for w in &view.warnings {
        out.push(ConfigProblem::new(&settings, w));
    }
    let Some(have) = &view.attributes else {
        return;
    };
    for (at, src) in staged_exprs(&format!("connectors.{name}.rules"), c) {
        let Ok(expr) = Expr::compile(src) else {
            continue;
        };
        for attr in expr.attributes().difference(have) {
            out.push(ConfigProblem::new(
                &at,
                format!(
                    "names attribute \"{attr}\", which the objects of connector {name} do not have ({}: {}), so it is always empty here; fix the name, or the source",
                    view.from,
                    list(have)
                ),
            ));
        }
    }
}

fn directory_names(
    config: &Config,
    enterprise: &str,
    by_hand: &BTreeSet<String>,
    out: &mut Vec<ConfigProblem>,
) {
    let members: Vec<(&String, &ConnectorConfig)> = config
        .connectors
        .iter()
        .filter(|(_, c)| c.enterprise == enterprise)
        .collect();
    let flowed: BTreeSet<String> = members
        .iter()
        .flat_map(|(_, c)| c.rules.import_flows.keys().cloned())
        .collect();
    let given = |attr: &str| flowed.contains(attr) || by_hand.contains(attr);
    let mut warn = |at: String, attr: &str| {
        out.push(ConfigProblem::new(
            at,
            format!(
                "names directory attribute \"{attr}\", which no connector of enterprise {enterprise} gives (their import flows give: {}), so it is always empty; fix the name, or add an import flow that gives it",
                list(&flowed)
            ),
        ));
    };
    for (name, c) in members {
        let at = format!("connectors.{name}.rules");
        let r = &c.rules;
        let mut exprs: Vec<(String, &str)> = r
            .export_flows
            .iter()
            .map(|(attr, src)| (format!("{at}.export_flows.{attr}"), src.as_str()))
            .collect();
        for (i, p) in r.provisioning.iter().enumerate() {
            if let Some(when) = &p.when {
                exprs.push((format!("{at}.provisioning[{i}].when"), when));
            }
        }
        for (path, src) in exprs {
            let Ok(expr) = Expr::compile(src) else {
                continue;
            };
            for attr in expr.attributes().iter().filter(|a| !given(a.as_str())) {
                warn(path.clone(), attr);
            }
        }
        for (i, j) in r.join.iter().enumerate() {
            if !given(&j.directory) {
                warn(format!("{at}.join[{i}].directory"), &j.directory);
            }
        }
    }
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}
