//! `ucsync account number|status`: an account's own data — numbers added by hand and dynamic
//! statuses with their "make call from" number — set and cleared locally or through a server.

use anyhow::{Result, anyhow};
use clap::Subcommand;
use reqwest::Method;
use serde_json::json;
use ucsync_engine::account::{AccountEdit, AccountError, edit_account};
use ucsync_model::account::AccountData;

use crate::remote::{Body, Remote};
use crate::{Cli, Usage};

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Numbers added to an account by hand (they belong to no connector).
    Number {
        #[command(subcommand)]
        command: NumberCommand,
    },
    /// Dynamic statuses and the number each makes calls from.
    Status {
        #[command(subcommand)]
        command: StatusCommand,
    },
}

#[derive(Subcommand)]
pub enum NumberCommand {
    /// Add a number to the account (entry id from `ucsync directory search`).
    Add { entry: i64, number: String },
    /// Remove a number added by hand.
    Remove { entry: i64, number: String },
}

#[derive(Subcommand)]
pub enum StatusCommand {
    /// Add a dynamic status, or change the number it makes calls from.
    Set {
        entry: i64,
        name: String,
        #[arg(long, value_name = "NUMBER")]
        make_call_from: String,
    },
    /// Remove a dynamic status.
    Clear { entry: i64, name: String },
}

impl AccountCommand {
    fn entry(&self) -> i64 {
        match self {
            AccountCommand::Number { command } => match command {
                NumberCommand::Add { entry, .. } | NumberCommand::Remove { entry, .. } => *entry,
            },
            AccountCommand::Status { command } => match command {
                StatusCommand::Set { entry, .. } | StatusCommand::Clear { entry, .. } => *entry,
            },
        }
    }

    fn edit(&self) -> AccountEdit {
        match self {
            AccountCommand::Number { command } => match command {
                NumberCommand::Add { number, .. } => AccountEdit::AddNumber(number.clone()),
                NumberCommand::Remove { number, .. } => AccountEdit::RemoveNumber(number.clone()),
            },
            AccountCommand::Status { command } => match command {
                StatusCommand::Set {
                    name,
                    make_call_from,
                    ..
                } => AccountEdit::SetStatus {
                    name: name.clone(),
                    make_call_from: make_call_from.clone(),
                },
                StatusCommand::Clear { name, .. } => AccountEdit::ClearStatus(name.clone()),
            },
        }
    }
}

/// The API method, path and body of an edit.
fn api_call(entry: i64, edit: &AccountEdit) -> (Method, String, Option<serde_json::Value>) {
    let enc = |s: &str| crate::remote::encode(s);
    match edit {
        AccountEdit::AddNumber(n) => (
            Method::PUT,
            format!("/api/v1/directory/{entry}/numbers/{}", enc(n)),
            None,
        ),
        AccountEdit::RemoveNumber(n) => (
            Method::DELETE,
            format!("/api/v1/directory/{entry}/numbers/{}", enc(n)),
            None,
        ),
        AccountEdit::SetStatus {
            name,
            make_call_from,
        } => (
            Method::PUT,
            format!("/api/v1/directory/{entry}/statuses/{}", enc(name)),
            Some(json!({ "make_call_from": make_call_from })),
        ),
        AccountEdit::ClearStatus(name) => (
            Method::DELETE,
            format!("/api/v1/directory/{entry}/statuses/{}", enc(name)),
            None,
        ),
    }
}

pub async fn run(cli: &Cli, command: &AccountCommand) -> Result<u8> {
    let entry = command.entry();
    let (_lock, store) = crate::open_held_store(&cli.data_dir).await?;
    match edit_account(
        store.as_ref(),
        &ucsync_connectors::Connectors,
        entry,
        command.edit(),
    )
    .await
    {
        Ok(e) => {
            print(cli, &AccountData::of(entry, &e.attrs))?;
            Ok(0)
        }
        Err(e @ (AccountError::NoEntry(_) | AccountError::Refused(_))) => {
            Err(anyhow!(Usage(e.to_string())))
        }
        Err(AccountError::Engine(e)) => Err(e.into()),
    }
}

pub async fn run_remote(cli: &Cli, remote: &Remote, command: &AccountCommand) -> Result<u8> {
    let (method, path, body) = api_call(command.entry(), &command.edit());
    let answer = remote.call(method, &path, body.map(Body::Json)).await?;
    print(cli, &serde_json::from_value(answer)?)?;
    Ok(0)
}

fn print(cli: &Cli, data: &AccountData) -> Result<()> {
    if cli.json {
        println!("{}", serde_json::to_string(data)?);
    } else {
        println!("{}", data.summary());
        println!(
            "the next sync applies it (a number the PBX no longer lists goes once nothing refers to it)"
        );
    }
    Ok(())
}
