//! `ucsync`: the command line. Wires the configuration, the connectors, the engine and the
//! store; prints results for people or as JSON; maps outcomes to exit codes.

// Printing never panics: these shadow the standard macros in every module below (a closed
// pipe, as in `ucsync runs | head`, ends the output quietly; see `output.rs`).
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::out(::std::format_args!($($arg)*), false) };
}
macro_rules! println {
    () => { $crate::output::out(::std::format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::out(::std::format_args!($($arg)*), true) };
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::output::err(::std::format_args!($($arg)*), false) };
}
macro_rules! eprintln {
    () => { $crate::output::err(::std::format_args!(""), true) };
    ($($arg:tt)*) => { $crate::output::err(::std::format_args!($($arg)*), true) };
}

mod account;
mod admin;
mod check;
mod configuration;
mod connector;
mod directory;
mod enterprises;
mod output;
mod progress;
mod remote;
mod report;
mod secrets;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};
use ucsync_engine::{Engine, Profile, RunOptions, RunStatus};
use ucsync_model::config::ConfigError;

use ucsync_store::{RunStore, SqliteStore};

/// glibc's allocator spends a third of a large sync in malloc and free (values allocated on
/// the SQLite worker thread, freed on the engine's); mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: 0 success, 1 failed, 2 bad configuration or usage, 3 completed with object
/// errors, stopped by the deletion threshold, or stopped at a batch boundary on request (what
/// was committed is consistent and the next run continues from it, so it is partial, not failed).
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;

/// Who the audit and the runs name for what the command line does without a server.
const LOCAL: &str = ucsync_server::auth::LOCAL;

#[derive(Parser)]
#[command(
    name = "ucsync",
    version,
    about = "Synchronize unified-communications directories"
)]
struct Cli {
    /// A configuration file to apply to the store before the command (default: ucsync.toml
    /// when there is one here; else the store's configuration is used).
    #[arg(long, global = true, env = "UCSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Where the store, status files and locks live.
    #[arg(
        long,
        global = true,
        default_value = "ucsync-data",
        env = "UCSYNC_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Run the command against this ucsync server (http:// or https://) instead of the local
    /// data directory.
    #[arg(long, global = true, env = "UCSYNC_SERVER")]
    server: Option<String>,
    /// The API token for --server.
    #[arg(long, global = true, env = "UCSYNC_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Trust this PEM CA certificate for an https:// --server with a private certificate.
    #[arg(long, global = true, env = "UCSYNC_CA_CERT")]
    ca_cert: Option<PathBuf>,
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
    /// The enterprises: each one's ID (what a peer server names to read it) and connectors.
    Enterprises,
    /// The configuration held in the store: export it, or apply a file to it.
    Config {
        #[command(subcommand)]
        command: configuration::ConfigCommand,
    },
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
    /// Connectors: the last import, sync and export of each; delete one with the accounts it
    /// owns.
    Connector {
        #[command(subcommand)]
        command: connector::ConnectorCommand,
    },
    /// An account's own data: numbers added by hand, dynamic statuses.
    Account {
        #[command(subcommand)]
        command: account::AccountCommand,
    },
    /// The secret key that seals the stored configuration: status, rotation, reset.
    Secrets {
        #[command(subcommand)]
        command: secrets::SecretsCommand,
    },
    /// Serve the HTTP API until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8787", env = "UCSYNC_LISTEN")]
        listen: String,
        /// Serve HTTPS with this PEM certificate chain (server certificate first).
        #[arg(long, env = "UCSYNC_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "UCSYNC_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Let peer servers show a client certificate signed by a CA in this PEM file instead of
        /// a peer token (register each with `ucsync admin certificate NAME FILE`).
        #[arg(long, env = "UCSYNC_TLS_CLIENT_CA", requires = "tls_cert")]
        tls_client_ca: Option<PathBuf>,
    },
    /// Exit 0 when the server answers its health check.
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        url: String,
    },
    /// Administrators of the server and their API tokens.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// The audit, newest first: who changed administrators, tokens, the configuration,
    /// connectors or the secret key, and who started which run.
    Audit {
        /// How many lines to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
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
    let result = runtime.block_on(async {
        let result = dispatch(&cli).await;
        fold_held_stores().await;
        result
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(ConfigError::Invalid(problems)) = e.downcast_ref::<ConfigError>() {
                let what = configuration::file(&cli)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "the configuration".to_owned());
                eprintln!("error: {what} has {} problem(s):", problems.len());
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

async fn open_store(data_dir: &Path) -> Result<Arc<SqliteStore>> {
    Ok(Arc::new(SqliteStore::open(data_dir).await?))
}

/// Takes the data directory (see [`lock`]) and opens its store. Runs the store still records as
/// `running` belong to a process that ended without recording their end (killed, or the
/// machine stopped): holding the directory, this one knows that no process runs them any more,
/// and records them as `interrupted`.
async fn open_held_store(data_dir: &Path) -> Result<(std::fs::File, Arc<SqliteStore>)> {
    let held = lock(data_dir)?;
    let store = open_store(data_dir).await?;
    // Still holding the directory when the command ends (the lock is released when every
    // handle on the lock file is closed), the process folds the store into its file then.
    let handle = held
        .try_clone()
        .with_context(|| format!("holding {}", data_dir.display()))?;
    HELD.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((handle, store.clone()));
    record_interrupted(store.as_ref()).await?;
    Ok((held, store))
}

/// The stores this process opened holding their data directory, each with a handle on the
/// directory's lock.
static HELD: std::sync::Mutex<Vec<(std::fs::File, Arc<SqliteStore>)>> =
    std::sync::Mutex::new(Vec::new());

/// How long the end of a command waits to write a store into its file.
const FOLD_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

/// When the command ends (a server once it stopped), each store it held is written whole into
/// its `ucsync.db` before the data directory is let go: SQLite would leave the last changes in
/// `ucsync.db-wal` (all of a first sync, up to 128 MiB), which a backup that copies only the
/// database file would miss, and which the next process reads again when it opens the store.
/// A process killed before this point leaves the log, and the next one that holds the
/// directory folds it.
async fn fold_held_stores() {
    let held = std::mem::take(&mut *HELD.lock().unwrap_or_else(|e| e.into_inner()));
    for (_lock, store) in held {
        // Bounded: a write still under way (a preview the server was asked to stop holds the
        // store until its step ends) does not keep the process from ending.
        match tokio::time::timeout(FOLD_WITHIN, store.checkpoint()).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => tracing::info!(
                store = store.path(),
                "another process was reading the store: part of its write-ahead log stays beside it until the next checkpoint"
            ),
            Ok(Err(e)) => tracing::warn!(store = store.path(), "{e}"),
            Err(_) => tracing::warn!(
                store = store.path(),
                "the store was still being written after {} s: its last changes stay in its write-ahead log, which the next command that holds the data directory writes into the file",
                FOLD_WITHIN.as_secs()
            ),
        }
    }
}

/// Records runs left `running` as `interrupted`; only while holding the data directory.
async fn record_interrupted(store: &SqliteStore) -> Result<()> {
    let ended_at = jiff::Timestamp::now().to_string();
    let ids = store
        .end_unfinished_runs(
            None,
            "interrupted",
            &ended_at,
            "interrupted: the process that ran it ended before the run did (killed, or the machine stopped); what it committed is kept, and the next run continues from there",
        )
        .await?;
    if !ids.is_empty() {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        tracing::warn!(runs = %list.join(", "), "runs found unfinished are recorded as interrupted");
    }
    Ok(())
}

/// One run at a time per data directory: a second one is told who holds the lock.
fn lock(data_dir: &Path) -> Result<std::fs::File> {
    // Private to this user (0700, its files 0600), like everything in it.
    ucsync_store::make_data_dir_private(data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let path = data_dir.join("ucsync.lock");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let server = holder
                .lines()
                .find_map(|l| l.strip_prefix("server="))
                .map(str::to_owned);
            Err(anyhow!(match server {
                Some(url) => format!(
                    "a ucsync server holds {} and serves {url}; run this command against it with --server {url} --token TOKEN, or stop the server first",
                    data_dir.display()
                ),
                None => format!(
                    "another ucsync run is using {}; wait for it to finish (one run at a time per data directory)",
                    data_dir.display()
                ),
            }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow!("cannot lock {}: {e}", path.display())),
    }
}

async fn dispatch(cli: &Cli) -> Result<u8> {
    if let Some(url) = &cli.server {
        let remote = remote::Remote::new(url, cli.token.as_deref(), cli.ca_cert.as_deref())?;
        return remote::dispatch(cli, &remote).await;
    }
    match &cli.command {
        Command::Check => {
            let config = match configuration::from_file(cli)? {
                Some((_, config)) => config,
                None => {
                    let store = open_store(&cli.data_dir).await?;
                    configuration::current(cli, None, store.as_ref(), false).await?
                }
            };
            let connectors = configuration::build_connectors(&config)?;
            let warnings = check::warnings(&config, &connectors).await;
            let what = configuration::file(cli)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| format!("the configuration in {}", cli.data_dir.display()));
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "ok": true,
                        "connectors": config.connectors.len(),
                        "warnings": warnings,
                    })
                );
            } else {
                for w in &warnings {
                    eprintln!("warning: {w}");
                }
                let verdict = match warnings.len() {
                    0 => "ok".to_owned(),
                    n => format!("valid, but see the {n} warning(s) above"),
                };
                println!(
                    "{what}: {verdict} ({} connector(s), enterprises: {})",
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
            // When no process holds the data directory, runs it left `running` are over.
            if let Ok(_held) = lock(&cli.data_dir) {
                record_interrupted(store.as_ref()).await?;
            }
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
        Command::Enterprises => enterprises::run(cli).await,
        Command::Directory { command } => {
            let store = open_store(&cli.data_dir).await?;
            directory::run(command, store.as_ref(), cli.json).await
        }
        Command::Config { command } => configuration::run(cli, command).await,
        Command::Account { command } => account::run(cli, command).await,
        Command::Connector { command } => connector::run(cli, command).await,
        Command::Secrets { command } => secrets::run(cli, command).await,
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            tls_client_ca,
        } => {
            let tls = tls_cert.as_deref().zip(tls_key.as_deref());
            serve::serve(cli, listen, tls, tls_client_ca.as_deref()).await
        }
        Command::Healthcheck { url } => serve::healthcheck(url, cli.ca_cert.as_deref()).await,
        Command::Admin { command } => admin::run(cli, command).await,
        Command::Audit { limit } => admin::show_audit(cli, None, *limit).await,
    }
}

async fn run_engine<F, Fut>(cli: &Cli, flags: &RunFlags, go: F) -> Result<u8>
where
    F: FnOnce(Arc<Engine>, RunOptions) -> Fut,
    Fut: std::future::Future<Output = Result<ucsync_engine::RunReport, ucsync_engine::EngineError>>,
{
    let stop = serve::stop_on_signal();
    let file = configuration::from_file(cli)?;
    let (_lock, store) = open_held_store(&cli.data_dir).await?;
    // A preview runs with the file as given but keeps the store's configuration.
    let config = configuration::current(cli, file, store.as_ref(), !flags.preview).await?;
    // A preview with a file that leaves a connector out is refused as applying it would be.
    ucsync_engine::connectors_left_out(store.as_ref(), &config, false)
        .await
        .map_err(engine_error)?;
    let connectors = configuration::build_connectors(&config)?;
    let engine = Arc::new(Engine::new(store, config, connectors));
    let options = RunOptions {
        preview: flags.preview,
        allow_deletes: flags.allow_deletes,
        status_dir: cli.data_dir.join("status"),
        progress: Arc::new(progress::Bars::new(!cli.json)),
        sync_batch: None,
        look_up_from: None,
        export_batch: None,
        started: None,
        stop,
        started_by: LOCAL.into(),
    };
    let report = go(engine, options).await.map_err(engine_error)?;
    report::print_report(&report, cli.json);
    Ok(exit_code(report.status))
}

/// An engine error as the CLI reports it: configuration and usage problems exit 2.
fn engine_error(e: ucsync_engine::EngineError) -> anyhow::Error {
    match e {
        ucsync_engine::EngineError::Usage(m) | ucsync_engine::EngineError::Config(m) => {
            anyhow!(Usage(m))
        }
        other => anyhow!(other),
    }
}

/// The exit code a run's status means.
fn exit_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Success => 0,
        RunStatus::CompletedWithErrors
        | RunStatus::Stopped
        | RunStatus::StoppedDeletionThreshold => EXIT_PARTIAL,
        RunStatus::Failed => EXIT_FAILED,
    }
}
