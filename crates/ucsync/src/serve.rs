//! `ucsync serve` and `ucsync healthcheck`: the HTTP API on the local store and its health
//! check (its administrators and tokens are `admin.rs`'s).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use ucsync_engine::Engine;
use ucsync_server::AppState;

use crate::{Cli, Usage, configuration, open_held_store};

pub async fn serve(
    cli: &Cli,
    listen: &str,
    tls: Option<(&Path, &Path)>,
    client_ca: Option<&Path>,
) -> Result<u8> {
    let file = configuration::from_file(cli)?;
    let (mut lock_file, store) = open_held_store(&cli.data_dir).await?;
    let config = configuration::current(cli, file, store.as_ref(), true).await?;
    let connectors = configuration::build_connectors(&config)?;
    let acceptor = tls
        .map(|(cert, key)| ucsync_server::tls::acceptor(cert, key, client_ca))
        .transpose()
        .map_err(|e| anyhow!(Usage(e)))?;
    let engine = Arc::new(Engine::new(store, config, connectors));
    let state = AppState::new(
        engine,
        Arc::new(ucsync_connectors::Connectors),
        cli.data_dir.join("status"),
        Arc::new(ucsync_server::SystemClock),
    );
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow!(Usage(format!(
            "cannot listen on {listen}: {e}; choose another address with --listen"
        )))
    })?;
    let bound = listener.local_addr()?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{bound}");
    // Local commands that find the data directory locked say which server holds it.
    let _ = lock_file.set_len(0);
    let _ = writeln!(lock_file, "pid={}\nserver={url}", std::process::id());
    tracing::warn!("ucsync serves {url}/api/v1 (health: {url}/healthz)");
    eprintln!("listening on {url}");
    match acceptor {
        Some(acceptor) => {
            let listener = ucsync_server::tls::TlsListener::new(listener, acceptor)?;
            ucsync_server::serve(listener, state, shutdown_signal()).await?;
        }
        None => {
            let listener = ucsync_server::PlainListener(listener);
            ucsync_server::serve(listener, state, shutdown_signal()).await?
        }
    }
    let _ = lock_file.set_len(0);
    eprintln!("stopped");
    Ok(0)
}

/// A stop flag that SIGTERM or Ctrl-C raises, for a run of this process: as a server's runs do
/// when it shuts down, the run stops at its next batch boundary (the batch being written
/// commits, no further one starts) and ends `stopped`. A second signal ends the process at once,
/// as a kill does: the next run converges from what was committed.
pub(crate) fn stop_on_signal() -> ucsync_engine::Stop {
    let stop = ucsync_engine::Stop::new();
    let flag = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!(
            "stopping: the batch being written commits and no further one starts (the same signal again quits at once)"
        );
        flag.request();
        shutdown_signal().await;
        std::process::exit(130);
    });
    stop
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Asks `url`'s `/healthz` (http:// or https://, trusting `ca_cert` when given); 0 when it
/// answers 200.
pub async fn healthcheck(url: &str, ca_cert: Option<&Path>) -> Result<u8> {
    let url = url.trim_end_matches('/');
    let http = crate::remote::client(url, ca_cert)?;
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        http.get(format!("{url}/healthz")).send(),
    )
    .await
    .map_err(|_| anyhow!("{url}: no answer within 5 s"))?
    .with_context(|| format!("{url}: cannot connect; is `ucsync serve` running there?"))?;
    if resp.status() == reqwest::StatusCode::OK {
        println!("ok");
        Ok(0)
    } else {
        Err(anyhow!("{url}/healthz answered {}", resp.status()))
    }
}
