//! `ucsync`: the command line. Wires the configuration, the connectors, the engine and the
//! store; prints results for people or as JSON; maps outcomes to exit codes.

mod directory;
mod progress;
mod report;
mod serve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};
use ucsync_engine::{Engine, Profile, RunOptions, RunStatus};
use ucsync_model::config::ConfigError;
use ucsync_model::{Config, Connector, ConnectorFactory};
use ucsync_store::{RunStore, SqliteStore};

/// glibc's allocator spends a third of a large sync in malloc and free (values allocated on
/// the SQLite worker thread, freed on the engine's); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 success, 1 failed, 2 bad configuration or usage, 3 completed with object
/// errors or stopped by the deletion threshold.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;

#[derive(Parser)]
#[command(
    name = "ucsync",
    version,
    about = "Synchronize unified-communications directories"
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        default_value = "ucsync.toml",
        env = "UCSYNC_CONFIG"
    )]
    config: PathBuf,
    /// Where the store, status files and locks live.
    #[arg(
        long,
        global = true,
        default_value = "ucsync-data",
        env = "UCSYNC_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the configuration; print every problem with its key path.
    Check,
    /// Run one profile on one connector.
    Run {
        connector: String,
        /// full-import, delta-import, full-sync, delta-sync or export.
        profile: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// Import, sync and export every connector of an enterprise in its configured order.
    SyncNow {
        #[arg(long, default_value = ucsync_model::config::DEFAULT_ENTERPRISE)]
        enterprise: String,
        #[command(flatten)]
        run: RunFlags,
    },
    /// List recent runs, or show one.
    Runs {
        #[command(subcommand)]
        show: Option<RunsCommand>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Search and show directory entries.
    Directory {
        #[command(subcommand)]
        command: directory::DirectoryCommand,
    },
    /// Serve the HTTP API until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8787", env = "UCSYNC_LISTEN")]
        listen: String,
    },
    /// Exit 0 when the server answers its health check.
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        url: String,
    },
    /// Administrators of the server and their API tokens.
    Admin {
        #[command(subcommand)]
        command: serve::AdminCommand,
    },
}

#[derive(Subcommand)]
enum RunsCommand {
    /// One run with its steps and per-object outcomes.
    Show { id: i64 },
}

#[derive(clap::Args)]
struct RunFlags {
    /// Report what would change, per object and attribute, and commit nothing.
    #[arg(long)]
    preview: bool,
    /// Allow up to N deletes in this run, beyond the deletion threshold.
    #[arg(long, value_name = "N")]
    allow_deletes: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(dispatch(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(ConfigError::Invalid(problems)) = e.downcast_ref::<ConfigError>() {
                eprintln!(
                    "error: {} has {} problem(s):",
                    cli.config.display(),
                    problems.len()
                );
                for p in problems {
                    eprintln!("  {p}");
                }
                return ExitCode::from(EXIT_USAGE);
            }
            eprintln!("error: {e:#}");
            let usage =
                e.downcast_ref::<Usage>().is_some() || e.downcast_ref::<ConfigError>().is_some();
            ExitCode::from(if usage { EXIT_USAGE } else { EXIT_FAILED })
        }
    }
}

fn init_logs(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // sqlx's own "slow statement" warnings are about bulk statements that are slow by nature.
    let filter = tracing_subscriber::EnvFilter::try_from_env("UCSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},sqlx=error")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// A usage error: exit code 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn load_config(path: &Path) -> Result<Config> {
    Ok(ucsync_model::config::load(
        path,
        &ucsync_connectors::Connectors,
    )?)
}

fn build_connectors(
    config: &Config,
    config_path: &Path,
) -> Result<BTreeMap<String, Arc<dyn Connector>>> {
    let base = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    for (name, c) in &config.connectors {
        let built = ucsync_connectors::Connectors
            .build(name, &c.kind, &c.settings, base)
            .map_err(|e| anyhow!(Usage(format!("connector {name}: {e}"))))?;
        out.insert(name.clone(), built);
    }
    Ok(out)
}

async fn open_store(data_dir: &Path) -> Result<Arc<SqliteStore>> {
    Ok(Arc::new(SqliteStore::open(data_dir).await?))
}

/// One run at a time per data directory: a second one is told who holds the lock.
fn lock(data_dir: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let path = data_dir.join("ucsync.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow!(
            "another ucsync run is using {}; wait for it to finish (one run at a time per data directory)",
            data_dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow!("cannot lock {}: {e}", path.display())),
    }
}

async fn dispatch(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::Check => {
            let config = load_config(&cli.config)?;
            build_connectors(&config, &cli.config)?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "connectors": config.connectors.len()})
                );
            } else {
                println!(
                    "{}: ok ({} connector(s), enterprises: {})",
                    cli.config.display(),
                    config.connectors.len(),
                    config.enterprise_names().join(", ")
                );
            }
            Ok(0)
        }
        Command::Run {
            connector,
            profile,
            run,
        } => {
            let profile: Profile = profile.parse().map_err(|e: String| anyhow!(Usage(e)))?;
            run_engine(cli, run, |engine, options| {
                let connector = connector.clone();
                async move { engine.run_profile(&connector, profile, &options).await }
            })
            .await
        }
        Command::SyncNow { enterprise, run } => {
            run_engine(cli, run, |engine, options| {
                let enterprise = enterprise.clone();
                async move { engine.sync_now(&enterprise, &options).await }
            })
            .await
        }
        Command::Runs { show, limit } => {
            let store = open_store(&cli.data_dir).await?;
            match show {
                None => report::print_runs(&store.runs(*limit).await?, cli.json),
                Some(RunsCommand::Show { id }) => {
                    let run = store.run(*id).await?.ok_or_else(|| {
                        anyhow!(Usage(format!("no run {id}; `ucsync runs` lists them")))
                    })?;
                    let steps = store.child_runs(*id).await?;
                    let outcomes = store.outcomes(*id).await?;
                    report::print_run(&run, &steps, &outcomes, cli.json)
                }
            }
            Ok(0)
        }
        Command::Directory { command } => {
            let store = open_store(&cli.data_dir).await?;
            directory::run(command, store.as_ref(), cli.json).await
        }
        Command::Serve { listen } => serve::serve(cli, listen).await,
        Command::Healthcheck { url } => serve::healthcheck(url).await,
        Command::Admin { command } => serve::admin(cli, command).await,
    }
}

async fn run_engine<F, Fut>(cli: &Cli, flags: &RunFlags, go: F) -> Result<u8>
where
    F: FnOnce(Arc<Engine>, RunOptions) -> Fut,
    Fut: std::future::Future<Output = Result<ucsync_engine::RunReport, ucsync_engine::EngineError>>,
{
    let config = load_config(&cli.config)?;
    let connectors = build_connectors(&config, &cli.config)?;
    let _lock = lock(&cli.data_dir)?;
    let store = open_store(&cli.data_dir).await?;
    let engine = Arc::new(Engine::new(store, config, connectors));
    let options = RunOptions {
        preview: flags.preview,
        allow_deletes: flags.allow_deletes,
        status_dir: cli.data_dir.join("status"),
        progress: Arc::new(progress::Bars::new(!cli.json)),
        sync_batch: None,
        started: None,
    };
    let report = go(engine, options).await.map_err(|e| match e {
        ucsync_engine::EngineError::Usage(m) | ucsync_engine::EngineError::Config(m) => {
            anyhow!(Usage(m))
        }
        other => anyhow!(other),
    })?;
    report::print_report(&report, cli.json);
    Ok(match report.status {
        RunStatus::Success => 0,
        RunStatus::CompletedWithErrors | RunStatus::StoppedDeletionThreshold => EXIT_PARTIAL,
        RunStatus::Failed => EXIT_FAILED,
    })
}
