//! The configuration as data: the store holds it; a TOML file given at start is applied to it
//! (printing what changed); `ucsync config export` writes it back out without secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ucsync_model::config::{self, ConfigError};
use ucsync_model::{Config, Connector};
use ucsync_store::{ConfigStore, Store};

use crate::{Cli, Usage};

/// The file looked for when `--config` is not given.
const DEFAULT_FILE: &str = "ucsync.toml";

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Write the stored configuration as TOML (secrets replaced by environment variables).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Apply a TOML file to the store and print what changed.
    Apply { file: PathBuf },
}

/// The configuration file of this command: `--config`, else `ucsync.toml` if there is one.
pub fn file(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_FILE);
        default.exists().then_some(default)
    })
}

/// Reads and validates a file; relative paths in it are read from its directory unless it sets
/// `base_dir`.
pub fn load_file(path: &Path) -> Result<Config> {
    let mut config = config::load(path, &ucsync_connectors::Connectors)?;
    if config.base_dir.is_none() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = std::path::absolute(dir)
            .with_context(|| format!("finding the directory of {}", path.display()))?;
        config.base_dir = Some(dir.display().to_string());
    }
    Ok(config)
}

/// The configuration the store holds, if any.
pub async fn stored(store: &dyn ConfigStore) -> Result<Option<Config>> {
    let Some(text) = store.config_text().await? else {
        return Ok(None);
    };
    match config::parse(&text, &ucsync_connectors::Connectors) {
        Ok(c) => Ok(Some(c)),
        Err(ConfigError::Invalid(problems)) => Err(anyhow!(Usage(format!(
            "the configuration in the store is no longer valid for this build ({}); apply a corrected file with `ucsync config apply FILE`",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )))),
        Err(e) => Err(e.into()),
    }
}

/// Applies `new` to the store; returns what changed (nothing written when nothing did).
/// A secret an export replaced by a variable that is not set here is kept from the store. A
/// stored configuration this build no longer accepts is replaced whole. A configuration that
/// leaves out a connector whose staging space still holds objects is refused (naming
/// `connector delete`); a left-out connector that holds nothing is forgotten.
pub async fn apply(store: &dyn Store, new: &Config) -> Result<(Config, Vec<String>)> {
    ucsync_engine::connectors_left_out(store, new, true)
        .await
        .map_err(crate::engine_error)?;
    let text = store.config_text().await?;
    let old = text
        .as_deref()
        .and_then(|t| config::parse(t, &ucsync_connectors::Connectors).ok())
        .unwrap_or_default();
    let mut new = new.clone();
    config::restore_secrets(&mut new, &old, &ucsync_connectors::Connectors);
    let changes = config::changes(&old, &new);
    if !changes.is_empty() || text.is_none() {
        let text = config::to_text(&new).map_err(|e| anyhow!(e))?;
        store.put_config_text(&text).await?;
    }
    if !changes.is_empty() {
        crate::admin::audit(
            store,
            "config-applied",
            "configuration",
            Some(changes.join("; ")),
        )
        .await?;
    }
    Ok((new, changes))
}

/// The configuration file of this command (given, or `ucsync.toml` here), read and checked
/// before anything is opened: a bad file never creates a store.
pub fn from_file(cli: &Cli) -> Result<Option<(PathBuf, Config)>> {
    let Some(path) = file(cli) else {
        return Ok(None);
    };
    let config = load_file(&path)?;
    build_connectors(&config)?;
    Ok(Some((path, config)))
}

/// The configuration a command runs with: the file from [`from_file`], applied to the store
/// first when `persist` (what changed is printed on standard error); without a file, the
/// store's configuration.
pub async fn current(
    cli: &Cli,
    file: Option<(PathBuf, Config)>,
    store: &dyn Store,
    persist: bool,
) -> Result<Config> {
    if let Some((path, config)) = file {
        if persist {
            let (applied, changes) = apply(store, &config).await?;
            if !changes.is_empty() {
                eprintln!("{}", changes_text(&path, &changes, "the store"));
            }
            return Ok(applied);
        }
        return Ok(config);
    }
    stored(store).await?.ok_or_else(|| {
        anyhow!(Usage(format!(
            "{} holds no configuration yet and there is no {DEFAULT_FILE} here; give one with --config FILE",
            cli.data_dir.display()
        )))
    })
}

/// What applying `path` to `holder` ("the store", "the server") changed, one line each.
pub fn changes_text(path: &Path, changes: &[String], holder: &str) -> String {
    if changes.is_empty() {
        return format!(
            "{}: {holder} already holds this configuration",
            path.display()
        );
    }
    std::iter::once(format!("{} applied to {holder}:", path.display()))
        .chain(changes.iter().map(|c| format!("  {c}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every connector of `config`, built; a problem is a usage error naming its key.
pub fn build_connectors(config: &Config) -> Result<BTreeMap<String, Arc<dyn Connector>>> {
    config::build_all(config, &ucsync_connectors::Connectors)
        .map_err(|problems| anyhow!(ConfigError::Invalid(problems)))
}

pub async fn run(cli: &Cli, command: &ConfigCommand) -> Result<u8> {
    match command {
        ConfigCommand::Export { output } => {
            let store = crate::open_store(&cli.data_dir).await?;
            let config = stored(store.as_ref()).await?.ok_or_else(|| {
                anyhow!(Usage(format!(
                    "{} holds no configuration yet; apply one with `ucsync config apply FILE`",
                    cli.data_dir.display()
                )))
            })?;
            let (text, notes) = export_text(&config)?;
            for note in notes {
                eprintln!("note: {note}");
            }
            write_export(output.as_deref(), &text)?;
            Ok(0)
        }
        ConfigCommand::Apply { file } => {
            let config = load_file(file)?;
            build_connectors(&config)?;
            let (_lock, store) = crate::open_held_store(&cli.data_dir).await?;
            let (_, changes) = apply(store.as_ref(), &config).await?;
            if cli.json {
                println!("{}", serde_json::json!({ "changes": changes }));
            } else {
                println!("{}", changes_text(file, &changes, "the store"));
            }
            Ok(0)
        }
    }
}

/// Writes an exported configuration to `output`, or to standard output.
pub fn write_export(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The exported TOML, without secrets, and notes on the environment variables that replace
/// them.
pub fn export_text(config: &Config) -> Result<(String, Vec<String>)> {
    let (redacted, notes) = config::redact_secrets(config, &ucsync_connectors::Connectors);
    let text = config::to_text(&redacted).map_err(|e| anyhow!(e))?;
    Ok((text, notes))
}
