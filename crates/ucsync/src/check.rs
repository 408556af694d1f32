//! What `ucsync check` reports beyond a valid configuration: it looks at what each connector
//! can reach (file headers, an LDAP server's schema) and holds the rules against it
//! ([`ucsync_model::config::source_warnings`]). Everything found here is a warning: the files
//! and servers may change before the next run, and a server that is down now is no mistake in
//! the configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ucsync_model::config::{Config, ConfigProblem, source_warnings};
use ucsync_model::{Connector, ConnectorFactory, SourceView, account};

/// How long one connector's system may take to answer.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The warnings for a configuration whose connectors are built.
pub async fn warnings(
    config: &Config,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
) -> Vec<ConfigProblem> {
    let mut tasks = tokio::task::JoinSet::new();
    for (name, c) in connectors {
        let (name, c) = (name.clone(), Arc::clone(c));
        tasks.spawn(async move {
            let view = match tokio::time::timeout(INSPECT_TIMEOUT, c.inspect()).await {
                Ok(view) => view,
                Err(_) => SourceView {
                    warnings: vec![format!(
                        "its external system did not answer within {} s; it was not checked",
                        INSPECT_TIMEOUT.as_secs()
                    )],
                    ..SourceView::default()
                },
            };
            (name, view)
        });
    }
    let mut views = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((name, view)) = done {
            views.insert(name, view);
        }
    }
    // Values entries hold by hand whatever the rules give.
    let mut by_hand: BTreeSet<String> = [account::MANUAL_NUMBER, account::DYNAMIC_STATUS]
        .map(str::to_owned)
        .into();
    for c in connectors.values() {
        for object_type in c.object_types() {
            by_hand.extend(c.initial_values(&object_type).names().cloned());
        }
    }
    let mut out = source_warnings(config, &views, &by_hand);
    out.extend(unscheduled(config, &ucsync_connectors::Connectors));
    out.extend(unflowed(config, &ucsync_connectors::Connectors));
    out
}

/// A connector whose rules leave out import flows its kind is meant to have (a peer's:
/// federation, dial strings, its folder): the lines to add.
fn unflowed(config: &Config, kinds: &dyn ConnectorFactory) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    for (name, c) in &config.connectors {
        let suggested = kinds.suggested_import_flows(&c.kind);
        let missing: Vec<String> = suggested
            .iter()
            .filter(|(target, _)| !c.rules.import_flows.contains_key(*target))
            .map(|(target, expr)| format!("{target} = \"{expr}\""))
            .collect();
        if !missing.is_empty() {
            out.push(ConfigProblem::new(
                format!("connectors.{name}.rules.import_flows"),
                format!(
                    "a {kind} connector's objects are meant to flow {which} into the directory, and these rules leave {them} out: add {lines} to [connectors.{name}.rules.import_flows]",
                    kind = c.kind,
                    which = suggested
                        .iter()
                        .map(|(target, _)| *target)
                        .collect::<Vec<_>>()
                        .join(", "),
                    them = if missing.len() == 1 { "one" } else { "some" },
                    lines = missing.join(", "),
                ),
            ));
        }
    }
    out
}

/// A connector of a kind that offers a schedule (communities: daily at 02:00) that no schedule
/// runs, neither by itself nor with its enterprise's Sync Now: the schedule to add.
fn unscheduled(config: &Config, kinds: &dyn ConnectorFactory) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    for (name, c) in &config.connectors {
        let Some(when) = kinds.default_schedule(&c.kind) else {
            continue;
        };
        let runs = config.schedules.values().any(|s| {
            s.connector.as_deref() == Some(name.as_str())
                || s.enterprise.as_deref() == Some(c.enterprise.as_str())
        });
        if !runs {
            out.push(ConfigProblem::new(
                format!("connectors.{name}"),
                format!(
                    "no schedule runs this connector; a {kind} connector is meant to run {when} (server time): add [schedules.{name}] with enterprise = \"{enterprise}\" and when = \"{when}\" (ucsync serve runs it), or run it with `ucsync sync-now`",
                    kind = c.kind,
                    enterprise = c.enterprise,
                ),
            ));
        }
    }
    out
}
