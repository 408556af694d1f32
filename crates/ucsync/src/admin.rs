//! `ucsync admin` and `ucsync audit`: administrators of the server, their API tokens, and the
//! audit of who changed what, on the local store (with the server stopped; the audit names
//! `local`) or through a server's API (`--server`; the audit names the token's administrator).
//!
//! The rules are the server's own ([`ucsync_server::auth`]): names, passwords of at least 8
//! characters, and always one administrator with the admin role left.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use reqwest::Method;
use serde_json::{Value, json};
use ucsync_server::{Role, auth};
use ucsync_store::{AdminStore, AuditRecord, AuditStore, NewAudit, Store};

use crate::remote::{Body, Remote, encode};
use crate::{Cli, LOCAL, Usage};

#[derive(clap::Subcommand)]
pub enum AdminCommand {
    /// Add an administrator (or change one's role and password). The password is read from
    /// UCSYNC_ADMIN_PASSWORD, else from the first line of standard input.
    Add {
        name: String,
        /// admin (everything), operator (runs, Sync Now, read), viewer (read) or peer (reads
        /// the peer feed of one enterprise: give --enterprise).
        #[arg(long, default_value = "admin")]
        role: String,
        /// With --role peer: the ID of the enterprise the peer reads.
        #[arg(long)]
        enterprise: Option<String>,
    },
    /// Create an API token for an administrator and print it (it is shown only this once).
    Token {
        name: String,
        #[arg(long, default_value = "cli")]
        label: String,
    },
    /// Register a peer server's client certificate (PEM file) for an administrator with the peer
    /// role: with `ucsync serve --tls-client-ca`, a connection that shows it reads that peer's
    /// feed without a token. It is listed and revoked with the tokens.
    Certificate { name: String, file: PathBuf },
    /// List administrators with their role and how many API tokens each has.
    List,
    /// Remove an administrator and their tokens (never the last one with the admin role).
    Remove { name: String },
    /// List an administrator's API tokens: id, label, when created (never the token).
    Tokens { name: String },
    /// Revoke an API token by its id (from `ucsync admin tokens NAME`).
    Revoke { id: i64 },
}

/// Records a change made by the command line without a server in the audit, as `local`.
pub async fn audit(
    store: &dyn Store,
    action: &str,
    object: &str,
    detail: Option<String>,
) -> Result<()> {
    store
        .add_audit(NewAudit {
            administrator: LOCAL.to_owned(),
            action: action.to_owned(),
            object: object.to_owned(),
            detail,
        })
        .await
        .with_context(|| format!("recording {action} of {object} in the audit"))
}

fn role_of(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| {
        anyhow!(Usage(format!(
            "unknown role \"{text}\"; use admin, operator, viewer or peer"
        )))
    })
}

/// The new password: UCSYNC_ADMIN_PASSWORD, else the first line of standard input; checked.
fn read_password() -> Result<String> {
    let password = match std::env::var("UCSYNC_ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    auth::check_password(&password).map_err(|m| anyhow!(Usage(m)))?;
    Ok(password)
}

/// `ucsync admin` on the local store.
pub async fn run(cli: &Cli, command: &AdminCommand) -> Result<u8> {
    let (_lock, store) = crate::open_held_store(&cli.data_dir).await?;
    let store = store.as_ref();
    match command {
        AdminCommand::Add {
            name,
            role,
            enterprise,
        } => {
            auth::check_name(name).map_err(|m| anyhow!(Usage(m)))?;
            let role = role_of(role)?;
            auth::check_binding(role, enterprise.as_deref()).map_err(|m| anyhow!(Usage(m)))?;
            let admins = store.admins().await?;
            auth::keeps_an_admin(&admins, name, Some(role)).map_err(|m| anyhow!(Usage(m)))?;
            let password = read_password()?;
            let hash = auth::hash_password(&password).map_err(|e| anyhow!(e))?;
            store
                .put_admin(name, role.as_str(), enterprise.as_deref(), &hash)
                .await?;
            let (action, detail) = match admins.iter().find(|a| a.name == *name) {
                None => ("admin-added", format!("role {}", role.as_str())),
                Some(before) => {
                    // A new password ends the sessions signed in with the old one.
                    let ended = store
                        .remove_labelled_tokens(before.id, auth::LOGIN_LABEL, None)
                        .await?;
                    let mut what = Vec::new();
                    if before.role != role.as_str() {
                        what.push(format!("role {} → {}", before.role, role.as_str()));
                    }
                    what.push("password changed".to_owned());
                    what.push(auth::sessions_ended(ended));
                    ("admin-changed", what.join("; "))
                }
            };
            audit(store, action, &format!("admin {name}"), Some(detail)).await?;
            print_admin(cli, name, role.as_str());
        }
        AdminCommand::Token { name, label } => {
            auth::check_label(label).map_err(|m| anyhow!(Usage(m)))?;
            let admin = store.admin(name).await?.ok_or_else(|| {
                anyhow!(Usage(format!(
                    "no administrator {name}; add one with `ucsync admin add {name}`"
                )))
            })?;
            let token = auth::new_token().map_err(|e| anyhow!(e))?;
            let id = store
                .add_token(admin.id, &auth::token_hash(&token), label)
                .await?;
            let detail = format!("for {name}, label {label}");
            audit(store, "token-created", &format!("token {id}"), Some(detail)).await?;
            print_token(
                cli,
                &json!({ "id": id, "admin": name, "label": label, "token": token }),
            );
        }
        AdminCommand::Certificate { name, file } => {
            let pem = read_certificate(file)?;
            let registered = auth::register_certificate(store, name, &pem)
                .await
                .map_err(|why| match why {
                    auth::NotRegistered::NoAdmin => anyhow!(Usage(format!(
                        "no administrator {name}; add one with `ucsync admin add {name} --role peer --enterprise ID`"
                    ))),
                    auth::NotRegistered::Refused(m) => {
                        anyhow!(Usage(format!("{}: {m}", file.display())))
                    }
                    auth::NotRegistered::Registered(m) => anyhow!(Usage(m)),
                    auth::NotRegistered::Store(e) => anyhow!(e),
                })?;
            let auth::RegisteredCertificate { id, label, sha256 } = registered;
            let detail = format!("for {name}, SHA-256 {sha256}");
            audit(
                store,
                "certificate-registered",
                &format!("token {id}"),
                Some(detail),
            )
            .await?;
            print_certificate(
                cli,
                &json!({ "id": id, "admin": name, "label": label, "sha256": sha256 }),
            );
        }
        AdminCommand::List => {
            let tokens = store.tokens(None).await?;
            let list: Vec<Value> = store
                .admins()
                .await?
                .iter()
                .map(|a| auth::admin_json(a, &tokens))
                .collect();
            print_admins(cli, &json!({ "admins": list }));
        }
        AdminCommand::Remove { name } => {
            let admins = store.admins().await?;
            auth::keeps_an_admin(&admins, name, None).map_err(|m| anyhow!(Usage(m)))?;
            if !store.remove_admin(name).await? {
                return Err(anyhow!(Usage(format!(
                    "no administrator {name}; `ucsync admin list` lists them"
                ))));
            }
            audit(store, "admin-removed", &format!("admin {name}"), None).await?;
            println!("removed {name}");
        }
        AdminCommand::Tokens { name } => {
            let admin = store.admin(name).await?.ok_or_else(|| {
                anyhow!(Usage(format!(
                    "no administrator {name}; `ucsync admin list` lists them"
                )))
            })?;
            let list: Vec<Value> = store
                .tokens(Some(admin.id))
                .await?
                .iter()
                .map(auth::token_json)
                .collect();
            print_tokens(cli, &json!({ "name": name, "tokens": list }));
        }
        AdminCommand::Revoke { id } => {
            let token = store.remove_token(*id).await?.ok_or_else(|| {
                anyhow!(Usage(format!(
                    "no API token {id}; `ucsync admin tokens NAME` lists an administrator's tokens"
                )))
            })?;
            let detail = format!("of {}, label {}", token.admin, token.label);
            audit(store, "token-revoked", &format!("token {id}"), Some(detail)).await?;
            print_revoked(cli, &json!({ "revoked": auth::token_json(&token) }));
        }
    }
    Ok(0)
}

/// `ucsync admin` through a server's API.
pub async fn run_remote(cli: &Cli, remote: &Remote, command: &AdminCommand) -> Result<u8> {
    match command {
        AdminCommand::Add {
            name,
            role,
            enterprise,
        } => {
            let role = role_of(role)?;
            auth::check_binding(role, enterprise.as_deref()).map_err(|m| anyhow!(Usage(m)))?;
            let password = read_password()?;
            let answer = remote
                .call(
                    Method::PUT,
                    &format!("/api/v1/admins/{}", encode(name)),
                    Some(Body::Json(
                        json!({ "role": role.as_str(), "password": password, "enterprise": enterprise }),
                    )),
                )
                .await?;
            print_admin(cli, name, answer["role"].as_str().unwrap_or(role.as_str()));
        }
        AdminCommand::Token { name, label } => {
            let answer = remote
                .call(
                    Method::POST,
                    &format!("/api/v1/admins/{}/tokens", encode(name)),
                    Some(Body::Json(json!({ "label": label }))),
                )
                .await?;
            print_token(cli, &answer);
        }
        AdminCommand::Certificate { name, file } => {
            let pem = String::from_utf8_lossy(&read_certificate(file)?).into_owned();
            let answer = remote
                .call(
                    Method::POST,
                    &format!("/api/v1/admins/{}/certificates", encode(name)),
                    Some(Body::Json(json!({ "certificate": pem }))),
                )
                .await?;
            print_certificate(cli, &answer);
        }
        AdminCommand::List => print_admins(cli, &remote.get("/api/v1/admins").await?),
        AdminCommand::Remove { name } => {
            remote
                .call(
                    Method::DELETE,
                    &format!("/api/v1/admins/{}", encode(name)),
                    None,
                )
                .await?;
            println!("removed {name}");
        }
        AdminCommand::Tokens { name } => {
            let answer = remote
                .get(&format!("/api/v1/admins/{}/tokens", encode(name)))
                .await?;
            print_tokens(cli, &answer);
        }
        AdminCommand::Revoke { id } => {
            let answer = remote
                .call(Method::DELETE, &format!("/api/v1/tokens/{id}"), None)
                .await?;
            print_revoked(cli, &answer);
        }
    }
    Ok(0)
}

/// The PEM file `file`, which should hold a peer's client certificate.
fn read_certificate(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| {
        anyhow!(Usage(format!(
            "cannot read {}: {e}; give the peer's client certificate as a PEM file",
            file.display()
        )))
    })
}

fn print_certificate(cli: &Cli, answer: &Value) {
    if cli.json {
        println!("{answer}");
    } else {
        println!(
            "registered the client certificate with SHA-256 {} for {} (token {}: `ucsync admin revoke {}` withdraws it)",
            answer["sha256"].as_str().unwrap_or_default(),
            answer["admin"].as_str().unwrap_or_default(),
            answer["id"],
            answer["id"]
        );
    }
}

fn print_admin(cli: &Cli, name: &str, role: &str) {
    if cli.json {
        println!("{}", json!({ "name": name, "role": role }));
    } else {
        println!("administrator {name} ({role})");
    }
}

/// A new token: the token alone (for scripts), or the whole answer as JSON.
fn print_token(cli: &Cli, answer: &Value) {
    if cli.json {
        println!("{answer}");
    } else {
        println!("{}", answer["token"].as_str().unwrap_or_default());
    }
}

fn print_admins(cli: &Cli, answer: &Value) {
    if cli.json {
        return println!("{answer}");
    }
    for a in answer["admins"].as_array().into_iter().flatten() {
        println!(
            "{}\t{}\t{}\t{} token(s)",
            a["name"].as_str().unwrap_or_default(),
            a["role"].as_str().unwrap_or_default(),
            a["created_at"].as_str().unwrap_or_default(),
            a["token_count"]
        );
    }
}

fn print_tokens(cli: &Cli, answer: &Value) {
    if cli.json {
        return println!("{answer}");
    }
    let list = answer["tokens"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!(
            "{} has no API token",
            answer["name"].as_str().unwrap_or_default()
        );
    }
    for t in list {
        println!(
            "{}\t{}\t{}",
            t["id"],
            t["label"].as_str().unwrap_or_default(),
            t["created_at"].as_str().unwrap_or_default()
        );
    }
}

fn print_revoked(cli: &Cli, answer: &Value) {
    if cli.json {
        return println!("{answer}");
    }
    let t = &answer["revoked"];
    println!(
        "revoked token {} of {} ({})",
        t["id"],
        t["admin"].as_str().unwrap_or_default(),
        t["label"].as_str().unwrap_or_default()
    );
}

/// `ucsync audit`: the latest lines of the audit, newest first, from the local store or the
/// server.
pub async fn show_audit(cli: &Cli, remote: Option<&Remote>, limit: i64) -> Result<u8> {
    let lines: Vec<AuditRecord> = match remote {
        Some(remote) => {
            let answer = remote.get(&format!("/api/v1/audit?limit={limit}")).await?;
            serde_json::from_value(answer["audit"].clone())
                .with_context(|| format!("the server's audit: {answer}"))?
        }
        None => {
            let store = crate::open_store(&cli.data_dir).await?;
            store.audit(limit.clamp(1, 100_000)).await?
        }
    };
    if cli.json {
        println!("{}", json!({ "audit": lines }));
        return Ok(0);
    }
    if lines.is_empty() {
        println!("the audit is empty");
    }
    for l in &lines {
        let detail = l
            .detail
            .as_deref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default();
        println!(
            "{:<27} {:<12} {:<17} {}{detail}",
            l.at, l.administrator, l.action, l.object
        );
    }
    Ok(0)
}
