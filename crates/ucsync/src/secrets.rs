//! `ucsync secrets`: the secret key that seals the stored configuration. `status` says which
//! key file is used and whether it opens the store (exit 1 when not, so a backup of the key
//! can be checked), `rotate-key` seals the configuration with a new key and replaces the key
//! file, and `reset` discards a configuration whose key is lost for good. The sealing, the key
//! files and their safe replacement are the store's (`ucsync_store::secret_key`).

use std::path::PathBuf;

use anyhow::{Result, anyhow};
use serde_json::json;
use ucsync_store::secret_key::{CREDENTIAL, KeyOrigin};

use crate::{Cli, EXIT_FAILED, Usage};

#[derive(clap::Subcommand)]
pub enum SecretsCommand {
    /// Which key file is used, its id, and whether it opens the stored configuration.
    Status,
    /// Seal the stored configuration with a new key, then replace the key file with it.
    RotateKey {
        /// Take the new key from this file (32 bytes, or 64 hex digits) instead of making a
        /// random one; needed when the key is a systemd credential.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
    /// After the key is lost for good: discard the stored configuration (staging spaces,
    /// directory and runs stay), then apply your configuration file again.
    Reset {
        /// Confirms that the stored configuration is to be discarded.
        #[arg(long)]
        discard_configuration: bool,
    },
}

pub async fn run(cli: &Cli, command: &SecretsCommand) -> Result<u8> {
    match command {
        SecretsCommand::Status => {
            let store = crate::open_store(&cli.data_dir).await?;
            let st = store.secret_status().await?;
            if cli.json {
                println!(
                    "{}",
                    json!({
                        "key_file": st.location.path.display().to_string(),
                        "key_source": st.location.origin.as_str(),
                        "key_id": st.key_id,
                        "sealed_with": st.sealed_with,
                        "opens": st.opens,
                        "error": st.key_error,
                    })
                );
            } else {
                let id = st.key_id.as_deref().map_or_else(
                    || "no key yet (made when a configuration is first stored)".to_owned(),
                    |id| format!("key {id}"),
                );
                println!(
                    "secret key: {} ({}), {id}",
                    st.location.path.display(),
                    st.location.origin.as_str()
                );
                match (&st.sealed_with, st.opens) {
                    (None, _) => println!("stored configuration: none yet"),
                    (Some(sealed), true) => {
                        println!(
                            "stored configuration: sealed with key {sealed}; this key opens it"
                        )
                    }
                    (Some(sealed), false) => println!(
                        "stored configuration: sealed with key {sealed}; this key does NOT open it"
                    ),
                }
                if let Some(e) = &st.key_error {
                    eprintln!("error: {e}");
                }
            }
            Ok(if st.opens { 0 } else { EXIT_FAILED })
        }
        SecretsCommand::RotateKey { new_key_file } => {
            let _lock = crate::lock(&cli.data_dir)?;
            let store = crate::open_store(&cli.data_dir).await?;
            let r = store.rotate_secret_key(new_key_file.as_deref()).await?;
            // Key ids are safe to show: they say which key, not what it is.
            let was = r.old_id.as_deref().unwrap_or("none");
            let detail = format!("key {was} → {}", r.new_id);
            crate::admin::audit(
                store.as_ref(),
                "secret-key-rotated",
                "secret key",
                Some(detail),
            )
            .await?;
            if cli.json {
                println!(
                    "{}",
                    json!({
                        "old_key_id": r.old_id,
                        "new_key_id": r.new_id,
                        "key_file": r.location.path.display().to_string(),
                        "installed": r.installed,
                    })
                );
                return Ok(0);
            }
            let was = r
                .old_id
                .as_deref()
                .map(|id| format!(" (was key {id})"))
                .unwrap_or_default();
            if r.resealed {
                println!(
                    "the configuration in {} is now sealed with key {}{was}",
                    store.path(),
                    r.new_id
                );
            } else {
                println!(
                    "no configuration is stored yet; the key is now key {}{was}",
                    r.new_id
                );
            }
            if r.installed {
                println!(
                    "the new key is in {}: back it up now, apart from the database (backups of the store taken from now on need it, older ones the old key)",
                    r.location
                );
            } else {
                let file = new_key_file
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                println!(
                    "install {file} as the service's credential {CREDENTIAL} (in place of {}) before it starts again, and back it up apart from the database",
                    r.location.path.display()
                );
            }
            if r.location.origin == KeyOrigin::Env {
                println!(
                    "the file named by UCSYNC_SECRET_KEY_FILE was replaced; copies of it elsewhere hold the old key"
                );
            }
            Ok(0)
        }
        SecretsCommand::Reset {
            discard_configuration,
        } => {
            if !discard_configuration {
                return Err(anyhow!(Usage(
                    "`ucsync secrets reset` discards the stored configuration, for when no copy of the key it is sealed with is left (staging spaces, directory and runs stay); if that is so, run it with --discard-configuration, then apply your configuration file again".into()
                )));
            }
            let _lock = crate::lock(&cli.data_dir)?;
            let store = crate::open_store(&cli.data_dir).await?;
            if store.discard_sealed_config().await? {
                crate::admin::audit(store.as_ref(), "config-discarded", "configuration", None)
                    .await?;
                println!(
                    "discarded the stored configuration of {}; apply your configuration file again (`ucsync config apply FILE`), with the key found then",
                    cli.data_dir.display()
                );
            } else {
                println!(
                    "{} holds no configuration; nothing to discard",
                    cli.data_dir.display()
                );
            }
            Ok(0)
        }
    }
}
