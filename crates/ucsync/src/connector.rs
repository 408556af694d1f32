//! `ucsync connector status|errors|delete`: each connector's last import, sync and export and
//! its outstanding per-object errors, and deleting a connector (a synchronizer) together with
//! the accounts it owns.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use ucsync_engine::{Engine, Profile, RunOptions, RunStatus};
use ucsync_model::Config;
use ucsync_store::{ErrorStore, Store};

use reqwest::Method;

use crate::remote::Remote;
use crate::{Cli, RunFlags, Usage, configuration};

#[derive(Subcommand)]
pub enum ConnectorCommand {
    /// Each connector's kind, enterprise, the time, status and counters of its last import,
    /// sync and export, and how many per-object errors are outstanding.
    Status {
        /// Only this connector.
        name: Option<String>,
    },
    /// The outstanding per-object errors of a connector: every object a step rejected and no
    /// run has fixed since, with the step, the object (key, DN, line), the message and the
    /// runs that first and last reported it.
    Errors { name: String },
    /// Delete a connector: the entries it owns (and only those), its links and its staging
    /// space, then take it out of the configuration. Subject to the deletion threshold.
    Delete {
        name: String,
        #[command(flatten)]
        run: RunFlags,
    },
}

pub async fn run(cli: &Cli, command: &ConnectorCommand) -> Result<u8> {
    match command {
        ConnectorCommand::Status { name } => {
            let store = crate::open_store(&cli.data_dir).await?;
            let config =
                configuration::current(cli, configuration::from_file(cli)?, store.as_ref(), false)
                    .await?;
            status(cli, &config, store.as_ref(), name.as_deref()).await
        }
        ConnectorCommand::Errors { name } => {
            let store = crate::open_store(&cli.data_dir).await?;
            let config =
                configuration::current(cli, configuration::from_file(cli)?, store.as_ref(), false)
                    .await?;
            known(&config, name)?;
            let errors = store.outstanding_errors(Some(name)).await?;
            print_errors(cli, name, &serde_json::to_value(errors)?)
        }
        ConnectorCommand::Delete { name, run } => delete(cli, name, run).await,
    }
}

/// Through a server: the same status from `GET /api/v1/connectors`, and the deletion through
/// `DELETE /api/v1/connectors/{name}`.
pub async fn run_remote(cli: &Cli, remote: &Remote, command: &ConnectorCommand) -> Result<u8> {
    match command {
        ConnectorCommand::Status { name } => {
            let answer = remote.get("/api/v1/connectors").await?;
            let list: Vec<serde_json::Value> = answer["connectors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| name.as_deref().is_none_or(|n| c["name"] == n))
                .cloned()
                .collect();
            if let Some(n) = name
                && list.is_empty()
            {
                return Err(anyhow!(Usage(format!(
                    "the server has no connector named \"{n}\""
                ))));
            }
            print_status(cli, &list)
        }
        ConnectorCommand::Errors { name } => {
            let answer = remote
                .get(&format!(
                    "/api/v1/connectors/{}/errors",
                    crate::remote::encode(name)
                ))
                .await?;
            print_errors(cli, name, &answer["errors"])
        }
        ConnectorCommand::Delete { name, run } => {
            let mut query = vec![format!("preview={}", run.preview)];
            if let Some(n) = run.allow_deletes {
                query.push(format!("allow_deletes={n}"));
            }
            let answer = remote
                .call(
                    Method::DELETE,
                    &format!(
                        "/api/v1/connectors/{}?{}",
                        crate::remote::encode(name),
                        query.join("&")
                    ),
                    None,
                )
                .await?;
            if cli.json {
                println!("{answer}");
            } else {
                let report = &answer["report"];
                println!(
                    "{} {}: {}",
                    report["profile"].as_str().unwrap_or_default(),
                    report["status"].as_str().unwrap_or_default(),
                    report["message"].as_str().unwrap_or_default()
                );
                for c in answer["changes"].as_array().into_iter().flatten() {
                    println!("configuration: {}", c.as_str().unwrap_or_default());
                }
            }
            Ok(0)
        }
    }
}

/// Refuses a connector name the configuration does not have, naming those it has.
fn known(config: &Config, name: &str) -> Result<()> {
    if config.connectors.contains_key(name) {
        return Ok(());
    }
    Err(anyhow!(Usage(format!(
        "no connector named \"{name}\"; configured: {}",
        config
            .connectors
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))))
}

async fn status(cli: &Cli, config: &Config, store: &dyn Store, only: Option<&str>) -> Result<u8> {
    if let Some(name) = only {
        known(config, name)?;
    }
    let runs = store.latest_connector_runs().await?;
    let counts = store.error_counts().await?;
    let mut list = Vec::new();
    for (name, c) in &config.connectors {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        list.push(serde_json::json!({
            "name": name,
            "kind": c.kind,
            "enterprise": c.enterprise,
            "last": ucsync_server::api::connectors::last_runs(name, &runs),
            "outstanding_errors": ucsync_server::api::connectors::outstanding(name, &counts),
            "schedules": ucsync_server::api::connectors::schedules(config, &ucsync_connectors::Connectors, name),
        }));
    }
    print_status(cli, &list)
}

/// The schedules that run a connector; without one, the schedule its kind is meant to run on.
fn print_schedules(item: &serde_json::Value) {
    let schedules = &item["schedules"];
    let by = schedules["by"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for s in by {
        let off = if s["enabled"] == false {
            ", disabled"
        } else {
            ""
        };
        println!(
            "  schedule      {} ({}{off})",
            s["name"].as_str().unwrap_or_default(),
            s["when"].as_str().unwrap_or_default()
        );
    }
    match schedules["offered"].as_str() {
        Some(when) if by.is_empty() => println!(
            "  schedule      none; a {} connector is meant to run {when}: add a schedule for it or its enterprise",
            item["kind"].as_str().unwrap_or_default()
        ),
        _ if by.is_empty() => println!("  schedule      none"),
        _ => {}
    }
}

fn print_status(cli: &Cli, list: &[serde_json::Value]) -> Result<u8> {
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    for item in list {
        println!(
            "{}  ({}, enterprise {})",
            item["name"].as_str().unwrap_or_default(),
            item["kind"].as_str().unwrap_or_default(),
            item["enterprise"].as_str().unwrap_or_default()
        );
        let last = &item["last"];
        for step in ["import", "sync", "export"] {
            let r = &last[step];
            if r.is_null() {
                println!("  last {step:<7} never");
                continue;
            }
            let k = &r["counters"];
            println!(
                "  last {step:<7} {:<24}  {:<26} run {:<6} +{} ~{} -{} ={} !{}",
                r["ended_at"]
                    .as_str()
                    .or(r["started_at"].as_str())
                    .unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
                r["id"],
                k["added"],
                k["updated"],
                k["deleted"],
                k["unchanged"],
                k["errors"]
            );
            // Why it failed, or what it noted (a peer's version, a full run and why).
            if let Some(m) = r["message"].as_str().filter(|m| !m.is_empty()) {
                println!("    {m}");
            }
            // After a failure: when it last went well, and what that run noted.
            let good = &r["last_success"];
            if !good.is_null() {
                println!(
                    "    last success {} (run {}){}",
                    good["ended_at"].as_str().unwrap_or_default(),
                    good["id"],
                    good["message"]
                        .as_str()
                        .filter(|m| !m.is_empty())
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                );
            }
        }
        print_schedules(item);
        let outstanding = item["outstanding_errors"].as_i64().unwrap_or_default();
        if outstanding > 0 {
            println!(
                "  outstanding errors {outstanding} (objects still rejected; `ucsync connector errors {}` lists them)",
                item["name"].as_str().unwrap_or_default()
            );
        } else {
            println!("  outstanding errors 0");
        }
    }
    if !list.is_empty() {
        println!("(+ added, ~ updated, - deleted, = unchanged, ! errors)");
    }
    Ok(0)
}

async fn delete(cli: &Cli, name: &str, flags: &RunFlags) -> Result<u8> {
    let file = configuration::from_file(cli)?;
    if let Some((path, config)) = &file
        && config.connectors.contains_key(name)
    {
        return Err(anyhow!(Usage(format!(
            "connector {name} is still in {}: take [connectors.{name}] (and its place in sync_order) out of the file first, then run this again; otherwise the next command that applies the file creates it again",
            path.display()
        ))));
    }
    let (_lock, store) = crate::open_held_store(&cli.data_dir).await?;
    let stored = configuration::current(cli, None, store.as_ref(), false).await?;
    if !stored.connectors.contains_key(name) {
        return Err(anyhow!(Usage(format!(
            "the store's configuration has no connector named \"{name}\"; configured: {}",
            stored
                .connectors
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))));
    }
    let mut remaining = stored.clone();
    remaining
        .remove_connector(name)
        .map_err(|e| anyhow!(Usage(e)))?;
    let connectors = configuration::build_connectors(&stored)?;
    let engine = Arc::new(Engine::new(store.clone(), stored, connectors));
    let options = RunOptions {
        preview: flags.preview,
        allow_deletes: flags.allow_deletes,
        status_dir: cli.data_dir.join("status"),
        progress: Arc::new(crate::progress::Bars::new(!cli.json)),
        sync_batch: None,
        look_up_from: None,
        export_batch: None,
        started: None,
        stop: crate::serve::stop_on_signal(),
        started_by: crate::LOCAL.into(),
    };
    let report = engine
        .run_profile(name, Profile::DeleteConnector, &options)
        .await
        .map_err(crate::engine_error)?;
    crate::report::print_report(&report, cli.json);
    let done = matches!(
        report.status,
        RunStatus::Success | RunStatus::CompletedWithErrors
    );
    if done && !flags.preview {
        let detail = report.run_id.map(|id| format!("by run {id}"));
        crate::admin::audit(
            store.as_ref(),
            "connector-deleted",
            &format!("connector {name}"),
            detail,
        )
        .await?;
        // The file (which no longer has the connector) or the stored configuration without it.
        let new = file.map(|(_, c)| c).unwrap_or(remaining);
        let (_, changes) = configuration::apply(store.as_ref(), &new).await?;
        for c in changes {
            eprintln!("configuration: {c}");
        }
    }
    Ok(crate::exit_code(report.status))
}

/// Prints a connector's outstanding errors (a JSON array of them).
fn print_errors(cli: &Cli, name: &str, errors: &serde_json::Value) -> Result<u8> {
    if cli.json {
        println!("{}", serde_json::to_string_pretty(errors)?);
        return Ok(0);
    }
    let list = errors.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("connector {name}: no outstanding errors");
        return Ok(0);
    }
    println!(
        "connector {name}: {} outstanding error{} (fix each object in its source; the next run that reads it clears it)",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    for e in &list {
        let message = e["message"].as_str().unwrap_or_default();
        // The line, unless the message names it already.
        let line = match e["line"].as_i64() {
            Some(n) if !message.contains(&format!("line {n}")) => format!(" (line {n})"),
            _ => String::new(),
        };
        println!(
            "  {:<7} {}{line}: {}  [runs {}–{}]",
            e["step"].as_str().unwrap_or_default(),
            e["name"].as_str().unwrap_or_default(),
            message,
            e["first_run"],
            e["last_run"]
        );
    }
    Ok(0)
}
