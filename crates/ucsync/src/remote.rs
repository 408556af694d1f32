//! The CLI against a running server (`--server URL --token T`): runs, Sync Now, run status,
//! the directory, the configuration, administrators and the audit go through the server's API instead of the local store,
//! which the server holds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ucsync_store::{ObjectOutcome, RunRecord};

use crate::configuration::ConfigCommand;
use crate::directory::DirectoryCommand;
use crate::{Cli, Command, EXIT_FAILED, EXIT_PARTIAL, RunsCommand, Usage};

/// A server and the token to call it with.
pub struct Remote {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Remote {
    pub fn new(url: &str, token: Option<&str>, ca_cert: Option<&Path>) -> Result<Remote> {
        let token = token.ok_or_else(|| {
            anyhow!(Usage(
                "--server needs --token (or UCSYNC_TOKEN): an API token from `ucsync admin token NAME` or POST /api/v1/login".into()
            ))
        })?;
        Ok(Remote {
            http: client(url, ca_cert)?,
            base: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    /// Calls the API; a non-2xx answer becomes an error carrying the server's message.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        req = match body {
            Some(Body::Json(v)) => req.json(&v),
            Some(Body::Text(t)) => req.body(t),
            None => req,
        };
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}: is `ucsync serve` running there?"))?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        let message = answer["error"].as_str().unwrap_or("no message").to_owned();
        let mut text = format!("the server answered {status}: {message}");
        if let Some(problems) = answer["problems"].as_array() {
            for p in problems {
                text.push_str(&format!(
                    "\n  {}: {}",
                    p["path"].as_str().unwrap_or(""),
                    p["message"].as_str().unwrap_or("")
                ));
            }
        }
        if let Some(id) = answer["run_id"].as_i64() {
            text.push_str(&format!(" (run {id}; `ucsync runs show {id}` follows it)"));
        }
        Err(match status {
            StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::UNPROCESSABLE_ENTITY
            | StatusCode::NOT_FOUND
            | StatusCode::CONFLICT => anyhow!(Usage(text)),
            _ => anyhow!(text),
        })
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    /// Waits for run `id` to end; the run with its steps.
    async fn wait(&self, id: i64) -> Result<Value> {
        loop {
            let run = self.get(&format!("/api/v1/runs/{id}")).await?;
            if run["status"] != "running" {
                return Ok(run);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// An HTTP client for `url` that follows no redirect and trusts `ca_cert` when given.
pub fn client(url: &str, ca_cert: Option<&Path>) -> Result<reqwest::Client> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(anyhow!(Usage(format!(
            "{url}: give an http:// or https:// URL"
        ))));
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = ca_cert {
        builder = builder.tls_backend_preconfigured(tls_config(path)?);
    }
    builder.build().context("building the HTTP client")
}

pub(crate) enum Body {
    Json(Value),
    Text(String),
}

fn tls_config(ca_cert: &Path) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_cert)
        .with_context(|| format!("reading the CA certificate {}", ca_cert.display()))?
    {
        let cert = cert.with_context(|| format!("reading {}", ca_cert.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{} holds a certificate rustls refuses", ca_cert.display()))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Runs `cli`'s command against the server.
pub async fn dispatch(cli: &Cli, remote: &Remote) -> Result<u8> {
    match &cli.command {
        Command::SyncNow { enterprise, run } => {
            let answer = remote
                .call(
                    Method::POST,
                    &format!(
                        "/api/v1/enterprises/{enterprise}/sync-now{}",
                        run_query(run)
                    ),
                    None,
                )
                .await?;
            finish(cli, remote, answer).await
        }
        Command::Run {
            connector,
            profile,
            run,
        } => {
            let answer = remote
                .call(
                    Method::POST,
                    &format!("/api/v1/connectors/{connector}/runs{}", run_query(run)),
                    Some(Body::Json(json!({ "profile": profile }))),
                )
                .await?;
            finish(cli, remote, answer).await
        }
        Command::Runs { show, limit } => {
            match show {
                None => {
                    let list = remote.get(&format!("/api/v1/runs?limit={limit}")).await?;
                    let runs: Vec<RunRecord> = serde_json::from_value(list["runs"].clone())?;
                    crate::report::print_runs(&runs, cli.json);
                }
                Some(RunsCommand::Show { id }) => print_run(cli, remote, *id).await?,
            }
            Ok(0)
        }
        Command::Directory { command } => {
            let answer = match command {
                DirectoryCommand::Search {
                    text,
                    enterprise,
                    object_type,
                    attrs,
                    folder,
                    limit,
                } => {
                    if !attrs.is_empty() {
                        return Err(anyhow!(Usage(
                            "--attr is not offered by the server's search; search by text and --type".into()
                        )));
                    }
                    let mut query = vec![
                        format!("enterprise={}", encode(enterprise)),
                        format!("limit={limit}"),
                    ];
                    if let Some(t) = text {
                        query.push(format!("q={}", encode(t)));
                    }
                    if let Some(t) = object_type {
                        query.push(format!("type={}", encode(t)));
                    }
                    if let Some(f) = folder {
                        query.push(format!("folder={}", encode(f)));
                    }
                    remote
                        .get(&format!("/api/v1/directory?{}", query.join("&")))
                        .await?
                }
                DirectoryCommand::Show { id } => {
                    remote.get(&format!("/api/v1/directory/{id}")).await?
                }
                DirectoryCommand::Folders { enterprise } => {
                    let answer = remote
                        .get(&format!(
                            "/api/v1/directory/folders?enterprise={}",
                            encode(enterprise)
                        ))
                        .await?;
                    crate::directory::print_folders(&answer, cli.json);
                    return Ok(0);
                }
            };
            print_value(&answer, cli.json);
            Ok(0)
        }
        Command::Config { command } => match command {
            ConfigCommand::Export { output } => {
                let answer = remote.get("/api/v1/config").await?;
                for note in answer["notes"].as_array().into_iter().flatten() {
                    eprintln!("note: {}", note.as_str().unwrap_or_default());
                }
                let text = answer["toml"].as_str().unwrap_or_default();
                crate::configuration::write_export(output.as_deref(), text)?;
                Ok(0)
            }
            ConfigCommand::Apply { file } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let answer = remote
                    .call(Method::PUT, "/api/v1/config", Some(Body::Text(text)))
                    .await?;
                if cli.json {
                    println!("{answer}");
                } else {
                    let changes: Vec<String> =
                        serde_json::from_value(answer["changes"].clone()).unwrap_or_default();
                    println!(
                        "{}",
                        crate::configuration::changes_text(file, &changes, "the server")
                    );
                }
                Ok(0)
            }
        },
        Command::Enterprises => crate::enterprises::run_remote(cli, remote).await,
        Command::Account { command } => crate::account::run_remote(cli, remote, command).await,
        Command::Connector { command } => crate::connector::run_remote(cli, remote, command).await,
        Command::Admin { command } => crate::admin::run_remote(cli, remote, command).await,
        Command::Audit { limit } => crate::admin::show_audit(cli, Some(remote), *limit).await,
        Command::Healthcheck { url } => {
            crate::serve::healthcheck(url, cli.ca_cert.as_deref()).await
        }
        _ => Err(anyhow!(Usage(
            "this command works on the local data directory only; leave out --server".into()
        ))),
    }
}

/// `--preview` and `--allow-deletes` as the run endpoints take them.
fn run_query(run: &crate::RunFlags) -> String {
    let mut query = Vec::new();
    if run.preview {
        query.push("preview=true".to_owned());
    }
    if let Some(n) = run.allow_deletes {
        query.push(format!("allow_deletes={n}"));
    }
    if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    }
}

/// Follows a started run to its end (or takes a preview's report), prints it, and gives the
/// exit code its status means.
async fn finish(cli: &Cli, remote: &Remote, started: Value) -> Result<u8> {
    if started["preview"] == true {
        let report: ucsync_engine::RunReport = serde_json::from_value(started["report"].clone())
            .with_context(|| format!("the server's preview report: {started}"))?;
        crate::report::print_report(&report, cli.json);
        return Ok(crate::exit_code(report.status));
    }
    let id = started["run_id"]
        .as_i64()
        .ok_or_else(|| anyhow!("the server started a run but sent no run id: {started}"))?;
    if !cli.json {
        eprintln!("run {id} started on the server; waiting for it to end");
    }
    let run = remote.wait(id).await?;
    print_run(cli, remote, id).await?;
    Ok(match run["status"].as_str().unwrap_or("") {
        "success" => 0,
        "completed-with-errors" | "stopped-deletion-threshold" | "stopped" => EXIT_PARTIAL,
        _ => EXIT_FAILED,
    })
}

async fn print_run(cli: &Cli, remote: &Remote, id: i64) -> Result<()> {
    let run = remote.get(&format!("/api/v1/runs/{id}")).await?;
    let outcomes = remote.get(&format!("/api/v1/runs/{id}/outcomes")).await?;
    let steps: Vec<RunRecord> = serde_json::from_value(run["steps"].clone())?;
    let record: RunRecord = serde_json::from_value(run)?;
    let outcomes: Vec<ObjectOutcome> = serde_json::from_value(outcomes["outcomes"].clone())?;
    crate::report::print_run(&record, &steps, &outcomes, cli.json);
    Ok(())
}

fn print_value(v: &Value, as_json: bool) {
    if as_json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
